"""Runs every row of a comparison, each in a fresh child process, and saves as it goes.

A child has its own threads, memory and crash domain: its peak memory belongs to that framework
alone, and a crash, a hang or a failed import in one framework leaves the other rows intact.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from workbench.run.child import failed_row
from workbench.run.driver import RunRequest
from workbench.run.result import RunResult, row_key, save_results

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunPlan:
    """The rows to run and how."""

    requests: list[RunRequest]
    timeout_s: float | None = None  # per row; None waits forever
    in_process: bool = False  # run rows in this process (debugging; no isolation)
    output: Path | None = None  # JSON results, rewritten after every row
    meta: dict = field(default_factory=dict)  # header facts saved with the results
    kept: dict[tuple, RunResult] = field(default_factory=dict)  # --resume: rows not rerun, by `row_key`


class Interrupted(Exception):
    """Ctrl-C during a run; carries the rows that finished."""

    def __init__(self, results: list[RunResult]):
        super().__init__("interrupted")
        self.results = results


def child_env(threads: int) -> dict[str, str]:
    """The child's environment: thread counts for every BLAS/OpenMP runtime, quiet TensorFlow."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        env[var] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = str(threads)
    env["PJRT_NPROC"] = str(threads)  # XLA's CPU thread pool (JAX, Keras on JAX); XLA_FLAGS thread options do not limit it
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_in_child(request: RunRequest, timeout_s: float | None) -> RunResult:
    """One row in a fresh `python -m workbench.run.child`; deaths and time-outs become statuses."""
    with tempfile.TemporaryDirectory(prefix="framebench-") as tmp:
        req_path, res_path = Path(tmp, "request.json"), Path(tmp, "result.json")
        req_path.write_text(json.dumps(request.to_dict()))
        cmd = [sys.executable, "-m", "workbench.run.child", str(req_path), str(res_path)]
        proc = subprocess.Popen(cmd, env=child_env(request.settings.threads), stdout=subprocess.DEVNULL)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return failed_row(request, "timeout", f"no result after the {timeout_s:g} s --timeout")
        except BaseException:  # Ctrl-C: stop the child too
            proc.kill()
            proc.wait()
            raise
        if res_path.exists():
            return RunResult.from_dict(json.loads(res_path.read_text()))
        if code < 0:
            return failed_row(request, "crashed", f"child process killed by {signal.Signals(-code).name}")
        return failed_row(request, "crashed", f"child process exited with code {code} and no result")


def run_row(request: RunRequest, plan: RunPlan) -> RunResult:
    """One row: kept from the resumed file, or run in a child (or in this process)."""
    kept = plan.kept.get(row_key(request.framework, request.model, request.settings.seed, request.settings.compile))
    if kept is not None:
        return kept
    if plan.in_process:
        from workbench.run.child import execute

        result = execute(request)
    else:
        result = run_in_child(request, plan.timeout_s)
    result.model_id, result.compiled = request.model, request.settings.compile
    return result


def save_or_warn(plan: RunPlan, results: list[RunResult]) -> bool:
    """Save the rows so far; a full disk or a removed folder is one warning line, not the end of the run."""
    if plan.output is None:
        return True
    try:
        save_results(plan.output, plan.meta, results)
        return True
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        print(f"framebench: warning: could not save results to {plan.output}: {reason}; still running", file=sys.stderr)
        return False


def run_plan(plan: RunPlan, on_result: Callable[[RunResult], bool] | None = None) -> list[RunResult]:
    """Run every request in order, saving after each row; `on_result` returning True stops early, unsaved.

    Ctrl-C raises Interrupted carrying the rows finished so far (saved once more if the last save missed).
    """
    results: list[RunResult] = []
    saved = True
    try:
        for request in plan.requests:
            results.append(run_row(request, plan))
            if on_result is not None and on_result(results[-1]):
                break  # a row that stops the run (bad data, bad --subset) is not a result worth saving
            saved = False  # until the save below returns: Ctrl-C during it retries once
            saved = save_or_warn(plan, results)
    except KeyboardInterrupt:
        if not saved:
            save_or_warn(plan, results)
        raise Interrupted(results) from None
    return results
