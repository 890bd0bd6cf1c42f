"""What the plain Keras scripts share: the TensorFlow backend, thread count, seed and an epoch timer."""

from __future__ import annotations

import os
import time

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def setup(threads: int) -> None:
    """Same thread count as the workbench gives TensorFlow; a fixed seed."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
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
