"""IMDB LSTM the way a Keras user writes it: Sequential, compile, fit on NumPy arrays."""

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
X, y = arrays("sentiment", args.data_dir, args.subset)
epoch_seconds: list[float] = []


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch."""

    def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001, D102
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001, D102
        epoch_seconds.append(time.perf_counter() - self.start)


model = keras.Sequential([keras.Input((200,), dtype="int32"), keras.layers.Embedding(20000, 128), keras.layers.LSTM(64), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
model.fit(X, y.astype("float32"), batch_size=64, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[EpochTimer()])
report(epoch_seconds, len(X))
