"""Rendering results: pure functions of (meta, results) -> text. Tables use tabulate."""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, fields

from tabulate import tabulate, tabulate_formats

from workbench.run.result import RunResult

EXTRA_FORMATS = ("csv", "json")
FORMATS = tuple(tabulate_formats) + EXTRA_FORMATS

MAIN_COLUMNS = (
    ("framework", "framework"),
    ("model", "model"),
    ("params", "params"),
    ("epochs", "epochs"),
    ("train_loss", "train loss"),
    ("test_loss", "test loss"),
    ("test_acc", "test acc %"),
    ("train_s", "train s"),
    ("throughput", "samples/s"),
    ("infer_s", "infer s"),
    ("peak_rss_mb", "peak MB"),
    ("status", "status"),
)
TIMING_COLUMNS = (
    ("framework", "framework"),
    ("model", "model"),
    ("import_s", "import s"),
    ("data_s", "data s"),
    ("build_s", "build s"),
    ("first_epoch_s", "1st epoch s"),
    ("steady_epoch_s", "epoch s (steady)"),
    ("latency_ms_p50", "latency ms p50"),
    ("latency_ms_p95", "p95"),
    ("infer_throughput", "infer samples/s"),
    ("time_to_target_s", "time to target s"),
    ("train_gflops", "train GFLOP/s"),
    ("peak_pct", "% of peak"),
)


def _cell(key: str, value: object) -> object:
    """Human formatting of one value; missing values show as '-'."""
    if value is None:
        return "-"
    if key == "test_acc":
        return f"{100 * value:.2f}"
    if key in ("train_loss", "test_loss"):
        return f"{value:.4f}"
    if key in ("throughput", "infer_throughput", "peak_rss_mb"):
        return f"{value:,.0f}"
    if key in ("train_gflops", "peak_pct"):
        return f"{value:.1f}"
    if key.endswith("_s") or key.startswith("latency"):
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if key == "params":
        return f"{value:,}"
    return value


def _rows(results: list[RunResult], columns: tuple[tuple[str, str], ...]) -> list[list[object]]:
    return [[_cell(key, getattr(r, key)) for key, _ in columns] for r in results]


def header_lines(meta: dict, results: list[RunResult]) -> list[str]:
    """Task, device, threads, seed, dtype, dataset, versions and data warnings."""
    ran = [r for r in results if r.version]
    devices = sorted({r.device for r in ran}) or [meta.get("device", "?")]
    lines = [
        f"framebench | task: {meta.get('task', '?')} | {meta.get('title', '')}",
        f"device: {', '.join(devices)} | threads: {meta.get('threads', '?')} | seed: {meta.get('seed', '?')}"
        f" | dtype: {meta.get('dtype', '?')}",
    ]
    datasets = sorted({r.dataset for r in ran if r.dataset})
    lines += [f"dataset: {d}" for d in datasets]
    versions = {}
    for r in ran:
        versions.setdefault(r.framework, r.version)
    if versions:
        lines.append("versions: " + " | ".join(f"{k} {v}" for k, v in versions.items()))
    warnings = sorted({w for r in ran for w in r.data_warnings})
    lines += [f"WARNING: {w}" for w in warnings]
    return lines


def notes(results: list[RunResult]) -> list[str]:
    """One line per row that is not ok, saying why."""
    return [f"{r.framework} / {r.model}: {r.status}: {r.message}" for r in results if r.status != "ok" or r.message]


def epoch_table(results: list[RunResult], fmt: str) -> str:
    """Test accuracy (%) after every epoch, one row per framework: over-fitting is visible."""
    trained = [r for r in results if len(r.history) > 1]
    if not trained:
        return ""
    num_epochs = max(len(r.history) for r in trained)
    headers = ["framework", "model"] + [f"ep {e}" for e in range(1, num_epochs + 1)]
    rows = [[r.framework, r.model] + [f"{100 * h.test_acc:.2f}" for h in r.history] for r in trained]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _spread(values: list[float], fmt: str) -> str:
    """'median (min-max)' of a list of figures."""
    if not values:
        return "-"
    values = sorted(values)
    median = statistics.median(values)
    return f"{median:{fmt}} ({values[0]:{fmt}}-{values[-1]:{fmt}})" if len(values) > 1 else f"{median:{fmt}}"


def repeats_table(results: list[RunResult], fmt: str) -> str:
    """One row per (framework, model) over its seeds: accuracy mean +- std, times as median (min-max)."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.framework, r.model), []).append(r)
    if all(len(g) < 2 for g in groups.values()):
        return ""
    rows = []
    for (framework, model), runs in groups.items():
        ok = [r for r in runs if r.status == "ok" and r.test_acc is not None]
        accs = [100 * r.test_acc for r in ok]
        acc = f"{statistics.mean(accs):.2f} ± {statistics.stdev(accs) if len(accs) > 1 else 0.0:.2f}" if accs else "-"
        rows.append([
            framework, model, f"{len(ok)}/{len(runs)}", ", ".join(str(r.seed) for r in runs), acc,
            _spread([r.train_s for r in ok if r.train_s], ".3g"),
            _spread([r.throughput for r in ok if r.throughput], ",.0f"),
        ])  # fmt: skip
    headers = ["framework", "model", "ok runs", "seeds", "test acc % (mean ± std)", "train s median (min-max)", "samples/s median (min-max)"]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def render(meta: dict, results: list[RunResult], fmt: str = "simple") -> str:
    """The whole report for a terminal or file: header, results, timings, per-epoch accuracy, notes."""
    if fmt == "json":
        return json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2)
    if fmt == "csv":
        return render_csv(results)
    table = lambda cols: tabulate(  # noqa: E731
        _rows(results, cols), headers=[h for _, h in cols], tablefmt=fmt, disable_numparse=True
    )
    parts = ["\n".join(header_lines(meta, results))]
    summary = repeats_table(results, fmt)
    if summary:
        parts += ["Summary over seeds", summary, "Every run"]
    parts += [table(MAIN_COLUMNS), "Timings", table(TIMING_COLUMNS)]
    epochs = epoch_table(results, fmt)
    if epochs:
        parts += ["Test accuracy (%) after each epoch", epochs]
    if notes(results):
        parts.append("\n".join(notes(results)))
    return "\n\n".join(parts) + "\n"


def render_csv(results: list[RunResult]) -> str:
    """Every scalar field of every result, one row each (history left out)."""
    names = [f.name for f in fields(RunResult) if f.name not in ("history", "data_warnings")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for r in results:
        writer.writerow(["" if getattr(r, n) is None else getattr(r, n) for n in names])
    return out.getvalue()
