"""The layers of tasks/spec_layers.py and the graph form in the NumPy reference: by hand, and backward vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from test_reference import FD_ATOL, max_fd_error, random_batch, random_weights, run_layer
from tiny_specs import MODELS

from tasks.reference import forward, loss_and_gradients
from tasks.reference_layers import _sigmoid
from tasks.spec import (
    GRU,
    Add,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    GlobalAveragePooling2D,
    GlobalMaxPool1D,
    LayerNorm,
    ModelSpec,
    ReLU,
    count_params,
    is_chain,
    output_shape,
    param_shapes,
)
from tasks.spec_graph import Node, graph_model

GRU_NET = ModelSpec(input_shape=(5,), layers=(Embedding(7, 3), GRU(4), Dense(1)), input_dtype="int", loss="binary_cross_entropy")
TEXT_CNN = ModelSpec(input_shape=(6,), layers=(Embedding(7, 3), Conv1D(4, 3, padding=1), ReLU(), GlobalMaxPool1D(), Dense(1)),
                     input_dtype="int", loss="binary_cross_entropy")  # fmt: skip


def pooling_net(count_include_pad: bool) -> ModelSpec:
    """Conv -> AveragePooling2D 3x3 stride 2 padding 1 (5x5 -> 3x3: every edge window padded) -> LayerNorm -> GAP -> Dense."""
    pool = AveragePooling2D(3, strides=2, padding=1, count_include_pad=count_include_pad)
    return ModelSpec(input_shape=(5, 5, 2), layers=(Conv2D(3, 3, 1), pool, LayerNorm(eps=1e-3), ReLU(), GlobalAveragePooling2D(), Dense(3)))


def test_gru_one_step_by_hand_with_scalars() -> None:
    """units 1: z, r, h gates and the reset applied after the recurrent matmul (and its bias)."""
    kernel, recurrent = np.array([[0.5, -0.3, 0.8]]), np.array([[0.2, 0.4, -0.6]])
    bias = np.array([[0.1, 0.2, 0.3], [-0.1, 0.05, 0.7]])
    x = np.array([[[1.5], [-0.5]]])  # N=1, T=2, F=1
    h = 0.0
    for x_t in (1.5, -0.5):
        z = _sigmoid(x_t * 0.5 + 0.1 + h * 0.2 - 0.1)
        r = _sigmoid(x_t * -0.3 + 0.2 + h * 0.4 + 0.05)
        c = np.tanh(x_t * 0.8 + 0.3 + r * (h * -0.6 + 0.7))
        h = z * h + (1 - z) * c
    out = run_layer(GRU(1), {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}, x)
    np.testing.assert_allclose(out, [[h]], rtol=0, atol=1e-15)


def test_gru_parameter_count_has_two_biases() -> None:
    assert count_params(ModelSpec(input_shape=(5, 3), layers=(GRU(4),))) == 3 * 4 * (3 + 4) + 2 * 3 * 4


def test_conv1d_and_global_max_pool_by_hand() -> None:
    x = np.arange(10.0).reshape(1, 5, 2)
    kernel = np.zeros((2, 2, 1))
    kernel[0, 0, 0], kernel[1, 1, 0] = 1.0, -1.0  # y_t = x[t, 0] - x[t + 1, 1]
    y = run_layer(Conv1D(1, 2, 0), {"kernel": kernel, "bias": np.array([0.5])}, x)
    np.testing.assert_allclose(y[0, :, 0], [x[0, t, 0] - x[0, t + 1, 1] + 0.5 for t in range(4)], rtol=0, atol=0)
    np.testing.assert_array_equal(run_layer(GlobalMaxPool1D(), {}, np.array([[[1.0, 5.0], [3.0, -1.0]]])), [[3.0, 5.0]])


@pytest.mark.parametrize("count_include_pad, corner", [(True, (0 + 1 + 3 + 4) / 9), (False, (0 + 1 + 3 + 4) / 4)])
def test_average_pooling_divisor_at_padded_edges(count_include_pad: bool, corner: float) -> None:
    """torch.nn.AvgPool2d's default counts the padded zeros (divide by 9); Keras' 'same' does not (4 real pixels)."""
    layer = AveragePooling2D(3, strides=1, padding=1, count_include_pad=count_include_pad)
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = run_layer(layer, {}, x)
    assert y.shape == (1, *output_shape(layer, (3, 3, 1)))
    np.testing.assert_allclose(y[0, 0, 0, 0], corner, rtol=0, atol=1e-15)
    np.testing.assert_allclose(y[0, 1, 1, 0], x.mean(), rtol=0, atol=1e-15)  # the centre window has no padding


@pytest.mark.parametrize("eps", [1e-5, 1e-3])
def test_layernorm_by_hand_states_eps(eps: float) -> None:
    x = np.array([[1.0, 2.0, 4.0]])
    y = run_layer(LayerNorm(eps), {"gamma": np.ones(3), "beta": np.zeros(3)}, x)
    np.testing.assert_allclose(y, (x - x.mean()) / np.sqrt(x.var() + eps), rtol=0, atol=1e-15)


def test_global_average_pooling_by_hand() -> None:
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(run_layer(GlobalAveragePooling2D(), {}, x), [[3.0, 4.0]])


@pytest.mark.parametrize("model", [GRU_NET, TEXT_CNN, pooling_net(True), pooling_net(False)], ids=["gru", "text_cnn", "avgpool_incl", "avgpool_excl"])
def test_new_layer_gradients_match_finite_differences(model: ModelSpec) -> None:
    assert max_fd_error(model, n=3) <= FD_ATOL


# ---------------------------------------------------------------- the graph form


def test_tiny_graph_specs_gradients_match_finite_differences() -> None:
    """Two branches that join in an Add (and an Embedding read by both): the gradients add up."""
    assert max_fd_error(MODELS["text"], n=3) <= FD_ATOL
    assert max_fd_error(MODELS["resnet"], n=3, training=True) <= FD_ATOL


def test_a_chain_graph_is_the_sequence() -> None:
    chain = graph_model((5,), (Node("embed", Embedding(7, 3)), Node("gru", GRU(4)), Node("logit", Dense(1))),
                        input_dtype="int", loss="binary_cross_entropy")  # fmt: skip
    assert chain.inputs == ((-1,), (0,), (1,)) and is_chain(chain) and is_chain(GRU_NET)
    weights = random_weights(GRU_NET)
    X, y = random_batch(GRU_NET, 3)
    np.testing.assert_array_equal(forward(chain, weights, X), forward(GRU_NET, weights, X))
    assert loss_and_gradients(chain, weights, X, y)[0] == loss_and_gradients(GRU_NET, weights, X, y)[0]


def test_add_sums_its_inputs_and_names_stay_index_names() -> None:
    model = graph_model((3,), (Node("a", Dense(2)), Node("b", Dense(2), inputs=("input",)), Node("sum", Add(), inputs=("a", "b"))))
    weights = random_weights(model)
    x = np.ones((1, 3))
    expected = x @ weights["dense_0.kernel"] + weights["dense_0.bias"] + x @ weights["dense_1.kernel"] + weights["dense_1.bias"]
    np.testing.assert_allclose(forward(model, weights, x), expected, rtol=0, atol=1e-15)
    assert list(param_shapes(model)) == ["dense_0.kernel", "dense_0.bias", "dense_1.kernel", "dense_1.bias"]


@pytest.mark.parametrize("nodes, message", [
    ((Node("a", Dense(2)), Node("a", Dense(2))), "used twice"),
    ((Node("a", Dense(2), inputs=("b",)), Node("b", Dense(2))), "not an earlier node"),
    ((Node("a", Dense(2)), Node("b", Dense(3), inputs=("input",)), Node("s", Add(), inputs=("a", "b"))), "different shapes"),
    ((Node("a", Dense(2)), Node("s", Add())), "an Add takes two or more"),
])  # fmt: skip
def test_bad_graphs_are_refused(nodes, message) -> None:
    with pytest.raises(ValueError, match=message):
        graph_model((3,), nodes)
