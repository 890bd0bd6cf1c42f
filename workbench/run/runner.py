"""The local executor: every row of a comparison in a fresh child process, one after another (execute.py saves).

A child has its own threads, memory and crash domain: its peak memory belongs to that framework
alone, and a crash, a hang or a failed import in one framework leaves the other rows intact.
"""

from __future__ import annotations

import ctypes
import json
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from tasks.spec import TaskSpec
from workbench.process.env import child_env
from workbench.run.child import execute, failed_row
from workbench.run.meta import RunMeta
from workbench.run.request import RunRequest
from workbench.run.result import RunResult, row_key


@dataclass
class RunPlan:
    """The rows to run and how."""

    requests: list[RunRequest]
    timeout_s: float | None = None  # per row; None waits forever
    in_process: bool = False  # run rows in this process (debugging; no isolation)
    output: Path | None = None  # JSON results, rewritten after every row
    meta: RunMeta = field(default_factory=RunMeta)  # header facts saved with the results
    kept: dict[tuple, RunResult] = field(default_factory=dict)  # --resume: rows not rerun, by `row_key`
    executor: str = "local"  # "local": one child after another; "ray": each row a Ray task (ray_executor)
    ray_address: str | None = None  # "HOST:PORT" or "auto" to join a cluster; None starts a local Ray instance
    quiet: bool = False  # no progress lines (the Ray executor prints one per finished row)
    shared_children: bool = False  # a dry run times nothing: one child per engine runs all of its rows (local executor)
    spec: TaskSpec | None = None  # the options' spec, resolved once (each request carries its row's: + sweep, seed)


class Interrupted(Exception):
    """Ctrl-C during a run; carries the rows that finished (and, from workbench.api.run, the run's header facts)."""

    def __init__(self, results: list[RunResult], meta: RunMeta | None = None):
        super().__init__("interrupted")
        self.results = results
        self.meta = meta


_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None  # looked up before any fork


HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}  # held while a child is started, so Ctrl-C never lands inside fork


def _child_setup() -> None:
    """In the child, before exec: the parent's signals no longer held; SIGKILL when the parent dies (Linux), e.g. a Ray
    worker cancelled with force."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_SIGNALS)
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG


def start_child(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Popen with Ctrl-C and SIGTERM held until the child exists: one arriving during the fork would otherwise be
    raised inside an at-fork hook (e.g. logging's), where Python ignores it, and the run would wait on the new child.
    A signal held meanwhile is raised once the child exists, which is then killed."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, preexec_fn=_child_setup)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a held signal is raised here
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def _wait(proc: subprocess.Popen, timeout_s: float | None) -> int | None:
    """The child's exit code, or None when it ran past `timeout_s` (it is killed); Ctrl-C kills it too."""
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    except BaseException:  # Ctrl-C: stop the child too
        proc.kill()
        proc.wait()
        raise


def _death(code: int) -> str:
    """Why a child that wrote no result ended, in words."""
    return f"child process killed by {signal.Signals(-code).name}" if code < 0 else f"child process exited with code {code} and no result"


def run_in_child(request: RunRequest, timeout_s: float | None, env: dict[str, str] | None = None) -> RunResult:
    """One row in a fresh `python -m workbench.run.child`; deaths and time-outs become statuses.

    `env` adds variables to the child's environment (the Ray executor forwards the driver's FRAMEBENCH_* ones).
    """
    with tempfile.TemporaryDirectory(prefix="framebench-") as tmp:
        req_path, res_path = Path(tmp, "request.json"), Path(tmp, "result.json")
        req_path.write_text(json.dumps(request.to_dict()))
        cmd = [sys.executable, "-m", "workbench.run.child", str(req_path), str(res_path)]
        code = _wait(start_child(cmd, child_env(request.settings.threads, env)), timeout_s)
        if code is None:
            return failed_row(request, "timeout", f"no result after the {timeout_s:g} s --timeout")
        if res_path.exists():
            return RunResult.from_dict(json.loads(res_path.read_text()))
        return failed_row(request, "crashed", _death(code))


def run_in_shared_child(requests: list[RunRequest], timeout_s: float | None) -> list[RunResult]:
    """Several rows of one engine, one after another in one fresh child (the engine starts once); a death or a
    time-out (`timeout_s` per row) fails the rows that have no result yet."""
    with tempfile.TemporaryDirectory(prefix="framebench-") as tmp:
        req_path, res_path = Path(tmp, "requests.json"), Path(tmp, "results.json")
        req_path.write_text(json.dumps([r.to_dict() for r in requests]))
        cmd = [sys.executable, "-m", "workbench.run.child", str(req_path), str(res_path)]
        code = _wait(start_child(cmd, child_env(requests[0].settings.threads)), None if timeout_s is None else timeout_s * len(requests))
        done = [RunResult.from_dict(r) for r in json.loads(res_path.read_text())] if res_path.exists() else []
    if code is None:
        status, why = "timeout", f"no result after {len(requests)} x the {timeout_s:g} s --timeout"
    else:
        status, why = "crashed", _death(code)
    return done + [failed_row(r, status, why) for r in requests[len(done):]]


def request_key(request: RunRequest) -> tuple:
    """The `row_key` of the row this request runs."""
    s = request.settings
    return row_key(request.framework, request.model, s.seed, s.mode, dict(request.config))


def same_row(asked: tuple, saved: tuple) -> bool:
    """Whether a saved row's key answers a request's: equal, or equal but for the mode where the request asked for the
    engine's default mode ("", which the saved row names, e.g. "eager")."""
    return asked == saved or (asked[3] == "" and asked[:3] + asked[4:] == saved[:3] + saved[4:])


def saved_row(request: RunRequest, plan: RunPlan) -> RunResult | None:
    """The saved row (--resume) that answers this request, ok or not, or None."""
    asked = request_key(request)
    return plan.kept.get(asked) or next((row for key, row in plan.kept.items() if same_row(asked, key)), None)


def kept_row(request: RunRequest, plan: RunPlan) -> RunResult | None:
    """The --resume row that stands for this request, if it finished ok before (the other saved rows run again)."""
    row = saved_row(request, plan)
    return row if row is not None and row.status == "ok" else None


def finish_row(result: RunResult, request: RunRequest, plan: RunPlan, node: str) -> RunResult:
    """Shared facts every executor sets on a fresh row: what was asked for and where it ran."""
    result.mode = result.mode or request.settings.mode  # the child names the mode it resolved; a crashed one cannot
    result.model_id, result.compiled = request.model, result.mode == "compiled"
    result.config, result.node = dict(request.config), node
    return result


def run_row(request: RunRequest, plan: RunPlan) -> RunResult:
    """One row: kept from the resumed file, or run in a child (or in this process)."""
    kept = kept_row(request, plan)
    if kept is not None:
        return kept
    if plan.in_process:
        result = execute(request)
    else:
        result = run_in_child(request, plan.timeout_s)
    return finish_row(result, request, plan, socket.gethostname())


def local_rows(plan: RunPlan) -> Iterator[tuple[int, RunResult]]:
    """The local executor: (plan index, result), one row after another, in plan order; with shared children, engine
    by engine (in the order the plan first names them), each engine's rows in one child."""
    if not plan.shared_children or plan.in_process:
        for index, request in enumerate(plan.requests):
            yield index, run_row(request, plan)
        return
    engines: dict[str, list[int]] = {}
    for index, request in enumerate(plan.requests):
        engines.setdefault(request.framework, []).append(index)
    for indexes in engines.values():
        kept = {i: kept_row(plan.requests[i], plan) for i in indexes}
        fresh = [i for i in indexes if kept[i] is None]
        ran = dict(zip(fresh, run_in_shared_child([plan.requests[i] for i in fresh], plan.timeout_s))) if fresh else {}
        node = socket.gethostname()
        for i in indexes:
            yield i, kept[i] or finish_row(ran[i], plan.requests[i], plan, node)
