"""--resume FILE: read a saved run back and keep its finished rows, so only the others run again.

Every saved row is kept whatever is installed now: a row whose engine this run no longer has stays as it was
(`carried_rows`), with one note. Rows are checked as strictly as new ones: a field of the wrong type refuses the file
(one line), and an `ok` row holding NaN or infinity is not ok: it runs again.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from frameworks.base import framework_names
from workbench.errors import UsageError
from workbench.run.result import RunResult, load_results, non_finite, record_problem, row_key
from workbench.run.runner import RunPlan, request_key, same_row


class ResumeError(UsageError):
    """FILE cannot be resumed: missing, unreadable or not a framebench results file (one line)."""


def read_saved_run(path: str | Path) -> tuple[dict, list[RunResult]]:
    """The saved run's metadata (with its command line) and rows; ResumeError says what is wrong."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ResumeError(f"--resume {path}: no such file")
        meta, results = load_results(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ResumeError(f"--resume {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError, RecursionError) as exc:
        raise ResumeError(f"--resume {path} is not a framebench results file ({type(exc).__name__})") from None
    argv = meta.get("argv") if isinstance(meta, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not meta.get("task"):
        raise ResumeError(f"--resume {path} is not a framebench results file (no saved task and command line)")
    for number, row in enumerate(results, 1):
        problem = record_problem(row)
        if problem is not None:
            raise ResumeError(f"--resume {path}: row {number} is not a framebench row: {problem}")
    return meta, results


def kept_rows(results: list[RunResult]) -> dict[tuple, RunResult]:
    """Every saved row by `row_key` (an ok one wins over another with its key): the runner keeps the ok rows and runs
    the others again. An ok row holding NaN or infinity becomes an error row, so it runs again too."""
    kept: dict[tuple, RunResult] = {}
    for row in results:
        bad = non_finite(row) if row.status == "ok" else None
        if bad is not None:
            row = replace(row, status="error", error_kind="data", message=f"saved as ok with a non-finite {bad}")
        key = row_key(row.framework, row.model_id or row.model, row.seed, row.mode, row.config)
        if key not in kept or kept[key].status != "ok":
            kept[key] = row
    return kept


def carried_rows(plan: RunPlan) -> list[RunResult]:
    """The saved rows no request of this plan asks for (their engine is not installed or registered now): kept as they
    were, in their saved order."""
    asked = [request_key(request) for request in plan.requests]
    return [row for key, row in plan.kept.items() if not any(same_row(a, key) for a in asked)]


def carried_note(rows: list[RunResult]) -> str:
    """One line: how many saved rows stay without a rerun, and of which engines."""
    engines = ", ".join(dict.fromkeys(row.framework for row in rows))
    return f"--resume keeps {len(rows)} saved row(s) of {engines} as they were: not available in this run, so not rerun"


def available_frameworks(path: str | Path, frameworks: tuple[str, ...]) -> tuple[str, ...]:
    """The saved run's --frameworks that are registered now ("all" as it is): an engine whose plugin is gone keeps its
    rows (carried) instead of refusing the resume; ResumeError when none is left."""
    if tuple(frameworks) == ("all",):
        return tuple(frameworks)
    known = set(framework_names())
    left = tuple(name for name in frameworks if name.strip() in known)
    if not left:
        raise ResumeError(f"--resume {path}: none of its frameworks ({', '.join(frameworks)}) is registered now; nothing can run")
    return left
