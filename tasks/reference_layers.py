"""NumPy float64 forward and hand-written backward of the layers of `tasks.spec_layers` (issue 15).

Same pair of functions per layer as `tasks.reference` (which registers them in its LAYER_OPS):

* ``forward(layer, p, x, training) -> (y, cache)``
* ``backward(layer, p, cache, dy) -> (dx, grads)``
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tasks.reference_attention import ATTENTION_LAYER_OPS
from tasks.spec_layers import GRU, AveragePooling2D, Conv1D, GlobalAveragePooling2D, GlobalMaxPool1D, LayerNorm

Params = dict[str, np.ndarray]
Cache = Any


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


# ---------------------------------------------------------------- GRU (gates z, r, h; reset after; two biases)


def gru_forward(layer: GRU, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Run over (N, T, F) from a zero state and return the last hidden state (N, units)."""
    n, num_steps, _ = x.shape
    u = layer.units
    h, steps = np.zeros((n, u)), []
    for t in range(num_steps):
        xw = x[:, t] @ p["kernel"] + p["bias"][0]
        hu = h @ p["recurrent_kernel"] + p["bias"][1]
        z = _sigmoid(xw[:, :u] + hu[:, :u])
        r = _sigmoid(xw[:, u : 2 * u] + hu[:, u : 2 * u])
        c = np.tanh(xw[:, 2 * u :] + r * hu[:, 2 * u :])  # reset applied AFTER the recurrent matmul and its bias
        h_prev = h
        h = z * h_prev + (1.0 - z) * c
        steps.append((x[:, t], h_prev, z, r, c, hu[:, 2 * u :]))
    return h, (x.shape, steps)


def gru_backward(layer: GRU, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Backpropagation through time; only the last hidden state receives an outside gradient."""
    x_shape, steps = cache
    kernel, recurrent = p["kernel"], p["recurrent_kernel"]
    grads = {"kernel": np.zeros_like(kernel), "recurrent_kernel": np.zeros_like(recurrent), "bias": np.zeros_like(p["bias"])}
    dx = np.zeros(x_shape)
    dh = dy
    for t in reversed(range(len(steps))):
        x_t, h_prev, z, r, c, hu_h = steps[t]
        d_c = dh * (1.0 - z) * (1.0 - c**2)  # at the candidate's pre-activation
        d_z = dh * (h_prev - c) * z * (1.0 - z)
        d_r = d_c * hu_h * r * (1.0 - r)
        d_xw = np.concatenate([d_z, d_r, d_c], axis=1)
        d_hu = np.concatenate([d_z, d_r, d_c * r], axis=1)
        grads["kernel"] += x_t.T @ d_xw
        grads["recurrent_kernel"] += h_prev.T @ d_hu
        grads["bias"][0] += d_xw.sum(axis=0)
        grads["bias"][1] += d_hu.sum(axis=0)
        dx[:, t] = d_xw @ kernel.T
        dh = dh * z + d_hu @ recurrent.T
    return dx, grads


# ---------------------------------------------------------------- Conv1D (N, L, C), kernel (k, in, out)


def conv1d_forward(layer: Conv1D, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Cross-correlation of the zero-padded sequence with the (k, in, out) kernel."""
    pad = layer.padding
    x_pad = np.pad(x, ((0, 0), (pad, pad), (0, 0)))
    windows = sliding_window_view(x_pad, layer.kernel_size, axis=1)  # (N, L_out, C, k)
    y = np.einsum("nlck,kco->nlo", windows, p["kernel"], optimize=True) + p["bias"]
    return y, (x.shape, windows)


def conv1d_backward(layer: Conv1D, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Kernel gradient from the windows; input gradient by scattering each tap back."""
    (n, length, c), windows = cache
    pad, l_out = layer.padding, dy.shape[1]
    dx_pad = np.zeros((n, length + 2 * pad, c))
    for i in range(layer.kernel_size):
        dx_pad[:, i : i + l_out] += dy @ p["kernel"][i].T
    d_kernel = np.einsum("nlck,nlo->kco", windows, dy, optimize=True)
    return dx_pad[:, pad : pad + length], {"kernel": d_kernel, "bias": dy.sum(axis=(0, 1))}


# ---------------------------------------------------------------- GlobalMaxPool1D


def global_max_pool1d_forward(layer: GlobalMaxPool1D, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Maximum over the sequence axis (the first maximum on ties)."""
    argmax = x.argmax(axis=1)  # (N, C)
    return np.take_along_axis(x, argmax[:, None], axis=1)[:, 0], (x.shape, argmax)


def global_max_pool1d_backward(layer: GlobalMaxPool1D, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """The gradient goes to the (first) maximum of each channel."""
    shape, argmax = cache
    dx = np.zeros(shape)
    np.put_along_axis(dx, argmax[:, None], dy[:, None], axis=1)
    return dx, {}


# ---------------------------------------------------------------- AveragePooling2D


def _avg_divisor(layer: AveragePooling2D, h: int, w: int) -> np.ndarray:
    """(H_out, W_out) divisor of every window: pool_size**2, or the real (unpadded) pixels in it."""
    k, s, pad = layer.pool_size, layer.strides or layer.pool_size, layer.padding
    mask = np.pad(np.ones((h, w)), pad)
    counts = sliding_window_view(mask, (k, k))[::s, ::s].sum(axis=(-1, -2))
    return np.full_like(counts, k * k) if layer.count_include_pad else counts


def average_pooling2d_forward(layer: AveragePooling2D, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Window sums of the zero-padded input divided by `_avg_divisor` (floor of sizes that do not fill a window)."""
    k, s, pad = layer.pool_size, layer.strides or layer.pool_size, layer.padding
    x_pad = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = sliding_window_view(x_pad, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, H_out, W_out, C, k, k)
    divisor = _avg_divisor(layer, x.shape[1], x.shape[2])
    return windows.sum(axis=(-1, -2)) / divisor[None, :, :, None], (x.shape, divisor)


def average_pooling2d_backward(layer: AveragePooling2D, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Each output gradient, divided by its window's divisor, spread over the window; padding dropped."""
    (n, h, w, c), divisor = cache
    k, s, pad = layer.pool_size, layer.strides or layer.pool_size, layer.padding
    h_out, w_out = dy.shape[1:3]
    share = dy / divisor[None, :, :, None]
    dx_pad = np.zeros((n, h + 2 * pad, w + 2 * pad, c))
    for i in range(k):
        for j in range(k):
            dx_pad[:, i : i + s * (h_out - 1) + 1 : s, j : j + s * (w_out - 1) + 1 : s] += share
    return dx_pad[:, pad : pad + h, pad : pad + w], {}


# ---------------------------------------------------------------- GlobalAveragePooling2D


def global_average_pooling2d_forward(layer: GlobalAveragePooling2D, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Mean over height and width."""
    return x.mean(axis=(1, 2)), x.shape


def global_average_pooling2d_backward(layer: GlobalAveragePooling2D, p: Params, shape: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Every pixel gets dy / (H * W)."""
    n, h, w, c = shape
    return np.broadcast_to(dy[:, None, None, :] / (h * w), shape).copy(), {}


# ---------------------------------------------------------------- LayerNorm (last axis)


def layernorm_forward(layer: LayerNorm, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """gamma * (x - mean) / sqrt(var + eps) + beta over the last axis, biased variance; the same in training and inference."""
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + layer.eps)
    x_hat = (x - mean) * inv_std
    return p["gamma"] * x_hat + p["beta"], (x_hat, inv_std)


def layernorm_backward(layer: LayerNorm, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """The gradient also flows through each sample's mean and variance."""
    x_hat, inv_std = cache
    lead = tuple(range(dy.ndim - 1))
    dx_hat = dy * p["gamma"]
    dx = inv_std * (dx_hat - dx_hat.mean(axis=-1, keepdims=True) - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))
    return dx, {"gamma": (dy * x_hat).sum(axis=lead), "beta": dy.sum(axis=lead)}


NEW_LAYER_OPS = {
    GRU: (gru_forward, gru_backward),
    Conv1D: (conv1d_forward, conv1d_backward),
    GlobalMaxPool1D: (global_max_pool1d_forward, global_max_pool1d_backward),
    AveragePooling2D: (average_pooling2d_forward, average_pooling2d_backward),
    GlobalAveragePooling2D: (global_average_pooling2d_forward, global_average_pooling2d_backward),
    LayerNorm: (layernorm_forward, layernorm_backward),
    **ATTENTION_LAYER_OPS,  # MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling (issue 23)
}
