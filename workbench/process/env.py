"""The environment of a child process: thread counts for every BLAS/OpenMP runtime, and the repository on its path."""

from __future__ import annotations

import os
from pathlib import Path

from frameworks.base import THREADS_VAR

ROOT = Path(__file__).resolve().parent.parent.parent  # the repository: children import tasks/, frameworks/, workbench/
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", THREADS_VAR)


def child_env(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus `extra`, with every thread variable set to `threads` (THREADS_VAR for the
    adapters whose framework reads its thread count from the environment at import)."""
    env = {**os.environ, **(extra or {})}
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env
