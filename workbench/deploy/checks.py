"""The reload check of one artifact: its logits against the in-memory model's, and its inference timings.

Tolerances are float32's (the exports are float32 graphs): an artifact is ok when every logit on the
first CHECK_SAMPLES test samples is within ATOL + RTOL * |in-memory logit| (numpy.allclose's rule).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from frameworks.base import EVAL_BATCH
from tasks.pipeline import batch_slices
from workbench.check.measure import difference
from workbench.process.timing import LATENCY_CALLS, latency_ms

CHECK_SAMPLES = 1000  # test samples whose logits the reloaded artifact must reproduce
ATOL, RTOL = 1e-5, 1e-5  # float32: a few units in the last place of logits of size ~1-10


def predict_all(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """Logits for X in batches of EVAL_BATCH, whatever batch the artifact's loader takes at once."""
    return np.concatenate([np.asarray(predict(X[part])) for part in batch_slices(len(X), EVAL_BATCH)])


def judge(logits: np.ndarray, expected: np.ndarray) -> dict:
    """max abs and max rel difference (elementwise, never sorted), and ok / FAIL at the stated tolerances."""
    max_abs, max_rel = difference(logits, expected)
    close = logits.shape == expected.shape and bool(np.all(np.abs(logits - expected) <= ATOL + RTOL * np.abs(expected)))
    return {"max_abs": max_abs, "max_rel": max_rel, "atol": ATOL, "rtol": RTOL, "status": "ok" if close else "FAIL"}


def timings(predict: Callable[[np.ndarray], np.ndarray], X_test: np.ndarray, calls: int = LATENCY_CALLS) -> dict:
    """Batch-1 latency p50/p95 and test-set throughput, after one warm-up batch (tracing, first allocations)."""
    p50, p95 = latency_ms(predict, X_test, calls)
    predict_all(predict, X_test[:EVAL_BATCH])
    start = time.perf_counter()
    predict_all(predict, X_test)
    seconds = time.perf_counter() - start
    return {"latency_ms_p50": p50, "latency_ms_p95": p95, "infer_throughput": len(X_test) / seconds if seconds else None}
