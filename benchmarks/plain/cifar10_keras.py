"""CIFAR-10 CNN the way a Keras user writes it: Sequential, compile, fit on NumPy arrays."""

from __future__ import annotations

from common import arrays, parse, report

args = parse(__doc__)
from keras_common import EpochTimer, keras, setup  # noqa: E402

setup(args.threads)
X, y = arrays("cifar10", args.data_dir, args.subset)

def block(filters: int) -> list[keras.layers.Layer]:
    """conv3x3 -> BatchNorm -> ReLU."""
    return [keras.layers.Conv2D(filters, 3, padding="same"), keras.layers.BatchNormalization(), keras.layers.ReLU()]

model = keras.Sequential([
    keras.Input((32, 32, 3)), *block(32), keras.layers.MaxPooling2D(), *block(64), keras.layers.MaxPooling2D(),
    *block(64), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10),
])  # fmt: skip
model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
timer = EpochTimer()
model.fit(X, y, batch_size=256, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[timer])
report(timer.seconds, len(X))
