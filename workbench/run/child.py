"""Child-process entry point: `python -m workbench.run.child REQUEST.json RESULT.json`.

Runs one row with `workbench.run.driver.run_one` and writes its RunResult as JSON. Any exception
becomes an `error` result with a one-line message; the traceback goes to the log on stderr
only when FRAMEBENCH_DEBUG is set. A list of requests (a dry run's rows of one engine) runs one
after another in this one process, the list of results rewritten after each row.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

# Before the slow imports: Ctrl-C in a terminal reaches the child too; leave quietly, the parent reports it.
# An ignored SIGINT (a background job, nohup) stays ignored.
if __name__ == "__main__" and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))

from workbench.process.lines import error_kind, one_line  # noqa: E402
from workbench.run.driver import run_one  # noqa: E402
from workbench.run.request import RunRequest  # noqa: E402
from workbench.run.result import RunResult, atomic_write_text  # noqa: E402


def failed_row(request: RunRequest, status: str, message: str, kind: str = "") -> RunResult:
    """A row that did not finish, with the request's seed, threads and dtype (shared with the runner)."""
    s = request.settings
    return RunResult(task=request.task, framework=request.framework, model=request.model, status=status,
                     message=message, error_kind=kind, threads=s.threads, dtype=s.dtype, tf32=s.tf32, precision=s.precision,
                     seed=s.seed)  # fmt: skip


def execute(request: RunRequest) -> RunResult:
    """Run the request; an exception becomes an `error` row instead of a crash."""
    try:
        return run_one(request)
    except Exception as exc:  # noqa: BLE001 - errors are values: the row shows them
        if os.environ.get("FRAMEBENCH_DEBUG"):
            traceback.print_exc()
        return failed_row(request, "error", one_line(exc), error_kind(exc))


def execute_many(requests: list[RunRequest], done: Path) -> None:
    """Run the requests one after another in this process, rewriting the list of results after each row. Only the
    first row's import time and peak memory are its own: the later ones are left unmeasured (None)."""
    results: list[dict] = []
    for request in requests:
        result = execute(request)
        if results:  # the framework was imported, and memory used, by the rows before it
            result.import_s = result.peak_rss_mb = None
        results.append(asdict(result))
        atomic_write_text(done, json.dumps(results))


def main(argv: list[str]) -> int:
    """Read the request (or a list of them), run it, write the result atomically."""
    asked = json.loads(Path(argv[0]).read_text())
    if isinstance(asked, list):
        execute_many([RunRequest.from_dict(r) for r in asked], Path(argv[1]))
        return 0
    result = execute(RunRequest.from_dict(asked))
    atomic_write_text(Path(argv[1]), json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
