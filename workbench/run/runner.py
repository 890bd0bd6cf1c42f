"""Runs every row of a comparison, each in a fresh child process, and saves as it goes.

A child has its own threads, memory and crash domain: its peak memory belongs to that framework
alone, and a crash, a hang or a failed import in one framework leaves the other rows intact.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from frameworks.base import THREADS_VAR
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
    sweep_keys: tuple[str, ...] = ()  # request fields a --sweep varies: they make up each row's `config`
    executor: str = "local"  # "local": one child after another; "ray": each row a Ray task (ray_executor)
    ray_address: str | None = None  # "HOST:PORT" or "auto" to join a cluster; None starts a local Ray instance
    quiet: bool = False  # no progress lines (the Ray executor prints one per finished row)


class Interrupted(Exception):
    """Ctrl-C during a run; carries the rows that finished."""

    def __init__(self, results: list[RunResult]):
        super().__init__("interrupted")
        self.results = results


def child_env(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: thread counts for every BLAS/OpenMP runtime, and THREADS_VAR for the
    adapters whose framework reads its thread count from the environment at import."""
    env = {**os.environ, **(extra or {})}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", THREADS_VAR):
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None  # looked up before any fork


def _die_with_parent() -> None:
    """In the child, before exec (Linux): SIGKILL when the parent dies, e.g. a Ray worker cancelled with force."""
    _PRCTL(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG


def run_in_child(request: RunRequest, timeout_s: float | None, env: dict[str, str] | None = None) -> RunResult:
    """One row in a fresh `python -m workbench.run.child`; deaths and time-outs become statuses.

    `env` adds variables to the child's environment (the Ray executor forwards the driver's FRAMEBENCH_* ones).
    """
    with tempfile.TemporaryDirectory(prefix="framebench-") as tmp:
        req_path, res_path = Path(tmp, "request.json"), Path(tmp, "result.json")
        req_path.write_text(json.dumps(request.to_dict()))
        cmd = [sys.executable, "-m", "workbench.run.child", str(req_path), str(res_path)]
        guard = _die_with_parent if _PRCTL is not None else None
        proc = subprocess.Popen(cmd, env=child_env(request.settings.threads, env), stdout=subprocess.DEVNULL,
                                preexec_fn=guard)  # fmt: skip
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


def request_config(request: RunRequest, sweep_keys: tuple[str, ...]) -> dict:
    """The row's --sweep configuration, read from the request's fields (e.g. {"lr": 0.003})."""
    return {key: getattr(request, key) for key in sweep_keys}


def kept_row(request: RunRequest, plan: RunPlan) -> RunResult | None:
    """The --resume row that stands for this request, if it finished ok before."""
    s = request.settings
    return plan.kept.get(row_key(request.framework, request.model, s.seed, s.compile, request_config(request, plan.sweep_keys)))


def finish_row(result: RunResult, request: RunRequest, plan: RunPlan, node: str) -> RunResult:
    """Shared facts every executor sets on a fresh row: what was asked for and where it ran."""
    result.model_id, result.compiled = request.model, request.settings.compile
    result.config, result.node = request_config(request, plan.sweep_keys), node
    return result


def run_row(request: RunRequest, plan: RunPlan) -> RunResult:
    """One row: kept from the resumed file, or run in a child (or in this process)."""
    kept = kept_row(request, plan)
    if kept is not None:
        return kept
    if plan.in_process:
        from workbench.run.child import execute

        result = execute(request)
    else:
        result = run_in_child(request, plan.timeout_s)
    return finish_row(result, request, plan, socket.gethostname())


def finished_rows(plan: RunPlan) -> Iterator[tuple[int, RunResult]]:
    """(plan index, result) as each row finishes: in plan order locally, in any order on Ray."""
    if plan.executor == "ray":
        from workbench.run import ray_executor

        yield from ray_executor.run_rows(plan)
        return
    for index, request in enumerate(plan.requests):
        yield index, run_row(request, plan)


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
    """Run every request, saving after each row (in plan order); `on_result` returning True stops early.

    The row that stopped the run comes last and is not saved. Ctrl-C raises Interrupted carrying the rows
    finished so far (saved once more if the last save missed); rows still running are stopped.
    """
    done: dict[int, RunResult] = {}
    ordered = lambda: [done[i] for i in sorted(done)]  # noqa: E731
    saved = True
    rows = finished_rows(plan)
    try:
        for index, result in rows:
            if on_result is not None and on_result(result):
                return ordered() + [result]  # a row that stops the run (bad data, bad --subset) is not saved
            done[index] = result
            saved = False  # until the save below returns: Ctrl-C during it retries once
            saved = save_or_warn(plan, ordered())
    except KeyboardInterrupt:
        rows.close()  # the Ray executor cancels the rows still running
        if not saved:
            save_or_warn(plan, ordered())
        raise Interrupted(ordered()) from None
    finally:
        rows.close()
    return ordered()
