"""What the plain Flax scripts share: the thread count (before JAX starts) and the epoch loop a Flax user writes."""

from __future__ import annotations

import os
import time


def setup(threads: int) -> None:
    """Same thread count as the workbench gives XLA: PJRT_NPROC sizes its CPU thread pool when it starts."""
    os.environ["PJRT_NPROC"] = str(threads)


def train(train_step, model, optimizer, X, y, batch_size: int, epochs: int) -> list[float]:  # noqa: ANN001
    """Shuffle and slice NumPy batches (what a data loader hands a Flax user), step; each epoch's wall time.

    Measured on MNIST, 2 threads: NumPy batches into @nnx.jit ran 36k samples/s, slicing device
    arrays eagerly (X[idx] outside the step: two more dispatches per step) only 21k.
    """
    import numpy as np

    rng, epoch_seconds = np.random.default_rng(0), []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = perm[i : i + batch_size]
            loss = train_step(model, optimizer, X[idx], y[idx])
        loss.block_until_ready()  # JAX dispatches asynchronously: wait for the last step
        epoch_seconds.append(time.perf_counter() - start)
    return epoch_seconds
