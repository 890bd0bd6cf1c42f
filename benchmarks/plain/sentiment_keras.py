"""IMDB LSTM the way a Keras user writes it: Sequential, compile, fit on NumPy arrays."""

from __future__ import annotations

from common import arrays, parse, report

args = parse(__doc__)
from keras_common import EpochTimer, keras, setup  # noqa: E402

setup(args.threads)
X, y = arrays("sentiment", args.data_dir, args.subset)

model = keras.Sequential([keras.Input((200,), dtype="int32"), keras.layers.Embedding(20000, 128), keras.layers.LSTM(64), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
timer = EpochTimer()
model.fit(X, y.astype("float32"), batch_size=64, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[timer])
report(timer.seconds, len(X))
