"""Small specs of every layer type, for fast layout, equivalence and parameter-count tests."""

from __future__ import annotations

from dataclasses import replace

from tasks.spec import (
    GRU,
    LSTM,
    AveragePooling2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPool1D,
    LayerNorm,
    MaxPool2D,
    ModelSpec,
    ReLU,
    TaskSpec,
    TrainSpec,
)

MLP = ModelSpec(input_shape=(12,), layers=(Dense(8), ReLU(), Dense(6), ReLU(), Dense(3)))
CNN = ModelSpec(
    input_shape=(8, 8, 3),
    layers=(
        Conv2D(4, 3, 1), BatchNorm(), ReLU(), MaxPool2D(2),
        Conv2D(5, 3, 1), BatchNorm(), ReLU(), Flatten(), Dense(6), ReLU(), Dense(3),
    ),
)  # fmt: skip
RNN = ModelSpec(
    input_shape=(7,), layers=(Embedding(11, 4), LSTM(5), Dense(1)), input_dtype="int", loss="binary_cross_entropy"
)
# issue 15's layers: a GRU after a 'same' Conv1D, a text CNN, and both average-pooling divisors with LayerNorm and GAP
GRU_RNN = ModelSpec(
    input_shape=(7,), layers=(Embedding(11, 4), Conv1D(5, 3, padding=1), ReLU(), GRU(4), Dense(1)),
    input_dtype="int", loss="binary_cross_entropy",
)  # fmt: skip
TEXT_CNN = ModelSpec(
    input_shape=(7,), layers=(Embedding(11, 4), Conv1D(5, 3), ReLU(), GlobalMaxPool1D(), Dense(1)),
    input_dtype="int", loss="binary_cross_entropy",
)  # fmt: skip
POOL = ModelSpec(
    input_shape=(5, 5, 3),
    layers=(
        Conv2D(4, 3, 1), AveragePooling2D(3, strides=2, padding=1, count_include_pad=False), LayerNorm(eps=1e-3), ReLU(),
        AveragePooling2D(3, strides=1, padding=1, count_include_pad=True), GlobalAveragePooling2D(), Dense(3),
    ),
)  # fmt: skip
MODELS = {"mlp": MLP, "cnn": CNN, "rnn": RNN, "gru": GRU_RNN, "textcnn": TEXT_CNN, "pool": POOL}


def tiny_task(model: ModelSpec, batch_size: int = 4) -> TaskSpec:
    """A task around a tiny model (data spec unused)."""
    return replace(TaskSpec(name="tiny"), model=model, train=TrainSpec(batch_size=batch_size, epochs=1, seed=0))
