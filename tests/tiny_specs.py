"""Small specs of every layer type, for fast layout, equivalence and parameter-count tests."""

from __future__ import annotations

from dataclasses import replace

from tasks.spec import (
    GRU,
    LSTM,
    Add,
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
from tasks.spec_graph import Node, graph_model

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
# issue 15's layers, in the graph form (tasks/spec_graph.py): a text net whose GRU branch and text-CNN branch
# (GlobalMaxPool1D) join in an Add; a small ResNet with both average-pooling divisors, LayerNorm, a 1x1 projection
# where the channels change, and GlobalAveragePooling2D
TEXT = graph_model((7,), (
    Node("embed", Embedding(11, 4)),
    Node("same_conv", Conv1D(4, 3, padding=1)), Node("same_relu", ReLU()), Node("gru", GRU(4)),
    Node("valid_conv", Conv1D(4, 3), inputs=("embed",)), Node("valid_relu", ReLU()), Node("max", GlobalMaxPool1D()),
    Node("join", Add(), inputs=("gru", "max")),
    Node("logit", Dense(1)),
), input_dtype="int", loss="binary_cross_entropy")  # fmt: skip
RESNET = graph_model((5, 5, 3), (
    Node("stem", Conv2D(4, 3, 1)), Node("stem_bn", BatchNorm()), Node("stem_relu", ReLU()),
    Node("pool", AveragePooling2D(3, strides=2, padding=1, count_include_pad=False)),  # 5x5 -> 3x3
    Node("conv", Conv2D(4, 3, 1)), Node("norm", LayerNorm(eps=1e-3)),
    Node("join", Add(), inputs=("norm", "pool")), Node("relu", ReLU()),
    Node("wide_conv", Conv2D(5, 3, 1)), Node("wide_bn", BatchNorm()),
    Node("projection", Conv2D(5, 1, 0), inputs=("relu",)),  # 4 -> 5 channels on the shortcut
    Node("wide_join", Add(), inputs=("wide_bn", "projection")), Node("wide_relu", ReLU()),
    Node("smooth", AveragePooling2D(3, strides=1, padding=1, count_include_pad=True)),
    Node("gap", GlobalAveragePooling2D()), Node("logits", Dense(3)),
))  # fmt: skip
MODELS = {"mlp": MLP, "cnn": CNN, "rnn": RNN, "text": TEXT, "resnet": RESNET}


def tiny_task(model: ModelSpec, batch_size: int = 4) -> TaskSpec:
    """A task around a tiny model (data spec unused)."""
    return replace(TaskSpec(name="tiny"), model=model, train=TrainSpec(batch_size=batch_size, epochs=1, seed=0))
