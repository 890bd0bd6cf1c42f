"""Test-wide settings: no network, a private cache folder, one JAX compilation cache for the run, the repo importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True, scope="session")
def _offline_and_private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never touch the network and never write to the user's cache."""
    os.environ["FRAMEBENCH_OFFLINE"] = "1"
    os.environ["FRAMEBENCH_CACHE"] = str(tmp_path_factory.mktemp("framebench-cache"))
    # Many tests' children compile the same XLA programs (the digits network's step, in two JAX engines): JAX's own
    # persistent cache, on disk for this test run only (shared by the xdist workers), compiles each once. A cache hit
    # loads the compiled executable, so results are the same; compile seconds are smaller, and no test times them.
    run_dir = tmp_path_factory.getbasetemp()
    shared = run_dir.parent if os.environ.get("PYTEST_XDIST_WORKER") else run_dir
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(shared / "jax-compilation-cache")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"  # the default, 1 s, skips most small programs
