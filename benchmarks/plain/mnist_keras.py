"""MNIST MLP the way a Keras user writes it: Sequential, compile, fit on NumPy arrays."""

from __future__ import annotations

from common import arrays, parse, report

args = parse(__doc__)
from keras_common import EpochTimer, keras, setup  # noqa: E402

setup(args.threads)
X, y = arrays("mnist", args.data_dir, args.subset)

model = keras.Sequential(
    [keras.Input((784,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)]
)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
timer = EpochTimer()
model.fit(X, y, batch_size=128, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[timer])
report(timer.seconds, len(X))
