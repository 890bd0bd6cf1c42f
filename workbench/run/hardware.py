"""This machine's matmul peaks (measured by benchmarks/peak.py), for the efficiency column.

The CPU's float32 GEMM peak (NumPy's BLAS) is measured here; a GPU's peaks per precision (fp32, tf32, bf16, fp16)
are measured by benchmarks/peak.py with a framework and saved beside it. A row's "% of peak" divides by the peak of
its own device and precision only: a GPU row, or a CPU row in another precision, without a measured peak has none.
"""

from __future__ import annotations

import json
import time

import numpy as np

from tasks.download import cache_dir
from workbench.run.result import atomic_write_text

PEAK_FILE = "matmul_peak.json"  # {"gflops": F, "threads": T} (the CPU, float32) and "gpus": {device name: {precision: F}}


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


def _saved() -> dict:
    try:
        data = json.loads((cache_dir() / PEAK_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict) -> None:
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / PEAK_FILE, json.dumps(data, indent=1))


def save_peak(gflops: float, threads: int) -> None:
    """Remember the CPU's float32 peak for later runs (in the user cache folder); GPU peaks are kept."""
    _write({**_saved(), "gflops": gflops, "threads": threads})


def save_gpu_peaks(device: str, peaks: dict[str, float]) -> None:
    """Remember one GPU's peaks, e.g. save_gpu_peaks("cuda:0 NVIDIA H200", {"fp32": 5.1e4, "tf32": 4.0e5})."""
    data = _saved()
    data["gpus"] = {**data.get("gpus", {}), device: dict(peaks)}
    _write(data)


def saved_peak(threads: int, device: str = "cpu", precision: str = "fp32") -> float | None:
    """The peak of the row's device and precision: the CPU's float32 peak measured with the same thread count,
    or the saved peak of the GPU named `device` (e.g. "cuda:0 NVIDIA H200") in `precision`; else None."""
    data = _saved()
    if device == "cpu":
        if precision != "fp32" or data.get("threads") != threads or "gflops" not in data:
            return None
        return float(data["gflops"])
    figure = data.get("gpus", {}).get(device, {}).get(precision)
    return float(figure) if figure else None
