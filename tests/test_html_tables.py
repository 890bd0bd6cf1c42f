"""The HTML report's tables and labels in process: modes named as the text tables name them, the same timings columns."""

from __future__ import annotations

import re

from workbench.report.html import series_labels, statistics_html
from workbench.report.html_tables import notes_list, results_table, row_label, summary_table, timings_table
from workbench.report.statistics import mixed_modes, summarize
from workbench.report.tables import render
from workbench.run.result import RunResult

META = {"task": "digits", "title": "digits MLP", "threads": 1, "seed": "0..1", "dtype": "float32"}


def row(framework: str, mode: str, seed: int = 0, **figures: object) -> RunResult:
    """An ok row of digits in `mode` (batch 64), with the figures given."""
    return RunResult(task="digits", framework=framework, model="spec", seed=seed, mode=mode, compiled=mode == "compiled",
                     batch_size=64, version="1", **figures)  # fmt: skip


def headers(page: str) -> list[str]:
    return re.findall(r'<button class="sort" type="button">([^<]*)</button>', page)


def cells(page: str) -> list[list[str]]:
    return [re.findall(r"<td[^>]*>(?:<span[^>]*>)?([^<]*)", tr) for tr in re.findall(r"<tr>(.*?)</tr>", page)[1:]]


# pytorch in both modes (compiled: 10 s warm-up against 1 s, then 4x the speed), JAX in its default jit mode only
ROWS = [row("pytorch", "eager", compile_s=1.0, throughput=1000.0, compilations=None, test_acc=0.95),
        row("pytorch", "compiled", compile_s=10.0, throughput=4000.0, compilations=2, test_acc=0.96),
        row("jax", "compiled", compile_s=2.0, throughput=3000.0, compilations=2, test_acc=0.94)]  # fmt: skip


def test_timings_table_has_the_text_tables_columns_and_break_even() -> None:
    page = timings_table(ROWS)
    text = render(META, ROWS, "tsv").split("Timings\n\n")[1].split("\n\n")[0].splitlines()
    assert headers(page) == [h.strip() for h in text[0].split("\t")]
    assert {"mode", "compile s", "compiles", "break-even steps"} <= set(headers(page))
    column = headers(page).index("break-even steps")
    # the compiled row's extra 9 s over what it saves per sample (1/1000 - 1/4000 s), in batches of 64: 187.5 -> 188
    assert [c[column] for c in cells(page)] == ["-", "188", "-"]  # no eager JAX row: no break-even
    assert [c[column].strip() for c in (line.split("\t") for line in text[1:])] == ["-", "188", "-"]
    assert 'data-sort="188.0"' in page


def test_labels_name_the_mode_only_where_an_engine_ran_several() -> None:
    mixed = mixed_modes(ROWS)
    assert [row_label(r, mixed) for r in ROWS] == ["pytorch · spec · eager", "pytorch · spec · compiled", "jax · spec"]
    assert list(series_labels(ROWS)) == ["pytorch · spec · eager", "pytorch · spec · compiled", "jax · spec"]
    assert [row_label(r) for r in ROWS] == ["pytorch · spec", "pytorch · spec", "jax · spec"]  # no mixed: no mode
    skipped = RunResult(task="digits", framework="pytorch", model="spec", mode="compiled", status="skipped", message="x")
    assert "<b>pytorch · spec · compiled</b>: skipped" in notes_list([ROWS[0], skipped])
    assert headers(results_table(ROWS))[:3] == ["framework", "model", "mode"]


def test_summary_counts_each_mode_and_its_figures_match_the_labels() -> None:
    """--compile --repeats 2: sklearn's compiled rows are skipped; each mode is its own row of the summary."""
    results = [r for seed in (0, 1) for r in (
        row("sklearn", "eager", seed, test_acc=0.9, throughput=100.0 + seed),
        RunResult(task="digits", framework="sklearn", model="spec", seed=seed, mode="compiled", status="skipped"))]  # fmt: skip
    [block] = summarize(results)
    page = summary_table(block)
    assert headers(page)[:4] == ["framework", "model", "mode", "ok runs"]
    assert [c[:4] for c in cells(page)] == [["sklearn", "spec", "eager", "2/2"], ["sklearn", "spec", "compiled", "0/2"]]
    labels = series_labels(results)
    assert labels == {"sklearn · spec · eager": 0, "sklearn · spec · compiled": 1}
    figures = statistics_html(results, labels)  # the per-seed figures name their rows as the legend does
    assert "sklearn · spec · eager" in figures and "sklearn · spec · compiled" in figures and "sklearn · spec<" not in figures
