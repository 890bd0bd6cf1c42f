"""Ask one framework's adapter module a question in a fresh process: the caller passes the function that answers.

    ask(workbench.teach.facts.answer, "pytorch", request)   # runs answer(adapter_module, request, arrays) in a child

The parent never imports a framework. --explain, --check, --export's reload checks and the device question run
here, one child per framework, so that one library on several backends can run in one comparison and a framework
that fails to import costs only its own column. Inputs and answer are files in a temporary folder:
`request.json` and `arrays.npz` in, `answer.json` and `answer.npz` out (NumPy arrays without pickle). The function
travels as its import path (`module:name`); the child imports only functions of the workbench package.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
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
        cmd = [sys.executable, "-m", "workbench.process.ask", function_path(answer), framework, tmp]
        try:
            proc = subprocess.run(cmd, env=child_env(threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, timeout=timeout)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise AskError(f"{framework}: no answer after {timeout:g} s", "timeout") from None
        answer_path = folder / "answer.json"
        if not answer_path.exists():
            last = [line for line in proc.stderr.splitlines() if line.strip()][-1:] or [f"exit code {proc.returncode}"]
            raise AskError(f"{framework}: the child process ended without an answer ({last[0].strip()})", "crashed")
        reply = json.loads(answer_path.read_text())
        if "error" in reply:
            raise AskError(f"{framework}: {reply['error']}", reply.get("error_kind", "adapter"))
        with np.load(folder / "answer.npz", allow_pickle=False) as stored:
            return reply, {k: stored[k] for k in stored.files}


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
    sys.exit(main(sys.argv[1:]))
