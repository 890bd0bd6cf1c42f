"""Run compare.py as a user would, in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python compare.py ARGS` from the repo root; returns the completed process (text mode)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "compare.py"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    """Exit code, a single stderr line naming the problem, and no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def default_sigint() -> None:
    """Popen's preexec_fn: in the new process Ctrl-C acts as in a terminal even when pytest runs as a background job,
    whose shell sets SIGINT to ignored, an inheritance Python keeps (it installs KeyboardInterrupt only over SIG_DFL)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
