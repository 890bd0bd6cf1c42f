"""`compare.py --report DIR`: DIR/index.html, one self-contained page of a whole run that opens offline.

No script, style, font or image is fetched: the style sheet and the one small script are inlined
(workbench/report/html_assets.py), the figures are inline SVG drawn in Python (html_charts.py; the attention maps are
PNG data URIs, html_attention.py), the code is highlighted by Pygments into inline markup. Sections: the run header,
results (sortable), learning curves (hide or show an engine from the legend), the summary over seeds with the per-seed
spread, timings (sortable), the --check verdicts, the attention maps of a network with attention, and the engines'
code side by side with the defaults table.
Every string from a spec, a result or an error is escaped.
"""

from __future__ import annotations

import html
import math
import os
import platform
import shlex
from dataclasses import fields, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from tasks.optimizers import describe as describe_optimizer
from tasks.spec import TaskSpec
from tasks.spec_io import spec_to_json
from workbench.report.html_assets import CSS, JS
from workbench.report.html_attention import attention_html
from workbench.report.html_charts import Series, colour, line_chart, strip_chart
from workbench.report.html_code import code_css, code_html, defaults_html, generated_html, summary_html
from workbench.report.html_tables import (check_table, notes_list, pairs_table, results_table, row_label, summary_table,
                                          series_label, timings_table, worst_table)  # fmt: skip
from workbench.report.markdown import RESULTS_NAME  # beside the page: the rows it shows (--from DIR/results.json)
from workbench.report.statistics import mixed_modes, shown_mode, summarize
from workbench.report.tables import PRECISION_WORDS, config_title
from workbench.run.meta import RunMeta
from workbench.run.result import RunResult, atomic_write_text, save_results

PAGE_NAME = "index.html"
# (EpochRecord field or "samples_per_s", figure title, y label, scale, number format, log y axis allowed): samples/s is
# computed per epoch, and may be drawn on a log axis because the engines' speeds differ by orders of magnitude
CURVES = (
    ("train_loss", "Training loss (mean over each epoch)", "training loss", 1.0, ".4f", False),
    ("test_loss", "Test loss after each epoch", "test loss", 1.0, ".4f", False),
    ("test_acc", "Test accuracy after each epoch", "test accuracy (%)", 100.0, ".2f", False),
    ("samples_per_s", "Training speed in each epoch", "training samples/s", 1.0, ",.0f", True),
)
CHECK_TITLES = {
    "forward": "Forward: per-layer outputs, logits, probabilities",
    "gradient": "Gradients of every parameter",
    "finite_difference": "Reference gradients vs finite differences",
    "trajectory": "Trajectories: every weight after each step",
}


def _e(value: object) -> str:
    return html.escape(str(value))


def series_labels(results: list[RunResult]) -> dict[str, int]:
    """Every row label in first-seen order -> its colour index (the same in every figure and legend)."""
    mixed = mixed_modes(results)
    return {label: i for i, label in enumerate(dict.fromkeys(row_label(r, mixed) for r in results))}


def _epoch_value(r: RunResult, h, key: str) -> float:  # noqa: ANN001 - an EpochRecord
    if key == "samples_per_s":
        return r.train_samples / h.seconds if r.train_samples and h.seconds and h.seconds > 0 else math.nan
    value = getattr(h, key)
    return math.nan if value is None else float(value)


def curve_series(results: list[RunResult], key: str, scale: float, index: dict[str, int]) -> list[Series]:
    """One series per row label over its ok seeds: the mean per epoch and, with several seeds, the min-max band.
    A one-shot baseline (no history) is a flat line at its final value, on the two test figures."""
    groups: dict[str, list[RunResult]] = {}
    mixed = mixed_modes(results)
    for r in results:
        if r.status == "ok":
            groups.setdefault(row_label(r, mixed), []).append(r)
    out = []
    for label, runs in groups.items():
        if all(r.history for r in runs):
            length = min(len(r.history) for r in runs)
            per_epoch = [[scale * _epoch_value(r, r.history[e], key) for r in runs] for e in range(length)]
            mean = [sum(v) / len(v) for v in per_epoch]
            low, high = ([min(v) for v in per_epoch], [max(v) for v in per_epoch]) if len(runs) > 1 else ([], [])
            out.append(Series(label, index[label], [float(e + 1) for e in range(length)], mean, low, high))
        elif key in ("test_acc", "test_loss") and all(getattr(r, key) is not None for r in runs):
            out.append(Series(label, index[label], [], [], flat=scale * sum(getattr(r, key) for r in runs) / len(runs)))
    return out


def legend_html(labels: dict[str, int], shown: Sequence[str]) -> str:
    """One button per series: clicking it hides or shows that series in every figure."""
    buttons = [f'<button type="button" data-series="{_e(label)}" aria-pressed="true"><span class="swatch" '
               f'style="background:{colour(i)}"></span>{_e(label)}</button>'
               for label, i in labels.items() if label in shown]  # fmt: skip
    return f'<div class="legend" role="group" aria-label="show or hide an engine">{"".join(buttons)}</div>'


def curves_html(results: list[RunResult], labels: dict[str, int]) -> str:
    """The four learning-curve figures, every engine on the same axes, under one legend."""
    figures, shown = [], set()
    for key, title, y_label, scale, fmt, log in CURVES:
        series = curve_series(results, key, scale, labels)
        svg = line_chart(title, "epoch", y_label, series, fmt, log)
        if svg:
            figures.append(f'<figure data-figure="{key}">{svg}</figure>')
            shown |= {s.label for s in series}
    if not figures:
        return '<p class="note">No per-epoch figures in these results (no row finished).</p>'
    note = ('<p class="note">Several seeds of a row: the line is their mean, the shaded band their min-max. A one-shot '
            "baseline is a dotted line at its final value. Click a legend entry to hide or show it.</p>")  # fmt: skip
    return legend_html(labels, list(shown)) + f'<div class="figures">{"".join(figures)}</div>' + note


def statistics_html(results: list[RunResult], labels: dict[str, int]) -> str:
    """--repeats / --sweep: per configuration, the rows over seeds, the pairs, and the per-seed spread figures; ''
    for a single run of each row."""
    blocks = summarize(results)
    if len(blocks) < 2 and all(row.runs < 2 for b in blocks for row in b.rows):
        return ""
    mixed = mixed_modes(results)  # as series_labels: a row names its mode where its engine and model ran in several
    parts = []
    for block in blocks:
        title = config_title(block.config)
        parts.append((f"<h3>{_e(title)}</h3>" if title else "") + summary_table(block))
        if block.pairs and any(row.metrics["test_acc"].n > 1 for row in block.rows):
            parts.append('<p class="note">A − B: difference of the means; Welch\'s t-test, two-sided; P(A &gt; B): share '
                         "of the seeds both ran where A was higher, ties count half.</p>" + pairs_table(block))  # fmt: skip
        figures = []
        for metric, name, fmt in (("test_acc", "test accuracy (%)", ".2f"), ("throughput", "training samples/s", ",.0f")):
            rows = []
            for row in block.rows:
                label = series_label(row.framework, row.model, shown_mode(row, mixed), block.config)
                s = row.metrics[metric]
                ci = (s.ci_low, s.ci_high) if s.ci_low is not None else None
                rows.append((label, labels.get(label, 0), row.values[metric], ci))
            svg = strip_chart(f"{name.capitalize()}, each seed", name, rows, fmt)
            if svg:
                figures.append(f'<figure data-figure="spread-{metric}">{svg}</figure>')
        if figures:
            parts.append(f'<div class="figures">{"".join(figures)}</div><p class="note">A dot per seed, a tick at the mean, '
                         "a bar over the 95 % confidence interval (t distribution).</p>")  # fmt: skip
    return "".join(parts)


def check_html(check: object) -> str:
    """The --check verdicts: a workbench.check.equivalence.Report as coloured tables (worst engine first), or the
    check's text as it was printed."""
    if check is None:
        return ""
    if isinstance(check, str):
        return f'<pre class="text">{_e(check)}</pre>'
    parts = [f'<p class="note">inputs: {_e(check.inputs)}</p>']
    parts += [f'<p class="note">skipped {_e(k)}: {_e(v)}</p>' for k, v in check.skipped.items()]
    parts += [f'<p class="note"><b>ERROR</b> {_e(k)} (not checked): {_e(v)}</p>' for k, v in check.errors.items()]
    parts += [f'<p class="note">note: {_e(n)}</p>' for n in check.notes]
    if check.rows:
        parts.append("<h3>Worst difference per engine</h3>" + worst_table(check.rows))
    for dtype in dict.fromkeys(r.dtype for r in check.rows):
        for kind, title in CHECK_TITLES.items():
            rows = [r for r in check.rows if r.dtype == dtype and r.check == kind]
            if rows:
                parts.append(f"<h3>{_e(title)}, {_e(dtype)}</h3>" + check_table(rows))
    return "".join(parts)


def _layer_text(layer: object) -> str:
    values = ", ".join(f"{f.name}={getattr(layer, f.name)}" for f in fields(layer)) if is_dataclass(layer) else ""
    return f"{type(layer).__name__}({values})"


def spec_facts(spec: TaskSpec) -> list[tuple[str, str]]:
    """The spec in a few lines: input, layers, optimizer, loss, batch size, epochs, seed."""
    return [
        ("model", " → ".join([f"input {tuple(spec.model.input_shape)}", *map(_layer_text, spec.model.layers)])),
        ("optimizer", f"{describe_optimizer(spec.optimizer)}, lr {spec.optimizer.lr:g}"),
        ("training", f"loss {spec.model.loss}, batch {spec.train.batch_size}, {spec.train.epochs} epochs, "
                     f"seed {spec.train.seed}"),  # fmt: skip
    ]


def run_facts(meta: RunMeta, results: list[RunResult], spec_note: str = "") -> list[tuple[str, str]]:
    """Device, precision, threads, seeds, dtype, dataset, versions, nodes, the command (spec_note: where a rebuilt
    page's spec came from)."""
    ran = [r for r in results if r.version]
    versions = {}
    for r in ran:
        versions.setdefault(r.framework, r.version)
    seeds = sorted({r.seed for r in results}) or [meta.seed]
    nodes = sorted({r.node for r in results if r.node})
    facts = [
        ("device", ", ".join(sorted({r.device for r in ran})) or meta.device),
        ("precision", PRECISION_WORDS.get(meta.precision, meta.precision or "?")),
        ("threads", str(meta.threads)),
        ("seeds", ", ".join(map(str, seeds))),
        ("dtype", meta.dtype),
    ]
    facts += [("dataset", d) for d in sorted({r.dataset for r in ran if r.dataset})]
    facts += [("versions", " | ".join(f"{k} {v}" for k, v in versions.items()))] if versions else []
    facts += [("node" + ("s" if len(nodes) > 1 else ""), ", ".join(nodes))] if nodes else []
    facts += [("device choice", meta.device_note)] if meta.device_note else []
    facts += [("executor", meta.executor)] if meta.executor else []
    facts += [("spec", spec_note)] if spec_note else []  # a page rebuilt with --from
    facts += [("warning", w) for w in sorted({w for r in ran for w in r.data_warnings})]
    facts.append(("command", "python compare.py " + shlex.join(str(a) for a in meta.argv)))
    return facts


def _facts_html(facts: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"


def header_html(meta: RunMeta, results: list[RunResult], spec: TaskSpec | None, sources: Sequence[str] = (),
                spec_note: str = "") -> str:  # fmt: skip
    """The run header: task, spec summary, where and how it ran, the command, and the files it was rebuilt from."""
    facts = [("task", f"{meta.task}: {meta.title}")] + (spec_facts(spec) if spec else [])
    facts += run_facts(meta, results, spec_note)
    facts += [("rebuilt from", ", ".join(sources))] if sources else []
    facts.append(("written", f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, python {platform.python_version()}, "
                             f"{platform.platform()}, {os.cpu_count()} logical CPUs"))  # fmt: skip
    spec_json = (f'<details><summary>the whole spec (JSON)</summary><pre class="text">{_e(spec_to_json(spec))}</pre>'
                 "</details>") if spec else ""  # fmt: skip
    return _facts_html(facts) + spec_json


def build_html(meta: RunMeta | dict, results: list[RunResult], spec: TaskSpec | None, answers: dict[str, dict] | None = None,
               check: object = None, attention: object = None, sources: Sequence[str] = (),
               left_out: Sequence[str] = (), spec_note: str = "") -> str:  # fmt: skip
    """The whole page as one string (pure: `answers` are the engines' teaching facts, already gathered). meta: the
    run's RunMeta, or a saved "meta" dict (read as one)."""
    meta = meta if isinstance(meta, RunMeta) else RunMeta.from_dict(meta)
    labels = series_labels(results)
    sections = [
        ("run", "The run", header_html(meta, results, spec, sources, spec_note)),
        ("results", "Results", results_table(results) + notes_list(results)),
        ("curves", "Learning curves", curves_html(results, labels)),
        ("seeds", "Over seeds", statistics_html(results, labels)),
        ("timings", "Timings", timings_table(results)),
        ("check", "Numerical checks (--check)", check_html(check)),
        ("attention", "Attention maps", attention_html(attention)),
    ]
    if answers is not None:
        left = "".join(f"<li>{_e(n)}</li>" for n in left_out)
        left = f"<ul>{left}</ul>" if left else ""  # engines not installed, or whose adapter failed to answer
        sections += [
            ("generated", "The network as each engine's users write it (generated: --code DIR writes these scripts)",
             generated_html(spec, list(answers))),
            ("code", "The model in each engine (the adapters' own code)", left + code_html(answers)),
            ("summary", "Model summary, layer by layer", summary_html(spec, answers)),
            ("defaults", "Framework defaults that differ, and what the spec sets", defaults_html(spec, answers)),
        ]
    sections = [(ident, title, body) for ident, title, body in sections if body]
    toc = " ".join(f'<a href="#{ident}">{_e(title)}</a>' for ident, title, _ in sections)
    body = "".join(f'<section id="{ident}"><h2>{_e(title)}</h2>{text}</section>' for ident, title, text in sections)
    title = f"framebench: {meta.task}" + (f" · {meta.title}" if meta.title else "")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; img-src data:\">"
            f"<title>{_e(title)}</title><style>{CSS}{code_css()}</style></head>\n"
            f"<body><main><h1>{_e(title)}</h1><nav class=\"toc\">{toc}</nav>{body}</main>"
            f"<script>{JS}</script></body></html>\n")  # fmt: skip


def write_html_report(folder: Path, results: list[RunResult], meta: RunMeta | dict, spec: TaskSpec | None, frameworks: list[str],
                      check: object = None, explain: bool = True, attention: object = None, sources: Sequence[str] = (),
                      gathered: tuple[dict[str, dict], list[str]] | None = None, spec_note: str = "") -> list[Path]:  # fmt: skip
    """Write FOLDER/index.html and FOLDER/results.json (the rows shown, as --output saves them); return both paths.

    check: the --check result (a workbench.check.equivalence.Report, or its text). explain: ask each installed
    framework for its code, summary and defaults (one child process each; nothing trains), unless `gathered` holds
    workbench.teach.explain.gather's answer already. attention: a workbench.check.attention_maps.AttentionMaps.
    sources: the result files a rebuilt page was made from; spec_note: where its spec came from.
    """
    answers, left_out = gathered if gathered is not None else (None, [])
    if explain and gathered is None and spec is not None and frameworks:
        from workbench.teach.explain import gather

        answers, left_out = gather(spec, list(frameworks))
    page = build_html(meta, results, spec, answers, check, attention, sources, left_out, spec_note)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / PAGE_NAME, folder / RESULTS_NAME]
    atomic_write_text(written[0], page)
    save_results(written[1], meta, results)
    umask = os.umask(0)
    os.umask(umask)
    for path in written:
        path.chmod(0o666 & ~umask)  # atomic writes make private files; a page to share is readable like any new file
    return written
