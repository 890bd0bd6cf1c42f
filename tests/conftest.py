"""Test-wide settings: no network, a private cache folder, one JAX compilation cache for the run, the repo importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Rows default to one thread in tests (--threads' default, workbench/options.py): the two pytest workers share the two
# cores, and two threads per child then wait for each other. Two copies of the shared digits run at once took 38.0 CPU-s
# each at 2 threads and 34.2 at 1 (2026-12-08). Set at import, before any test module builds an Options; a test that
# needs another count passes --threads.
os.environ.setdefault("FRAMEBENCH_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _offline_and_private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never touch the network and never write to the user's cache."""
    os.environ["FRAMEBENCH_OFFLINE"] = "1"
    run_dir = tmp_path_factory.getbasetemp()
    shared = run_dir.parent if os.environ.get("PYTEST_XDIST_WORKER") else run_dir  # one folder for both xdist workers
    # This run's own cache, shared by the workers: CIFAR-10 and MNIST are prepared once for the run
    # (tasks/prepared_cache.py), then mapped by every other process that loads them.
    os.environ["FRAMEBENCH_CACHE"] = str(shared / "framebench-cache")
    # Two workers share the two cores, so every child runs beside a busy process: OpenMP threads that spin while they
    # wait take the other worker's core (docs/modes.md: PyTorch at 2 threads ran 6x slower beside one busy process).
    # A passive wait changes no result, only who gets the CPU; no test times anything.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Many tests' children compile the same XLA programs (the digits network's step, in two JAX engines): JAX's own
    # persistent cache, on disk for this test run only (shared by the xdist workers), compiles each once. A cache hit
    # loads the compiled executable, so results are the same; compile seconds are smaller, and no test times them.
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(shared / "jax-compilation-cache")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"  # the default, 1 s, skips most small programs
    # XLA's CPU compiler spends most of a JAX check child's time compiling programs that then run a few tiny steps:
    # at LLVM optimisation level 0 the check of the 6 tiny specs took 63 instead of 97 CPU-s in jax and 65 instead of
    # 124 in keras-jax; without XLA's newer fusion emitters (MLIR code generation for fused ops) it took half of that
    # again (jax and keras-jax together, 26.9 -> 12.1 s wall, 2026-12-08). The programs compute the same operations:
    # every row's status stayed the same, float64 results moved by a few 1e-16 and float32 ones by float32 rounding.
    # TensorFlow's XLA accepts both flags. Users' runs keep XLA's defaults; no test times anything.
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false"):
        if flag.split("=")[0] not in flags:
            flags = f"{flags} {flag}".strip()
    os.environ["XLA_FLAGS"] = flags
