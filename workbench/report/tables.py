"""Rendering results: pure functions of (meta, results) -> text. Tables use tabulate."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import asdict, fields

from tabulate import tabulate, tabulate_formats

from workbench.deploy.table import export_table
from workbench.report.statistics import ConfigStats, Spread, summarize
from workbench.run.meta import RunMeta
from workbench.run.result import RunResult, config_key, finite_or_null

EXTRA_FORMATS = ("csv", "json")
FORMATS = tuple(tabulate_formats) + EXTRA_FORMATS

MAIN_COLUMNS = (
    ("framework", "framework"),
    ("model", "model"),
    ("device", "device"),
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
    ("peak_gpu_mb", "peak GPU MB"),
)


def _cell(key: str, value: object) -> object:
    """Human formatting of one value; missing values show as '-'."""
    if value is None:
        return "-"
    if key == "test_acc":
        return f"{100 * value:.2f}"
    if key in ("train_loss", "test_loss"):
        return f"{value:.4f}"
    if key in ("throughput", "infer_throughput", "peak_rss_mb", "peak_gpu_mb"):
        return f"{value:,.0f}"
    if key in ("train_gflops", "peak_pct"):
        return f"{value:.1f}"
    if key.endswith("_s") or key.startswith("latency"):
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if key == "params":
        return f"{value:,}"
    if key == "config":
        return config_title(value) or "-"
    if key == "device":
        return value or "-"
    return value


MODE_COLUMNS = (("compile_s", "compile s"), ("compilations", "compiles"))  # after the steady epoch, where rows name modes
BREAK_EVEN = ("break_even", "break-even steps")  # the text table's: computed here from a compiled row and its eager row


def timings_columns(results: list[RunResult]) -> tuple[tuple[str, str], ...]:
    """The timings table's columns: the mode, compile time and compilations where rows name their mode, the node where
    rows ran on several, and whether the machine was quiet or busy."""
    nodes = {r.node for r in results if r.node}
    modes = any(r.mode for r in results)
    columns = TIMING_COLUMNS[:2] + ((("mode", "mode"),) if modes else ()) + TIMING_COLUMNS[2:7] + \
        (MODE_COLUMNS if modes else ()) + TIMING_COLUMNS[7:]  # fmt: skip
    return columns + ((("node", "node"),) if len(nodes) > 1 else ()) + \
        ((("timing", "timing"),) if any(r.timing for r in results) else ())


def eager_partner(row: RunResult, results: list[RunResult]) -> RunResult | None:
    """The eager row of a compiled row's engine, model, seed, sweep values, dtype and precision (ok), or None."""
    same = lambda r: (r.framework, r.model_id, r.seed, config_key(r.config), r.dtype, r.precision)  # noqa: E731
    return next((r for r in results if r.mode == "eager" and r.status == "ok" and same(r) == same(row)), None)


def break_even_steps(compiled: RunResult, eager: RunResult) -> int | None:
    """Training steps after which the compiled row's total time (its warm-up, then its steady speed) beats the eager
    row's; 0 when it never trails, None when it never catches up (or a figure is missing)."""
    figures = (compiled.compile_s, eager.compile_s, compiled.throughput, eager.throughput, compiled.batch_size)
    if compiled.status != "ok" or any(f is None for f in figures) or not compiled.throughput or not eager.throughput:
        return None
    extra_s = compiled.compile_s - eager.compile_s  # the compiled row's extra warm-up
    saved_per_sample = 1 / eager.throughput - 1 / compiled.throughput
    if extra_s <= 0:
        return 0 if saved_per_sample >= 0 else None
    return math.ceil(extra_s / saved_per_sample / compiled.batch_size) if saved_per_sample > 0 else None


def _break_even(results: list[RunResult]) -> dict[int, object]:
    """The break-even cell of every compiled row with an eager partner, by id(row)."""
    cells = {}
    for row in results:
        partner = eager_partner(row, results) if row.mode == "compiled" else None
        if partner is not None:
            cells[id(row)] = _cell("params", break_even_steps(row, partner))  # a count: thousands separated
    return cells


def _rows(results: list[RunResult], columns: tuple[tuple[str, str], ...]) -> list[list[object]]:
    even = _break_even(results) if BREAK_EVEN in columns else {}
    return [[even.get(id(r), "-") if key == BREAK_EVEN[0] else _cell(key, getattr(r, key)) for key, _ in columns]
            for r in results]  # fmt: skip


PRECISION_WORDS = {
    "fp32": "fp32 (float32; TF32 off in every framework)",
    "tf32": "tf32 (float32 matmuls and convolutions on TensorFloat-32 units, CUDA only)",
    "bf16": "bf16 (mixed precision: float32 weights, bfloat16 compute)",
    "fp16": "fp16 (mixed precision: float32 weights, float16 compute, loss scaling)",
}
GPU_TIMING = ("timings on a GPU are read after the device has finished: every epoch ends by fetching its loss, "
              "every prediction by copying the logits to the host")  # fmt: skip


def as_meta(meta: RunMeta | dict) -> RunMeta:
    """A run's header facts, typed (a dict is a saved "meta", possibly from an older version)."""
    return meta if isinstance(meta, RunMeta) else RunMeta.from_dict(meta)


def determinism_line(meta: RunMeta, ran: list[RunResult]) -> str:
    """What each framework's adapter set for determinism on its rows' device (files from before: the saved line)."""
    settings = {}
    for r in ran:
        if r.determinism:
            settings.setdefault(r.determinism, []).append(r.framework)
    if not settings:
        return meta.determinism
    return "; ".join(f"{text} ({', '.join(dict.fromkeys(names))})" for text, names in settings.items())


def header_lines(meta: RunMeta | dict, results: list[RunResult]) -> list[str]:
    """Task, device, threads, seed, dtype, optimizer and loss, dataset, versions and data warnings."""
    meta = as_meta(meta)
    ran = [r for r in results if r.version]
    devices = sorted({r.device for r in ran}) or [meta.device]
    nodes = sorted({r.node for r in results if r.node})
    lines = [
        f"framebench | task: {meta.task} | {meta.title}",
        f"device: {', '.join(devices)} | threads: {meta.threads} | seed: {meta.seed}"
        f" | dtype: {meta.dtype}" + (f" | node: {nodes[0]}" if len(nodes) == 1 else ""),
    ]
    if meta.device_note:  # how --device auto resolved, and which frameworks run on the CPU only
        lines.append(f"device choice: {meta.device_note}")
    if meta.precision:  # runs saved before --precision existed have none
        lines.append(f"precision: {PRECISION_WORDS.get(meta.precision, meta.precision)}")
    if meta.optimizer:  # runs saved before --optimizer existed have none
        lines.append(f"optimizer: {meta.optimizer} | loss: {meta.loss}")
    if meta.augment:  # --augment: what every network row trained on
        lines.append(f"augment: {meta.augment}")
    lines += [f"spec: {line}" for line in meta.spec_lines]  # --spec: the resolved spec file, defaults included
    datasets = sorted({r.dataset for r in ran if r.dataset})
    lines += [f"dataset: {d}" for d in datasets]
    versions = {}
    for r in ran:
        versions.setdefault(r.framework, r.version)
    if versions:
        lines.append("versions: " + " | ".join(f"{k} {v}" for k, v in versions.items()))
    if any(r.device.startswith("cuda") for r in ran):
        lines.append(GPU_TIMING)
    determinism = determinism_line(meta, ran)
    if determinism:
        lines.append(f"determinism: {determinism}")
    warnings = sorted({w for r in ran for w in r.data_warnings})
    lines += [f"WARNING: {w}" for w in warnings]
    return lines


def notes(results: list[RunResult]) -> list[str]:
    """One line per row that is not ok, saying why, and one for the rows timed on a busy machine (timing noisy)."""
    lines = [f"{r.framework} / {r.model}: {r.status}: {r.message}" for r in results if r.status != "ok" or r.message]
    return lines + ([noisy_note(results)] if noisy_note(results) else [])


def noisy_note(results: list[RunResult]) -> str:
    """One line for the rows timed on a busy machine (their timing column says noisy), or ""."""
    noisy = [r for r in results if r.timing == "noisy"]
    if not noisy:
        return ""
    cores = sorted(r.other_cores for r in noisy if r.other_cores is not None)
    used = f"{cores[0]:.2f}" + (f"-{cores[-1]:.2f}" if cores[-1] != cores[0] else "") if cores else "some"
    return (f"timing noisy: {len(noisy)} of {len(results)} rows were timed while other processes used {used} cores "
            f"(timing column): their speed figures are not comparable")  # fmt: skip


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


def _mean_ci(s: Spread, fmt: str) -> str:
    """'mean ± std [low, high]' (the 95% interval), or just the mean for one seed."""
    if s.mean is None:
        return "-"
    if s.std is None:
        return f"{s.mean:{fmt}} (n=1)"
    return f"{s.mean:{fmt}} ± {s.std:{fmt}} [{s.ci_low:{fmt}}, {s.ci_high:{fmt}}]"


def config_title(config: dict) -> str:
    """'lr=0.003, batch_size=64', or '' for a run without --sweep."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())


def repeats_table(results: list[RunResult], fmt: str, block: ConfigStats | None = None) -> str:
    """One row per (framework, model, mode) over its seeds: mean ± std [95% CI] of accuracy and throughput, time
    spread; a mode column where the rows ran in several modes."""
    block = block or summarize(results)[0]
    runs: dict[tuple[str, str, str], list[RunResult]] = {}
    for r in results:
        if config_key(r.config) == config_key(block.config):
            runs.setdefault((r.framework, r.model, r.mode), []).append(r)
    modes = len({row.mode for row in block.rows}) > 1
    rows = []
    for row in block.rows:
        ok = [r for r in runs[(row.framework, row.model, row.mode)] if r.status == "ok"]
        rows.append([
            row.framework, row.model, *([row.mode or "-"] if modes else []), f"{len(ok)}/{row.runs}",
            ", ".join(str(s) for s in row.seeds) or "-",
            _mean_ci(row.metrics["test_acc"], ".2f"), _mean_ci(row.metrics["throughput"], ",.0f"),
            _spread([r.train_s for r in ok if r.train_s], ".3g"),
            _spread([r.throughput for r in ok if r.throughput], ",.0f"),
        ])  # fmt: skip
    headers = ["framework", "model", *(["mode"] if modes else []), "ok runs", "seeds", "test acc % mean ± std [95% CI]",
               "samples/s mean ± std [95% CI]", "train s median (min-max)", "samples/s median (min-max)"]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def pairs_table(block: ConfigStats, fmt: str) -> str:
    """Every pair of rows of one configuration: difference, Welch p-value, P(A > B) over paired seeds, verdict."""
    if not block.pairs:
        return ""
    rows = []
    for pair in block.pairs:
        unit = ".2f" if pair.metric == "test_acc" else ",.0f"
        rows.append([
            pair.a, pair.b, "test acc %" if pair.metric == "test_acc" else "samples/s",
            "-" if pair.diff is None else f"{pair.diff:+{unit}}",
            "-" if pair.p_value is None else f"{pair.p_value:.2g}",
            "-" if pair.p_a_beats_b is None else f"{pair.p_a_beats_b:.2f} ({pair.n_paired} seeds)", pair.verdict,
        ])  # fmt: skip
    headers = ["A", "B", "metric", "A - B", "Welch p", "P(A > B)", "verdict"]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def summary_blocks(results: list[RunResult], fmt: str) -> list[str]:
    """The --repeats / --sweep summary: per configuration, the rows over seeds and the framework pairs."""
    blocks = summarize(results)
    if len(blocks) < 2 and all(row.runs < 2 for b in blocks for row in b.rows):
        return []
    parts = []
    for block in blocks:
        title = config_title(block.config)
        parts += [f"Summary over seeds{': ' + title if title else ''}", repeats_table(results, fmt, block)]
        if all(row.metrics["test_acc"].n < 2 for row in block.rows):
            parts.append("n=1 per row: no statistics are possible (run --repeats 2 or more)")
        elif block.pairs:
            parts += [PAIRS_TITLE, pairs_table(block, fmt)]
    return parts


EXPORT_TITLE = ("Exports (--export): each artifact read back in a fresh process with its framework's own loader; "
                "logits on the first 1,000 test samples vs the in-memory model's")  # fmt: skip
PAIRS_TITLE = ("Pairs (A - B: difference of the means; Welch's t-test, two-sided; "
               "P(A > B): share of the seeds both ran where A was higher, ties count half)")  # fmt: skip


def summary_data(results: list[RunResult]) -> list[dict]:
    """The summary as JSON-ready data (None, never NaN, where a figure cannot be computed)."""
    return [asdict(block) for block in summarize(results)]


def render_json(meta: RunMeta | dict, results: list[RunResult]) -> str:
    """meta, every result and the summary over seeds, as strict JSON."""
    payload = {"meta": as_meta(meta).to_dict(), "results": [asdict(r) for r in results], "summary": summary_data(results)}
    return json.dumps(finite_or_null(payload), indent=2, allow_nan=False)


def render(meta: RunMeta | dict, results: list[RunResult], fmt: str = "simple") -> str:
    """The whole report for a terminal or file: header, results, timings, per-epoch accuracy, notes."""
    if fmt == "json":
        return render_json(meta, results)
    if fmt == "csv":
        return render_csv(results)
    table = lambda cols: tabulate(  # noqa: E731
        _rows(results, cols), headers=[h for _, h in cols], tablefmt=fmt, disable_numparse=True
    )
    parts = ["\n".join(header_lines(meta, results))]
    summary = summary_blocks(results, fmt)
    if summary:
        parts += [*summary, "Every run"]
    timing_columns = timings_columns(results) + ((BREAK_EVEN,) if _break_even(results) else ())
    main_columns = MAIN_COLUMNS[:2] + ((("config", "config"),) if any(r.config for r in results) else ()) + \
        ((("mode", "mode"),) if any(r.mode for r in results) else ()) + MAIN_COLUMNS[2:]  # fmt: skip
    parts += [table(main_columns), "Timings", table(timing_columns)]
    epochs = epoch_table(results, fmt)
    if epochs:
        parts += ["Test accuracy (%) after each epoch", epochs]
    exports = export_table(results, fmt)
    if exports:
        parts += [EXPORT_TITLE, exports]
    if notes(results):
        parts.append("\n".join(notes(results)))
    return "\n\n".join(parts) + "\n"


def render_csv(results: list[RunResult]) -> str:
    """Every scalar field of every result, one row each (history left out)."""
    names = [f.name for f in fields(RunResult) if f.name not in ("history", "data_warnings", "exports")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for r in results:
        writer.writerow(["" if getattr(r, n) is None else getattr(r, n) for n in names])
    return out.getvalue()
