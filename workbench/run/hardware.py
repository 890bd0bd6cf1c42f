"""This machine's float32 matmul peak (measured by benchmarks/peak.py), for the efficiency column."""

from __future__ import annotations

import json
import time

import numpy as np

from tasks.download import cache_dir
from workbench.run.result import atomic_write_text

PEAK_FILE = "matmul_peak.json"


def measure_matmul_peak(n: int = 4096, repeats: int = 5) -> float:
    """Best GFLOP/s of an n x n float32 GEMM with NumPy's BLAS (threads as the environment limits)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: thread pool start, page faults
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def save_peak(gflops: float, threads: int) -> None:
    """Remember the measured peak for later runs (in the user cache folder)."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / PEAK_FILE, json.dumps({"gflops": gflops, "threads": threads}))


def saved_peak(threads: int) -> float | None:
    """The peak measured with the same thread count, if benchmarks/peak.py has been run."""
    path = cache_dir() / PEAK_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return float(data["gflops"]) if data.get("threads") == threads else None
