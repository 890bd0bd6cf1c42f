"""What the plain Keras scripts share: the backend, thread count, seed and an epoch timer.

The same script is the plain Keras-TF, Keras-JAX and Keras-torch script: a Keras 3 user changes
only KERAS_BACKEND (tensorflow by default here, as in the workbench's `keras` engine).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402


def setup(threads: int) -> None:
    """Same thread count as the workbench gives the backend; a fixed seed."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif backend == "jax":
        os.environ["PJRT_NPROC"] = str(threads)  # read when XLA's CPU client starts, at the first op
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
    keras.utils.set_random_seed(0)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, appended to `seconds`."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001, D102
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001, D102
        self.seconds.append(time.perf_counter() - self.start)
