"""The export table: one line per row x artifact, a pure function of the results (tabulate, like workbench/report)."""

from __future__ import annotations

from tabulate import tabulate

from workbench.run.result import ArtifactRecord, RunResult

HEADERS = ["framework", "model", "artifact", "route", "size", "export s", "reload check", "form",
           "latency ms p50", "p95", "infer samples/s"]  # fmt: skip
CELL_CHARS = 100  # a failure reason is cut here in the table (the JSON results keep all of it)
FAILED = ("FAIL", "export failed", "reload failed", "refused")  # artifact statuses that make the run's exit code 4


def size_text(size: int | None) -> str:
    """Bytes as KB/MB, '-' if nothing was written."""
    if size is None:
        return "-"
    return f"{size / 2**20:.2f} MB" if size >= 2**20 else f"{size / 2**10:.1f} KB"


def check_text(record: ArtifactRecord) -> str:
    """'ok (max abs 1.2e-07, rel 3.4e-08)', 'FAIL (...)', or the failure / skip reason as it is."""
    if record.max_abs is None:
        text = record.status if record.status != "ok" else "not checked"
        return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 3] + "..."
    return f"{record.status} (max abs {record.max_abs:.2g}, rel {record.max_rel:.2g}; tol {record.atol:g} + {record.rtol:g}|x|)"


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def export_rows(results: list[RunResult]) -> list[list[str]]:
    """The table's cells: every artifact of every row that has exports."""
    rows = []
    for result in results:
        for r in result.exports:
            export_s = "-" if r.export_s is None else f"{r.export_s:.3g}"
            rows.append([result.framework, result.model, r.artifact, r.route or "-", size_text(r.size_bytes), export_s,
                         check_text(r), r.form or "-", _number(r.latency_ms_p50, ".3g"), _number(r.latency_ms_p95, ".3g"),
                         _number(r.infer_throughput, ",.0f")])  # fmt: skip
    return rows


def export_table(results: list[RunResult], fmt: str) -> str:
    """The whole table, or '' when no row exported anything."""
    rows = export_rows(results)
    return tabulate(rows, headers=HEADERS, tablefmt=fmt, disable_numparse=True) if rows else ""


def export_failed(results: list[RunResult]) -> bool:
    """True if an artifact failed its export or its reload check (skipped ones do not count)."""
    return any(r.status.startswith(FAILED) for result in results for r in result.exports)
