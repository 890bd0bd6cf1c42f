"""Every layout function round-trips, and the whole-model mappings are exact inverses."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_specs import MODELS

from frameworks import layout
from tasks.init import init_weights
from tasks.spec import InitSpec, param_shapes

rng = np.random.default_rng(0)


@pytest.mark.parametrize(
    "forward, backward, shape",
    [
        (layout.dense_kernel_to_torch, layout.dense_kernel_from_torch, (5, 3)),
        (layout.conv_kernel_to_torch, layout.conv_kernel_from_torch, (3, 3, 2, 4)),
        (layout.images_to_torch, layout.images_from_torch, (2, 5, 6, 3)),
    ],
)
def test_tensor_round_trip(forward, backward, shape):
    x = rng.standard_normal(shape)
    np.testing.assert_array_equal(backward(forward(x)), x)


def test_conv_kernel_axes():
    k = rng.standard_normal((3, 2, 4, 5))  # H, W, I, O
    t = layout.conv_kernel_to_torch(k)
    assert t.shape == (5, 4, 3, 2)
    assert t[1, 2, 0, 1] == k[0, 1, 2, 1]


def test_flatten_rows_match_each_flatten_order():
    h, w, c, out = 2, 3, 4, 5
    image = rng.standard_normal((h, w, c))
    kernel = rng.standard_normal((h * w * c, out))
    nhwc_result = image.reshape(-1) @ kernel  # canonical: flatten H, W, C
    torch_kernel = layout.flatten_rows_to_torch(kernel, (h, w, c))
    nchw_result = image.transpose(2, 0, 1).reshape(-1) @ torch_kernel  # torch: flatten C, H, W
    np.testing.assert_allclose(nchw_result, nhwc_result, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(layout.flatten_rows_from_torch(torch_kernel, (h, w, c)), kernel)


def test_lstm_round_trip_sums_biases():
    kernel, recurrent, bias = rng.standard_normal((3, 8)), rng.standard_normal((2, 8)), rng.standard_normal(8)
    tensors = layout.lstm_to_torch(kernel, recurrent, bias)
    assert tensors["weight_ih_l0"].shape == (8, 3) and tensors["weight_hh_l0"].shape == (8, 2)
    np.testing.assert_array_equal(tensors["bias_hh_l0"], np.zeros(8))
    tensors["bias_ih_l0"], tensors["bias_hh_l0"] = bias - 1.0, np.ones(8)  # torch may split the bias any way
    k, r, b = layout.lstm_from_torch(tensors)
    np.testing.assert_array_equal(k, kernel)
    np.testing.assert_array_equal(r, recurrent)
    np.testing.assert_allclose(b, bias, rtol=0, atol=1e-15)


# every whole-model mapping in frameworks/layout.py, found by its names: to_<form>(model, weights) and from_<form>
FORMS = sorted(name[3:] for name in dir(layout) if name.startswith("to_") and hasattr(layout, f"from_{name[3:]}"))
ONLY = {"sklearn_mlp": {"mlp"}}  # MLPClassifier's coefs_ and intercepts_ hold Dense + ReLU networks only
PAIRS = [(form, name) for form in FORMS for name in sorted(MODELS) if name in ONLY.get(form, MODELS)]


@pytest.mark.parametrize("form, name", PAIRS, ids=[f"{form}-{name}" for form, name in PAIRS])
def test_whole_model_round_trip(form, name):
    model = MODELS[name]
    weights = init_weights(model, InitSpec(), seed=1)
    weights = {k: v + rng.standard_normal(v.shape) for k, v in weights.items()}  # no symmetric values
    mapped = getattr(layout, f"to_{form}")(model, weights)
    again = getattr(layout, f"from_{form}")(model, *(mapped if isinstance(mapped, tuple) else (mapped,)))
    assert list(again) == list(weights)
    for key in weights:
        np.testing.assert_array_equal(again[key], weights[key])


def test_init_shapes_and_seed():
    for model in MODELS.values():
        a, b = init_weights(model, InitSpec(), 3), init_weights(model, InitSpec(), 3)
        assert {k: v.shape for k, v in a.items()} == param_shapes(model)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    c = init_weights(MODELS["mlp"], InitSpec(), 4)
    assert not np.array_equal(c["dense_0.kernel"], init_weights(MODELS["mlp"], InitSpec(), 3)["dense_0.kernel"])


def test_orthogonal_recurrent_and_forget_bias():
    w = init_weights(MODELS["rnn"], InitSpec(forget_bias=1.0), 0)
    u = w["lstm_1.recurrent_kernel"]  # (5, 20): orthonormal rows
    np.testing.assert_allclose(u @ u.T, np.eye(5), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(w["lstm_1.bias"], np.r_[np.zeros(5), np.ones(5), np.zeros(10)])


def test_gru_gates_reordered_for_torch_and_flax():
    u = 2
    kernel = np.repeat(np.arange(3.0), u)[None, :] * np.ones((3, 1))  # gate blocks z=0, r=1, h=2 (canonical)
    recurrent, bias = kernel[:u], np.stack([np.arange(6.0), 10 + np.arange(6.0)])
    tensors = layout.gru_to_torch(kernel, recurrent, bias)
    np.testing.assert_array_equal(tensors["weight_ih_l0"][:, 0], [1, 1, 0, 0, 2, 2])  # torch: r, z, n
    np.testing.assert_array_equal(tensors["bias_hh_l0"], [12, 13, 10, 11, 14, 15])
    for got, want in zip(layout.gru_from_torch(tensors), (kernel, recurrent, bias)):
        np.testing.assert_array_equal(got, want)
    flax = layout.gru_to_flax(kernel, recurrent, bias)
    np.testing.assert_array_equal(flax["dense_i.kernel"][0], [1, 1, 0, 0, 2, 2])  # Flax's GRUCell: r, z, n, (in, out)
    for got, want in zip(layout.gru_from_flax(flax), (kernel, recurrent, bias)):
        np.testing.assert_array_equal(got, want)


def test_conv1d_kernel_round_trip():
    k = rng.standard_normal((3, 2, 4))  # k, in, out
    t = layout.conv1d_kernel_to_torch(k)
    assert t.shape == (4, 2, 3) and t[1, 0, 2] == k[2, 0, 1]
    np.testing.assert_array_equal(layout.conv1d_kernel_from_torch(t), k)
