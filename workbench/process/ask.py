"""Ask one framework's adapter module a question in a fresh process: the caller passes the function that answers.

    ask(workbench.teach.facts.answer, "pytorch", request)   # runs answer(adapter_module, request, arrays) in a child

The parent never imports a framework. --explain, --check, --export's reload checks and the device question run
here, one child per framework, so that one library on several backends can run in one comparison and a framework
that fails to import costs only its own column. Inputs and answer are files in a temporary folder:
`request.json` and `arrays.npz` in, `answer.json` and `answer.npz` out (NumPy arrays without pickle). The function
travels as its import path (`module:name`); the child imports only functions of the workbench package.

With FRAMEBENCH_WARM_ENGINES=1 (a notebook, the test suite) each framework's child stays alive between questions
(`python -m workbench.process.ask --serve FRAMEWORK`, one per framework, thread count and environment), so a
framework starts once per process, not once per question. Each answer sets what it needs (configure, dtypes) as in
a fresh child. Training rows never come here: they always run in a fresh child (workbench/run/runner.py).
"""

from __future__ import annotations

import importlib
import atexit
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from frameworks.base import DEVICE_VAR, load_adapter_module
from workbench.process.env import child_env
from workbench.process.files import atomic_write_text
from workbench.process.lines import error_kind, one_line

Arrays = dict[str, np.ndarray]
Answer = Callable[[ModuleType, dict, Arrays], tuple[dict, Arrays]]  # (adapter module, request, arrays) -> answer
TRUSTED_PREFIX = "workbench."  # the only package whose functions a child imports by name
ASK_TIMEOUT_S = 900  # default wait for one answer
WARM_VAR = "FRAMEBENCH_WARM_ENGINES"  # "1": one child per framework answers every question of this process
WARM_LIMIT = 6  # warm children kept at most; the least recently asked one ends first


class AskError(Exception):
    """The child could not answer: the message is one line naming the framework and the reason; `kind` is the
    failure's type: one of workbench.run.result.ERROR_KINDS when the child caught it, "timeout" or "crashed"."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def function_path(function: Answer) -> str:
    """`module:name` of a module-level function of the workbench (refused otherwise: a child could not import it)."""
    path = f"{function.__module__}:{function.__qualname__}"
    if not function.__module__.startswith(TRUSTED_PREFIX) or "." in function.__qualname__:
        raise ValueError(f"ask needs a module-level function of the workbench package, not {path}")
    return path


def load_function(path: str) -> Answer:
    """Inverse of `function_path`, in the child."""
    module, _, name = path.partition(":")
    if not module.startswith(TRUSTED_PREFIX) or not name.isidentifier():
        raise ValueError(f"not a workbench function: {path!r}")
    return getattr(importlib.import_module(module), name)


def ask(answer: Answer, framework: str, request: dict, arrays: Arrays | None = None, threads: int = 1,
        timeout: float | None = ASK_TIMEOUT_S) -> tuple[dict, Arrays]:  # fmt: skip
    """Run answer(adapter module of `framework`, request, arrays) in a child process; its (JSON answer, arrays)."""
    with tempfile.TemporaryDirectory(prefix="framebench-ask-") as tmp:
        folder = Path(tmp)
        (folder / "request.json").write_text(json.dumps(request))
        np.savez(folder / "arrays.npz", **(arrays or {}))
        if os.environ.get(WARM_VAR) == "1":
            key, child = _take_warm(framework, threads)
            try:
                stderr = child.answer(function_path(answer), tmp, timeout)
            finally:
                _give_back(key, child)
        else:
            cmd = [sys.executable, "-m", "workbench.process.ask", function_path(answer), framework, tmp]
            try:
                proc = subprocess.run(cmd, env=child_env(threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, timeout=timeout)  # fmt: skip
            except subprocess.TimeoutExpired:
                raise AskError(f"{framework}: no answer after {timeout:g} s", "timeout") from None
            stderr = proc.stderr if proc.stderr.strip() else f"exit code {proc.returncode}"
        answer_path = folder / "answer.json"
        if not answer_path.exists():
            last = [line for line in stderr.splitlines() if line.strip()][-1]
            raise AskError(f"{framework}: the child process ended without an answer ({last.strip()})", "crashed")
        reply = json.loads(answer_path.read_text())
        if "error" in reply:
            raise AskError(f"{framework}: {reply['error']}", reply.get("error_kind", "adapter"))
        with np.load(folder / "answer.npz", allow_pickle=False) as stored:
            return reply, {k: stored[k] for k in stored.files}


class WarmChild:
    """A child that answers question after question: `folder` lines in on stdin, "done" lines out."""

    def __init__(self, framework: str, env: dict[str, str]) -> None:
        self.framework, self.log = framework, tempfile.TemporaryFile()  # its stderr, read back after a death
        cmd = [sys.executable, "-m", "workbench.process.ask", "--serve", framework]
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, bufsize=1)  # fmt: skip

    def answer(self, path: str, folder: str, timeout: float | None) -> str:
        """Ask; "" once it answered, else its stderr (it died, and is dropped); AskError after `timeout`."""
        try:
            self.proc.stdin.write(f"{path}\t{folder}\n")
            self.proc.stdin.flush()
            with selectors.DefaultSelector() as selector:
                selector.register(self.proc.stdout, selectors.EVENT_READ)
                if not selector.select(timeout):
                    raise AskError(f"{self.framework}: no answer after {timeout:g} s", "timeout")
            reply = self.proc.stdout.readline()
        except (BrokenPipeError, ValueError):  # it had died before the question
            reply = ""
        except BaseException:  # the time-out, Ctrl-C: a child left mid-question must not answer the next one
            self.close()
            raise
        if reply == "done\n":
            return ""
        self.close()
        self.log.seek(0)
        stderr = self.log.read().decode(errors="replace")
        return stderr if stderr.strip() else f"exit code {self.proc.returncode}"

    def close(self) -> None:
        """End it: stdin closed, then killed if still there."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


_WARM: dict[tuple, WarmChild] = {}  # (framework, threads, environment) -> an idle warm child, least recently asked first
_WARM_LOCK = threading.Lock()  # ask may run in threads (the device question asks every framework at once)


def _take_warm(framework: str, threads: int) -> tuple[tuple, WarmChild]:
    """An idle warm child for this framework, thread count and environment (the current test's name aside), taken
    out of the pool while it answers; a new one if none is idle."""
    env = child_env(threads)
    key = (framework, threads, tuple(sorted((k, v) for k, v in env.items() if k != "PYTEST_CURRENT_TEST")))
    with _WARM_LOCK:
        child = _WARM.pop(key, None)
    if child is None or child.proc.poll() is not None:
        child = WarmChild(framework, env)
    return key, child


def _give_back(key: tuple, child: WarmChild) -> None:
    """Put a child that is still alive back in the pool; the oldest ones beyond WARM_LIMIT end."""
    if child.proc.poll() is not None:
        return
    with _WARM_LOCK:
        ending = [c for c in (_WARM.pop(key, None),) if c is not None]  # one another thread gave back meanwhile
        _WARM[key] = child
        while len(_WARM) > WARM_LIMIT:
            ending.append(_WARM.pop(next(iter(_WARM))))
    for extra in ending:
        extra.close()


@atexit.register
def _close_warm_children() -> None:
    with _WARM_LOCK:
        children = list(_WARM.values())
        _WARM.clear()
    for child in children:
        child.close()


def serve(framework: str) -> int:
    """The warm child's loop: answer each `PATH<TAB>FOLDER` line from stdin as `main` does, then print "done";
    end when stdin closes (the parent ended). What the answers print goes to stderr, not to the replies."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        path, folder = line.rstrip("\n").split("\t")
        main([path, framework, folder])
        replies.write("done\n")
    return 0


def answer_each(answer: Answer, module: ModuleType, requests: list[dict], arrays: Arrays) -> tuple[list[dict], Arrays]:
    """answer() of several requests in one child, so that a framework is imported once for all of them: request i
    reads the arrays named "j{i}/..." (without the prefix) and its outputs come back under the same prefix. A request
    that raises gives {"error": one line, "error_kind"} and costs only its own entry."""
    replies, out = [], {}
    for i, request in enumerate(requests):
        prefix = f"j{i}/"
        try:
            reply, found = answer(module, request, {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
        except Exception as exc:  # noqa: BLE001 - errors are values, as in main below
            if os.environ.get("FRAMEBENCH_DEBUG"):
                traceback.print_exc()
            reply, found = {"error": one_line(exc), "error_kind": error_kind(exc)}, {}
        replies.append(reply)
        out.update({prefix + k: v for k, v in found.items()})
    return replies, out


def main(argv: list[str]) -> int:
    """Answer one question; any exception becomes {"error": one line} (the traceback with FRAMEBENCH_DEBUG)."""
    path, framework, folder = argv[0], argv[1], Path(argv[2])
    reply, arrays = {}, {}
    try:
        request = json.loads((folder / "request.json").read_text())
        with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
            inputs = {k: stored[k] for k in stored.files}
        os.environ[DEVICE_VAR] = request.get("device", "cpu")
        function = load_function(path)
        reply, arrays = function(load_adapter_module(framework), request, inputs)
    except Exception as exc:  # noqa: BLE001 - errors are values: the parent shows them as one line
        if os.environ.get("FRAMEBENCH_DEBUG"):
            traceback.print_exc()
        reply, arrays = {"error": one_line(exc), "error_kind": error_kind(exc)}, {}
    np.savez(folder / "answer.npz", **arrays)
    atomic_write_text(folder / "answer.json", json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[2]) if sys.argv[1:2] == ["--serve"] else main(sys.argv[1:]))
