"""CIFAR-10 CNN the way a Keras user writes it: Sequential, compile, fit on NumPy arrays."""

from __future__ import annotations

import os
import time

from common import arrays, parse, report

args = parse(__doc__)
os.environ["KERAS_BACKEND"] = "tensorflow"
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
keras.utils.set_random_seed(0)
X, y = arrays("cifar10", args.data_dir, args.subset)
epoch_seconds: list[float] = []


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch."""

    def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001, D102
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001, D102
        epoch_seconds.append(time.perf_counter() - self.start)


def block(filters: int) -> list[keras.layers.Layer]:
    """conv3x3 -> BatchNorm -> ReLU."""
    return [keras.layers.Conv2D(filters, 3, padding="same"), keras.layers.BatchNormalization(), keras.layers.ReLU()]


model = keras.Sequential([
    keras.Input((32, 32, 3)), *block(32), keras.layers.MaxPooling2D(), *block(64), keras.layers.MaxPooling2D(),
    *block(64), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10),
])  # fmt: skip
model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(X, y, batch_size=256, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[EpochTimer()])
report(epoch_seconds, len(X))
