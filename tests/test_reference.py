"""Tests for tasks.reference: hand-computed layers and losses, finite-difference gradients, optimizer steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasks import reference
from tasks.reference import (
    AdamState,
    adam_step,
    batchnorm_moving_update,
    finite_difference_gradients,
    forward,
    forward_layers,
    loss,
    loss_and_gradients,
    sgd_step,
    trainable_keys,
)
from tasks.spec import (
    LSTM,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    MaxPool2D,
    ModelSpec,
    ReLU,
    Tolerances,
    param_shapes,
)

FD_ATOL = Tolerances().finite_diff  # 1e-6

MLP = ModelSpec(input_shape=(4,), layers=(Dense(units=5), ReLU(), Dense(units=3)))
CNN = ModelSpec(
    input_shape=(7, 7, 2),  # 7 is odd: the first MaxPool2D drops the last row and column
    layers=(
        Conv2D(filters=3, kernel_size=3, padding=1),
        BatchNorm(),
        ReLU(),
        MaxPool2D(pool_size=2),
        Conv2D(filters=2, kernel_size=2, padding=1),
        BatchNorm(momentum=0.3),
        ReLU(),
        Flatten(),
        Dense(units=4),
        ReLU(),
        Dense(units=2),
    ),
)
RNN = ModelSpec(
    input_shape=(5,),
    layers=(Embedding(vocab_size=7, dim=3), LSTM(units=4), Dense(units=1)),
    input_dtype="int",
    loss="binary_cross_entropy",
)


def random_weights(model: ModelSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Small random float64 weights in the canonical layout; moving variances stay positive."""
    rng = np.random.default_rng(seed)
    weights = {}
    for key, shape in param_shapes(model).items():
        if key.endswith("moving_var"):
            weights[key] = rng.uniform(0.5, 1.5, size=shape)
        else:
            weights[key] = rng.normal(0.0, 0.5, size=shape)
    return weights


def random_batch(model: ModelSpec, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A tiny batch of inputs and labels that fits `model`."""
    rng = np.random.default_rng(seed)
    if model.input_dtype == "int":
        X = rng.integers(0, model.layers[0].vocab_size, size=(n, *model.input_shape))
    else:
        X = rng.normal(size=(n, *model.input_shape))
    num_classes = 2 if model.loss == "binary_cross_entropy" else model.layers[-1].units
    return X, rng.integers(0, num_classes, size=n)


def run_layer(layer, params: dict, x: np.ndarray, training: bool = False) -> np.ndarray:
    """Forward one layer through the reference's op table."""
    return reference.LAYER_OPS[type(layer)][0](layer, params, x, training)[0]


# ---------------------------------------------------------------- layers by hand


def test_dense_by_hand() -> None:
    params = {"kernel": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "bias": np.array([0.5, 0.0, -1.0])}
    y = run_layer(Dense(units=3), params, np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(y, [[9.5, 12.0, 14.0]], rtol=0, atol=1e-12)


def test_relu_by_hand() -> None:
    y = run_layer(ReLU(), {}, np.array([[-1.0, 0.0, 2.5]]))
    np.testing.assert_allclose(y, [[0.0, 0.0, 2.5]], rtol=0, atol=0)


def test_conv2d_is_unflipped_cross_correlation() -> None:
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # [[1,2,3],[4,5,6],[7,8,9]]
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    y = run_layer(Conv2D(filters=1, kernel_size=2, padding=0), {"kernel": kernel, "bias": np.array([0.5])}, x)
    # top-left: 1*1 + 2*2 + 3*4 + 4*5 = 37, and so on
    np.testing.assert_allclose(y[0, :, :, 0], [[37.5, 47.5], [67.5, 77.5]], rtol=0, atol=1e-12)


def test_conv2d_zero_padding_by_hand() -> None:
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    params = {"kernel": np.ones((3, 3, 1, 1)), "bias": np.zeros(1)}
    y = run_layer(Conv2D(filters=1, kernel_size=3, padding=1), params, x)
    expected = [[12.0, 21.0, 16.0], [27.0, 45.0, 33.0], [24.0, 39.0, 28.0]]  # 3x3 neighbourhood sums
    np.testing.assert_allclose(y[0, :, :, 0], expected, rtol=0, atol=1e-12)


def test_conv2d_hwio_matches_explicit_loops() -> None:
    rng = np.random.default_rng(0)
    x, kernel, bias = rng.normal(size=(2, 4, 5, 2)), rng.normal(size=(3, 3, 2, 3)), rng.normal(size=3)
    y = run_layer(Conv2D(filters=3, kernel_size=3, padding=1), {"kernel": kernel, "bias": bias}, x)
    x_pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = np.zeros((2, 4, 5, 3))
    for n in range(2):
        for r in range(4):
            for s in range(5):
                for o in range(3):
                    total = bias[o]
                    for i in range(3):
                        for j in range(3):
                            for c in range(2):
                                total += x_pad[n, r + i, s + j, c] * kernel[i, j, c, o]
                    expected[n, r, s, o] = total
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)


def test_maxpool_by_hand_with_floor() -> None:
    x = np.array(
        [
            [1.0, 2.0, 5.0, 0.0, 9.0],
            [3.0, 4.0, 1.0, 6.0, 9.0],
            [0.0, -1.0, 7.0, 7.0, 9.0],
            [-2.0, -3.0, 7.0, 2.0, 9.0],
            [9.0, 9.0, 9.0, 9.0, 9.0],
        ]
    ).reshape(1, 5, 5, 1)
    y = run_layer(MaxPool2D(pool_size=2), {}, x)  # the 9s in the last row/column are dropped
    np.testing.assert_allclose(y[0, :, :, 0], [[4.0, 6.0], [0.0, 7.0]], rtol=0, atol=0)


def test_maxpool_backward_routes_to_first_maximum() -> None:
    layer = MaxPool2D(pool_size=2)
    x = np.array([[1.0, 7.0, 2.0], [7.0, 7.0, 3.0], [4.0, 4.0, 4.0]]).reshape(1, 3, 3, 1)
    forward_fn, backward_fn = reference.LAYER_OPS[MaxPool2D]
    _, cache = forward_fn(layer, {}, x, False)
    dx, grads = backward_fn(layer, {}, cache, np.array([[[[5.0]]]]))
    expected = np.zeros((3, 3))
    expected[0, 1] = 5.0  # the first 7 in row-major window order
    np.testing.assert_allclose(dx[0, :, :, 0], expected, rtol=0, atol=0)
    assert grads == {}


def test_batchnorm_train_and_eval_by_hand() -> None:
    layer = BatchNorm(eps=1e-5)
    params = {
        "gamma": np.array([2.0, 1.0]),
        "beta": np.array([0.5, 0.0]),
        "moving_mean": np.array([1.0, 0.0]),
        "moving_var": np.array([4.0, 1.0]),
    }
    x = np.array([[1.0, 10.0], [3.0, 10.0]])  # channel 0: mean 2, biased var 1; channel 1: var 0
    s = 1.0 / math.sqrt(1.0 + 1e-5)
    y_train = run_layer(layer, params, x, training=True)
    np.testing.assert_allclose(y_train, [[-2.0 * s + 0.5, 0.0], [2.0 * s + 0.5, 0.0]], rtol=0, atol=1e-12)
    y_eval = run_layer(layer, params, x, training=False)
    s4 = 1.0 / math.sqrt(4.0 + 1e-5)
    np.testing.assert_allclose(y_eval, [[0.5, 10.0 / math.sqrt(1 + 1e-5)], [4.0 * s4 + 0.5, 10.0 / math.sqrt(1 + 1e-5)]], rtol=0, atol=1e-12)


def test_batchnorm_normalises_over_all_but_last_axis() -> None:
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(4, 3, 3, 2))
    params = {"gamma": np.ones(2), "beta": np.zeros(2), "moving_mean": np.zeros(2), "moving_var": np.ones(2)}
    y = run_layer(BatchNorm(eps=0.0), params, x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), [0.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), [1.0, 1.0], rtol=0, atol=1e-12)


def test_flatten_order_is_h_w_c() -> None:
    h, w, c = np.meshgrid(np.arange(2), np.arange(2), np.arange(3), indexing="ij")
    x = (100 * h + 10 * w + c).astype(np.float64)[None]  # value encodes its (h, w, c) position
    y = run_layer(Flatten(), {}, x)
    np.testing.assert_allclose(y[0], [0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112], rtol=0, atol=0)


def test_dropout_is_identity() -> None:
    x = np.array([[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(run_layer(Dropout(rate=0.5), {}, x, training=True), x, rtol=0, atol=0)


def test_embedding_lookup() -> None:
    table = np.array([[0.0, 0.1], [1.0, 1.1], [2.0, 2.1]])
    y = run_layer(Embedding(vocab_size=3, dim=2), {"embeddings": table}, np.array([[2, 0, 2]]))
    np.testing.assert_allclose(y, [[[2.0, 2.1], [0.0, 0.1], [2.0, 2.1]]], rtol=0, atol=0)


def test_lstm_two_steps_by_hand_with_scalars() -> None:
    w = {"i": 0.5, "f": -0.3, "c": 0.8, "o": 0.2}  # kernel, one per gate in order i, f, c, o
    u = {"i": 0.1, "f": 0.4, "c": -0.6, "o": 0.3}  # recurrent kernel
    b = {"i": 0.0, "f": 1.0, "c": 0.1, "o": -0.2}
    xs = [1.5, -0.7]

    def sig(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z))

    h = c = 0.0
    for x_t in xs:
        z = {gate: x_t * w[gate] + h * u[gate] + b[gate] for gate in "ifco"}
        c = sig(z["f"]) * c + sig(z["i"]) * math.tanh(z["c"])
        h = sig(z["o"]) * math.tanh(c)
    params = {
        "kernel": np.array([[w[g] for g in "ifco"]]),
        "recurrent_kernel": np.array([[u[g] for g in "ifco"]]),
        "bias": np.array([b[g] for g in "ifco"]),
    }
    y = run_layer(LSTM(units=1), params, np.array(xs).reshape(1, 2, 1))
    np.testing.assert_allclose(y, [[h]], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- losses by hand


def test_cross_entropy_by_hand() -> None:
    logits = np.array([[0.0, 0.0], [1.0, 2.0], [1000.0, 0.0]])
    y = np.array([0, 1, 1])
    per_sample = [math.log(2.0), math.log(1.0 + math.exp(-1.0)), 1000.0]
    np.testing.assert_allclose(loss(logits, y, "cross_entropy"), sum(per_sample) / 3, rtol=1e-14, atol=0)


def test_binary_cross_entropy_by_hand() -> None:
    logits = np.array([[0.0], [2.0], [1000.0], [-1000.0], [1000.0]])
    y = np.array([1, 0, 0, 0, 1])
    per_sample = [math.log(2.0), 2.0 + math.log(1.0 + math.exp(-2.0)), 1000.0, 0.0, 0.0]
    np.testing.assert_allclose(loss(logits, y, "binary_cross_entropy"), sum(per_sample) / 5, rtol=1e-14, atol=0)


def test_unknown_loss_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="cross_entropy, binary_cross_entropy, mse"):
        loss(np.zeros((1, 2)), np.zeros(1), "hinge")


# ---------------------------------------------------------------- model-level API


def test_forward_layers_labels_and_last_output() -> None:
    weights, (X, _) = random_weights(CNN), random_batch(CNN, 3)
    layers = forward_layers(CNN, weights, X)
    assert [label for label, _ in layers][:4] == ["0 Conv2D", "1 BatchNorm", "2 ReLU", "3 MaxPool2D"]
    assert [out.shape for _, out in layers][3] == (3, 3, 3, 3)
    np.testing.assert_allclose(layers[-1][1], forward(CNN, weights, X), rtol=0, atol=0)
    assert forward(CNN, weights, X).dtype == np.float64


def test_gradients_cover_exactly_the_trainable_weights() -> None:
    weights, (X, y) = random_weights(CNN), random_batch(CNN, 3)
    _, grads = loss_and_gradients(CNN, weights, X, y)
    assert list(grads) == trainable_keys(CNN)
    assert "batchnorm_1.moving_mean" not in grads and "batchnorm_1.gamma" in grads
    for key, grad in grads.items():
        assert grad.shape == weights[key].shape, key


# ---------------------------------------------------------------- finite differences


def max_fd_error(model: ModelSpec, n: int, training: bool = True) -> float:
    """Check analytic against central-difference gradients elementwise; return the max abs diff."""
    weights, (X, y) = random_weights(model), random_batch(model, n)
    value, grads = loss_and_gradients(model, weights, X, y, training=training)
    assert value == pytest.approx(loss(forward(model, weights, X, training), y, model.loss), rel=0, abs=1e-14)
    numeric = finite_difference_gradients(model, weights, X, y, training=training)
    assert list(numeric) == list(grads)
    for key in grads:
        np.testing.assert_allclose(grads[key], numeric[key], rtol=0, atol=FD_ATOL, err_msg=key)
    return max(float(np.max(np.abs(grads[k] - numeric[k]))) for k in grads)


def test_mlp_gradients_match_finite_differences() -> None:
    assert max_fd_error(MLP, n=6) <= FD_ATOL


def test_cnn_gradients_match_finite_differences_train_mode() -> None:
    assert max_fd_error(CNN, n=4, training=True) <= FD_ATOL


def test_cnn_gradients_match_finite_differences_eval_mode() -> None:
    assert max_fd_error(CNN, n=3, training=False) <= FD_ATOL


def test_embedding_lstm_gradients_match_finite_differences() -> None:
    assert max_fd_error(RNN, n=3) <= FD_ATOL


def test_repeated_token_ids_accumulate_embedding_gradient() -> None:
    weights = random_weights(RNN)
    X = np.array([[1, 1, 1, 1, 1], [1, 2, 1, 2, 1]])  # only rows 1 and 2 of the table are used
    _, grads = loss_and_gradients(RNN, weights, X, np.array([1, 0]))
    numeric = finite_difference_gradients(RNN, weights, X, np.array([1, 0]))
    np.testing.assert_allclose(grads["embedding_0.embeddings"], numeric["embedding_0.embeddings"], rtol=0, atol=FD_ATOL)
    np.testing.assert_allclose(grads["embedding_0.embeddings"][[0, 3, 4, 5, 6]], 0.0, rtol=0, atol=0)


# ---------------------------------------------------------------- BatchNorm moving statistics


@pytest.mark.parametrize("unbiased_variance", [True, False])
def test_batchnorm_moving_update_by_hand(unbiased_variance: bool) -> None:
    model = ModelSpec(input_shape=(1,), layers=(BatchNorm(momentum=0.1),))
    weights = {
        "batchnorm_0.gamma": np.ones(1),
        "batchnorm_0.beta": np.zeros(1),
        "batchnorm_0.moving_mean": np.array([0.0]),
        "batchnorm_0.moving_var": np.array([1.0]),
    }
    X = np.array([[1.0], [3.0], [5.0]])  # mean 3; biased var 8/3, unbiased var 4
    updated = batchnorm_moving_update(model, weights, X, unbiased_variance=unbiased_variance)
    batch_var = 4.0 if unbiased_variance else 8.0 / 3.0
    np.testing.assert_allclose(updated["batchnorm_0.moving_mean"], [0.9 * 0.0 + 0.1 * 3.0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(updated["batchnorm_0.moving_var"], [0.9 * 1.0 + 0.1 * batch_var], rtol=0, atol=1e-14)


def test_batchnorm_moving_update_in_cnn_uses_each_layers_input() -> None:
    weights, (X, _) = random_weights(CNN), random_batch(CNN, 4)
    updated = batchnorm_moving_update(CNN, weights, X, unbiased_variance=True)
    assert sorted(updated) == sorted(k for k in weights if ".moving_" in k)
    bn_input = dict(forward_layers(CNN, weights, X, training=True))["4 Conv2D"]  # input of layer 5
    n = bn_input.size // bn_input.shape[-1]
    expected_var = 0.7 * weights["batchnorm_5.moving_var"] + 0.3 * bn_input.var(axis=(0, 1, 2)) * n / (n - 1)
    np.testing.assert_allclose(updated["batchnorm_5.moving_var"], expected_var, rtol=0, atol=1e-13)


# ---------------------------------------------------------------- optimizers


def test_sgd_step_skips_moving_statistics() -> None:
    weights = {"dense_0.kernel": np.array([1.0, 2.0]), "batchnorm_1.moving_mean": np.array([5.0])}
    grads = {"dense_0.kernel": np.array([0.5, -1.0])}
    new = sgd_step(weights, grads, lr=0.1)
    np.testing.assert_allclose(new["dense_0.kernel"], [0.95, 2.1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(new["batchnorm_1.moving_mean"], [5.0], rtol=0, atol=0)


@pytest.mark.parametrize("eps_style", ["corrected", "uncorrected"])
def test_adam_single_scalar_step_by_hand(eps_style: str) -> None:
    w, g, lr, b1, b2, eps = 1.0, 0.5, 0.1, 0.9, 0.999, 1e-3  # large eps so the two styles differ
    m, v = (1 - b1) * g, (1 - b2) * g * g  # 0.05, 0.00025
    if eps_style == "corrected":
        expected = w - lr * (m / (1 - b1)) / (math.sqrt(v / (1 - b2)) + eps)  # 1 - 0.1 * 0.5 / (0.5 + 1e-3)
    else:
        lr_t = lr * math.sqrt(1 - b2) / (1 - b1)
        expected = w - lr_t * m / (math.sqrt(v) + eps)
    weights = {"dense_0.kernel": np.array([w]), "batchnorm_1.moving_var": np.array([2.0])}
    new, state = adam_step(weights, {"dense_0.kernel": np.array([g])}, None, lr=lr, beta_1=b1, beta_2=b2, eps=eps, eps_style=eps_style)
    np.testing.assert_allclose(new["dense_0.kernel"], [expected], rtol=0, atol=1e-15)
    np.testing.assert_allclose(new["batchnorm_1.moving_var"], [2.0], rtol=0, atol=0)
    assert state.t == 1
    np.testing.assert_allclose(state.m["dense_0.kernel"], [m], rtol=0, atol=1e-15)
    np.testing.assert_allclose(state.v["dense_0.kernel"], [v], rtol=0, atol=1e-15)


def test_adam_eps_styles_differ_and_second_step_uses_state() -> None:
    weights, grads = {"w": np.array([1.0])}, {"w": np.array([0.5])}
    hyper = dict(lr=0.1, beta_1=0.9, beta_2=0.999, eps=1e-3)
    corrected, _ = adam_step(weights, grads, None, eps_style="corrected", **hyper)
    uncorrected, _ = adam_step(weights, grads, None, eps_style="uncorrected", **hyper)
    assert abs(corrected["w"][0] - uncorrected["w"][0]) > 1e-3
    once, state = adam_step(weights, grads, AdamState(), eps_style="corrected", **hyper)
    twice, state = adam_step(once, grads, state, eps_style="corrected", **hyper)
    m, v = 0.9 * 0.05 + 0.1 * 0.5, 0.999 * 0.00025 + 0.001 * 0.25
    expected = once["w"][0] - 0.1 * (m / (1 - 0.9**2)) / (math.sqrt(v / (1 - 0.999**2)) + 1e-3)
    np.testing.assert_allclose(twice["w"], [expected], rtol=0, atol=1e-15)
    assert state.t == 2
    with pytest.raises(KeyError, match="corrected, uncorrected"):
        adam_step(weights, grads, None, eps_style="keras", **hyper)
