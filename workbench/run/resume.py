"""--resume FILE: read a saved run back and keep its finished rows, so only the others run again."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import UsageError
from workbench.run.result import RunResult, load_results, row_key


class ResumeError(UsageError):
    """FILE cannot be resumed: missing, unreadable or not a framebench results file (one line)."""


def read_saved_run(path: str | Path) -> tuple[dict, list[RunResult]]:
    """The saved run's metadata (with its command line) and rows; ResumeError says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ResumeError(f"--resume {path}: no such file")
    try:
        meta, results = load_results(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ResumeError(f"--resume {path}: cannot read it ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise ResumeError(f"--resume {path} is not a framebench results file ({type(exc).__name__})") from None
    argv = meta.get("argv") if isinstance(meta, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not meta.get("task"):
        raise ResumeError(f"--resume {path} is not a framebench results file (no saved task and command line)")
    return meta, results


def kept_rows(results: list[RunResult]) -> dict[tuple, RunResult]:
    """Rows that finished ok, by `row_key`; every other row runs again."""
    return {row_key(r.framework, r.model_id or r.model, r.seed, r.compiled, r.config): r for r in results if r.status == "ok"}
