"""Small specs of every layer type, for fast layout, equivalence and parameter-count tests."""

from __future__ import annotations

from dataclasses import replace

from tasks.spec import (
    LSTM,
    BatchNorm,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
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
MODELS = {"mlp": MLP, "cnn": CNN, "rnn": RNN}


def tiny_task(model: ModelSpec, batch_size: int = 4) -> TaskSpec:
    """A task around a tiny model (data spec unused)."""
    return replace(TaskSpec(name="tiny"), model=model, train=TrainSpec(batch_size=batch_size, epochs=1, seed=0))
