"""Timing of predictions, the same for a training row and for a reloaded artifact."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

LATENCY_CALLS = 100  # batch-1 predictions timed for the latency figures (after WARMUP_CALLS)
DRY_RUN_LATENCY_CALLS = 5  # the same under --dry-run: seconds, not minutes
WARMUP_CALLS = 5  # untimed batch-1 calls first: tracing, first allocations


def latency_ms(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, calls: int) -> tuple[float, float]:
    """Median and 95th percentile of batch-1 prediction time, after WARMUP_CALLS warm-up calls."""
    sample = X[:1]
    for _ in range(WARMUP_CALLS):
        predict(sample)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predict(sample)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 95))
