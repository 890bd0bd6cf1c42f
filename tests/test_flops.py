"""FLOP counts by hand for small layers, and for the MNIST MLP."""

from __future__ import annotations

from tasks import registry
from tasks.flops import forward_flops, train_flops
from tasks.spec import LSTM, Conv2D, Dense, Embedding, ModelSpec, ReLU


def test_dense_and_relu():
    model = ModelSpec(input_shape=(4,), layers=(Dense(3), ReLU(), Dense(2)))
    assert forward_flops(model) == 2 * 4 * 3 + 3 + 2 * 3 * 2
    assert train_flops(model) == 3 * forward_flops(model)


def test_conv_counts_every_output_position():
    model = ModelSpec(input_shape=(5, 5, 2), layers=(Conv2D(4, 3, 1),))
    assert forward_flops(model) == 2 * 5 * 5 * 4 * 9 * 2


def test_lstm_counts_every_step():
    model = ModelSpec(input_shape=(7,), layers=(Embedding(10, 3), LSTM(5)), input_dtype="int")
    assert forward_flops(model) == 2 * 7 * 4 * 5 * (3 + 5) + 7 * 10 * 5


def test_mnist_mlp():
    assert forward_flops(registry.get("mnist").spec.model) == 2 * (784 * 256 + 256 * 128 + 128 * 10) + 256 + 128
