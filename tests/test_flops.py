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


def test_gru_and_text_cnn_count_every_step_and_position():
    from tasks.spec import GRU, Conv1D, GlobalMaxPool1D

    gru = ModelSpec(input_shape=(7,), layers=(Embedding(10, 3), GRU(5)), input_dtype="int")
    assert forward_flops(gru) == 2 * 7 * 3 * 5 * (3 + 5) + 7 * 10 * 5
    cnn = ModelSpec(input_shape=(7,), layers=(Embedding(10, 3), Conv1D(4, 3, 0), GlobalMaxPool1D()), input_dtype="int")
    assert forward_flops(cnn) == 2 * 5 * 4 * 3 * 3 + 5 * 4


def test_pooling_and_layernorm():
    from tasks.spec import AveragePooling2D, GlobalAveragePooling2D, LayerNorm

    model = ModelSpec(input_shape=(4, 4, 2), layers=(LayerNorm(), AveragePooling2D(2), GlobalAveragePooling2D()))
    assert forward_flops(model) == 5 * 32 + 2 * 2 * 2 * 4 + 8


def test_sentiment_transformer():
    """Every layer of the transformer counted by hand: the attention's projections, scores, softmax and weighted sum,
    the feed-forward Dense layers and GELU, the LayerNorms and residual Adds, the positions, the pooling, the logit."""
    model = registry.get("sentiment").variant("transformer").model
    attention = 4 * 2 * 200 * 64 * 64 + 2 * 2 * 200 * 200 * 64 + 4 * 200 * 200  # projections, q k^T and the sum, softmax
    ffn = 2 * (2 * 200 * 64 * 128) + 200 * 128  # two Dense layers at every position, GELU
    elementwise = 2 * 5 * 200 * 64 + 2 * 200 * 64  # two LayerNorms, two Adds
    assert forward_flops(model) == 200 * 64 + 2 * (attention + ffn + elementwise) + 200 * 64 + 2 * 64  # positions, pool, logit

