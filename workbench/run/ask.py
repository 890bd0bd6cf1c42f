"""Ask one framework's adapter module a question in a fresh process: `python -m workbench.run.ask Q FRAMEWORK DIR`.

The parent never imports a framework. --explain and --check send their questions here, one child
per framework, so that one library on several backends can run in one comparison and a framework that fails
to import costs only its own column. Inputs and answer are files in DIR: `request.json` and
`arrays.npz` in, `answer.json` and `answer.npz` out (NumPy arrays without pickle).
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

import numpy as np

from frameworks.base import DEVICE_VAR, load_adapter_module
from workbench.run.result import atomic_write_text

# question -> "module:function" answering it, called as function(adapter_module, request, arrays)
QUESTIONS = {"teach": "workbench.teach.facts:answer", "measure": "workbench.check.measure:answer",
             "deploy": "workbench.deploy.reload:answer", "devices": "workbench.run.devices:answer",
             "mixed": "workbench.check.mixed:answer"}  # fmt: skip


class AskError(Exception):
    """The child could not answer: the message is one line naming the framework and the reason; `kind` is the
    failure's type: one of workbench.run.result.ERROR_KINDS when the child caught it, "timeout" or "crashed"."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def ask(question: str, framework: str, request: dict, arrays: dict[str, np.ndarray] | None = None,
        threads: int = 1, timeout: float | None = 900) -> tuple[dict, dict[str, np.ndarray]]:  # fmt: skip
    """Run the question in a child process and return its (JSON answer, arrays)."""
    from workbench.run.runner import child_env

    with tempfile.TemporaryDirectory(prefix="framebench-ask-") as tmp:
        folder = Path(tmp)
        (folder / "request.json").write_text(json.dumps(request))
        np.savez(folder / "arrays.npz", **(arrays or {}))
        cmd = [sys.executable, "-m", "workbench.run.ask", question, framework, tmp]
        try:
            proc = subprocess.run(cmd, env=child_env(threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, timeout=timeout)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise AskError(f"{framework}: no answer after {timeout:g} s", "timeout") from None
        answer_path = folder / "answer.json"
        if not answer_path.exists():
            last = [line for line in proc.stderr.splitlines() if line.strip()][-1:] or [f"exit code {proc.returncode}"]
            raise AskError(f"{framework}: the child process ended without an answer ({last[0].strip()})", "crashed")
        answer = json.loads(answer_path.read_text())
        if "error" in answer:
            raise AskError(f"{framework}: {answer['error']}", answer.get("error_kind", "adapter"))
        with np.load(folder / "answer.npz", allow_pickle=False) as stored:
            return answer, {k: stored[k] for k in stored.files}


def main(argv: list[str]) -> int:
    """Answer one question; any exception becomes {"error": one line} (the traceback with FRAMEBENCH_DEBUG)."""
    from workbench.run.child import error_kind, one_line

    question, framework, folder = argv[0], argv[1], Path(argv[2])
    answer, arrays = {}, {}
    try:
        request = json.loads((folder / "request.json").read_text())
        with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
            inputs = {k: stored[k] for k in stored.files}
        os.environ[DEVICE_VAR] = request.get("device", "cpu")
        module = load_adapter_module(framework)
        target, _, function = QUESTIONS[question].partition(":")
        answer, arrays = getattr(importlib.import_module(target), function)(module, request, inputs)
    except Exception as exc:  # noqa: BLE001 - errors are values: the parent shows them as one line
        if os.environ.get("FRAMEBENCH_DEBUG"):
            traceback.print_exc()
        answer, arrays = {"error": one_line(exc), "error_kind": error_kind(exc)}, {}
    np.savez(folder / "answer.npz", **arrays)
    atomic_write_text(folder / "answer.json", json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
