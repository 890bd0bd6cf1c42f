"""Sortable HTML tables of the report: results, timings, the summary over seeds, the --check verdicts.

Pure functions of typed data. Every text is escaped here, once, when a cell is written; a numeric cell carries
its raw value in data-sort so the page's script sorts numbers as numbers (missing values last).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Collection, Sequence

from workbench.check.equivalence import REFERENCE
from workbench.report.statistics import ConfigStats, Spread, mixed_modes, shown_mode
from workbench.report.tables import (BREAK_EVEN, MAIN_COLUMNS, _cell, break_even_steps, config_title, eager_partner,
                                     noisy_note, timings_columns)  # fmt: skip
from workbench.run.result import RunResult

CHECK_ORDER = ("OK", "INFO", "DOWNCAST", "INACCURATE", "FAIL")  # worst last, as workbench.check.report
TEXT_KEYS = ("framework", "model", "device", "config", "mode", "node", "timing", "status")  # the columns that are not numbers
VERDICT_BADGES = {"OK": "status-ok", "INFO": "status-skipped", "FAIL": "status-error"}  # the others: amber


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, an optional numeric sort key, CSS class and tooltip."""

    text: str
    sort: float | None = None
    cls: str = ""
    title: str = ""
    badge: str = ""  # a CSS class: the text is shown as a coloured badge (status cells)


def num(value: float | None, text: str) -> Cell:
    """A right-aligned numeric cell that sorts by `value`."""
    finite = value is not None and isinstance(value, (int, float)) and math.isfinite(value)
    return Cell(text, float(value) if finite else None, "num")


def _td(cell: Cell | str) -> str:
    cell = cell if isinstance(cell, Cell) else Cell(str(cell))
    attrs = f' class="{cell.cls}"' if cell.cls else ""
    attrs += f' data-sort="{cell.sort!r}"' if cell.sort is not None else ""
    attrs += f' title="{html.escape(cell.title)}"' if cell.title else ""
    text = html.escape(cell.text)
    body = f'<span class="status {cell.badge}">{text}</span>' if cell.badge else text
    return f"<td{attrs}>{body}</td>"


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell | str]], table_id: str = "",
          row_classes: Sequence[str] = ()) -> str:  # fmt: skip
    """A table whose every column header sorts it when clicked."""
    head = "".join(f'<th scope="col"><button class="sort" type="button">{html.escape(h)}</button></th>' for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if i < len(row_classes) and row_classes[i] else ""
        body.append(f"<tr{cls}>{''.join(_td(c) for c in row)}</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return (f'<div class="scroll"><table class="sortable"{ident}><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def series_label(framework: str, model: str, mode: str = "", config: dict | None = None) -> str:
    """What names a series in the figures and legends: framework · model (· mode) (· sweep values)."""
    return " · ".join([framework, model] + ([mode] if mode else []) + ([config_title(config)] if config else []))


def row_label(r: RunResult, mixed: Collection[tuple[str, str]] = ()) -> str:
    """The series label of a result row; it names the row's mode where its (framework, model) is in `mixed` (ran in
    several modes: statistics.mixed_modes), so an engine's default mode alone (e.g. JAX's jit) is not named."""
    return series_label(r.framework, r.model, shown_mode(r, mixed), r.config)


def status_cell(r: RunResult) -> Cell:
    """ok / diverged / error (kind) ..., coloured, with the row's message as its tooltip."""
    text = f"{r.status} ({r.error_kind})" if r.status == "error" and r.error_kind else r.status
    return Cell(text, title=r.message, badge=f"status-{html.escape(r.status)}")


def _value_cell(r: RunResult, key: str) -> Cell:
    value = getattr(r, key)
    if key == "status":
        return status_cell(r)
    text = str(_cell(key, value))
    if (isinstance(value, (int, float)) and not isinstance(value, bool)) or (value is None and key not in TEXT_KEYS):
        return num(value, text)
    return Cell(text)


def _columns(results: list[RunResult], columns: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The columns, plus config (a sweep), mode (rows that name it, unless the columns have it) and seed (several
    seeds) after the model."""
    mode = ("mode", "mode")
    extra = ((("config", "config"),) if any(r.config for r in results) else ()) + (
        (mode,) if any(r.mode for r in results) and mode not in columns else ()) + (
        (("seed", "seed"),) if len({r.seed for r in results}) > 1 else ())  # fmt: skip
    return columns[:2] + extra + columns[2:]


def results_table(results: list[RunResult]) -> str:
    """The main table: one row per run, its figures and its status."""
    columns = _columns(results, MAIN_COLUMNS)
    rows = [[_value_cell(r, key) for key, _ in columns] for r in results]
    return table([h for _, h in columns], rows, "results")


def break_even(r: RunResult, results: list[RunResult]) -> int | None:
    """The text table's break-even steps of a compiled row against its eager partner (None: no partner, or never)."""
    partner = eager_partner(r, results) if r.mode == "compiled" else None
    return break_even_steps(r, partner) if partner is not None else None


def timings_table(results: list[RunResult]) -> str:
    """The text timings table's columns (import, data, build, first and steady epoch, the mode, compile s, compiles,
    latency, throughput, GFLOP/s; the node with several nodes; break-even steps where a compiled row has its eager
    row), as the text table shows them."""
    partnered = any(r.mode == "compiled" and eager_partner(r, results) is not None for r in results)
    columns = _columns(results, timings_columns(results) + ((BREAK_EVEN,) if partnered else ()))
    rows = []
    for r in results:
        even = break_even(r, results)
        rows.append([num(even, str(_cell("params", even))) if key == BREAK_EVEN[0] else _value_cell(r, key)
                     for key, _ in columns])  # fmt: skip
    return table([h for _, h in columns], rows, "timings")


def notes_list(results: list[RunResult]) -> str:
    """One item per row with a message (why it is not ok, or a note), escaped."""
    mixed = mixed_modes(results)
    items = dict.fromkeys(  # one note for a message that every seed repeats
        f"<li><b>{html.escape(row_label(r, mixed))}</b>: {html.escape(r.status)}"
        f"{' (' + html.escape(r.error_kind) + ')' if r.error_kind else ''}: {html.escape(r.message)}</li>"
        for r in results if r.status != "ok" or r.message)  # fmt: skip
    items.update(dict.fromkeys([f"<li><b>timing</b>: {html.escape(noisy_note(results))}</li>"] if noisy_note(results) else []))
    return f'<ul class="notes">{"".join(items)}</ul>' if items else ""


def _spread_cells(s: Spread, fmt: str) -> list[Cell]:
    """mean, std and the 95 % interval as three sortable cells."""
    ci = "-" if s.ci_low is None else f"{s.ci_low:{fmt}} – {s.ci_high:{fmt}}"
    return [num(s.mean, "-" if s.mean is None else f"{s.mean:{fmt}}"), num(s.std, "-" if s.std is None else f"{s.std:{fmt}}"),
            num(s.ci_low, ci)]  # fmt: skip


def summary_table(block: ConfigStats) -> str:
    """One row per (framework, model, mode) of a configuration over its seeds: mean, std and 95 % CI of each metric;
    a mode column where the rows ran in several modes."""
    modes = len({row.mode for row in block.rows}) > 1
    headers = ["framework", "model", *(["mode"] if modes else []), "ok runs", "seeds", "test acc % mean", "std",
               "95 % CI", "samples/s mean", "std", "95 % CI"]  # fmt: skip
    rows = [[row.framework, row.model, *([row.mode or "-"] if modes else []),
             num(len(row.seeds), f"{len(row.seeds)}/{row.runs}"),
             ", ".join(map(str, row.seeds)) or "-",
             *_spread_cells(row.metrics["test_acc"], ".2f"), *_spread_cells(row.metrics["throughput"], ",.0f")]
            for row in block.rows]  # fmt: skip
    return table(headers, rows)


def pairs_table(block: ConfigStats) -> str:
    """Every pair of rows: difference of the means, Welch's p, P(A > B) over paired seeds, the verdict."""
    rows = []
    for p in block.pairs:
        unit = ".2f" if p.metric == "test_acc" else ",.0f"
        rows.append([p.a, p.b, "test acc %" if p.metric == "test_acc" else "samples/s",
                     num(p.diff, "-" if p.diff is None else f"{p.diff:+{unit}}"),
                     num(p.p_value, "-" if p.p_value is None else f"{p.p_value:.2g}"),
                     num(p.p_a_beats_b, "-" if p.p_a_beats_b is None else f"{p.p_a_beats_b:.2f} ({p.n_paired} seeds)"),
                     p.verdict])  # fmt: skip
    return table(["A", "B", "metric", "A − B", "Welch p", "P(A > B)", "verdict"], rows) if rows else ""


def _engines(pair: str) -> list[str]:
    return [side for side in pair.split(" vs ") if side != REFERENCE]


def _badness(row) -> tuple:  # noqa: ANN001 - workbench.check.equivalence.Row
    rel = row.max_rel if math.isfinite(row.max_rel) else -math.inf
    return (CHECK_ORDER.index(row.status) if row.status in CHECK_ORDER else 0, rel)


def worst_table(rows: list) -> str:
    """Each engine's worst check row (by verdict, then max rel), worst engine first."""
    worst: dict[str, object] = {}
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        for engine in _engines(row.pair):
            if engine not in worst or _badness(row) > _badness(worst[engine]):
                worst[engine] = row
            counts.setdefault(engine, {}).setdefault(row.status, 0)
            counts[engine][row.status] += 1
    ordered = sorted(worst.items(), key=lambda kv: _badness(kv[1]), reverse=True)
    body = [[engine, Cell(w.status, badge=VERDICT_BADGES.get(w.status, "status-diverged")),
             w.check, w.dtype, w.pair, w.item + (f" ({w.variant})" if w.variant else ""),
             _e(w.max_abs), _e(w.max_rel), num(w.tol, f"{w.tol:g}"),
             ", ".join(f"{counts[engine][s]} {s}" for s in CHECK_ORDER if s in counts[engine])]
            for engine, w in ordered]  # fmt: skip
    headers = ["engine", "worst verdict", "check", "dtype", "pair", "item", "max abs", "max rel", "tol", "rows"]
    return table(headers, body, "check-worst", [f"verdict-{w.status}" for _, w in ordered])


def _e(x: float) -> Cell:
    return num(x, "-" if math.isnan(x) else f"{x:.2e}")


def check_table(rows: list) -> str:
    """One check's rows (pair, item, differences, tolerance, verdict), each row coloured by its verdict."""
    trajectory = any(r.variant for r in rows)
    headers = ["pair"] + (["optimizer"] if trajectory else []) + ["item", "max abs", "max rel", "tol", "note", "verdict"]
    body = [[r.pair] + ([r.variant] if trajectory else []) + [r.item, _e(r.max_abs), _e(r.max_rel), num(r.tol, f"{r.tol:g}"),
            r.note, r.status] for r in rows]  # fmt: skip
    return table(headers, body, row_classes=[f"verdict-{r.status}" for r in rows])
