"""The one NumPy float64 reference: forward, hand-written backward, losses; optimizer steps from tasks/optimizers.py.

Every framework adapter is checked against this module (STYLE.md item 9). It works on the
canonical weight layout of `tasks.spec`: a dict keyed by `param_key`, e.g. 'dense_0.kernel'.

Each layer type has one small pair of functions in `LAYER_OPS`:

* ``forward(layer, p, x, training) -> (y, cache)``
* ``backward(layer, p, cache, dy) -> (dx, grads)``

where ``p`` and ``grads`` hold that layer's weights under their short names ('kernel', 'bias').
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tasks.optimizers import EPS_STYLE_CHOICES, AdamState, OptimizerState, adam_step, sgd_step, step  # noqa: F401 - re-exported
from tasks.reference_layers import NEW_LAYER_OPS
from tasks.spec_attention import real_tokens, uses_padding_mask
from tasks.spec import (
    LSTM,
    PARAM_NAMES,
    Add,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    MaxPool2D,
    ModelSpec,
    ReLU,
    Weights,
    is_trainable,
    layer_inputs,
    param_key,
    param_shapes,
)

Params = dict[str, np.ndarray]  # one layer's weights by short name, e.g. 'kernel'
Cache = Any  # whatever a layer's forward keeps for its backward


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, without overflow for large |z|."""
    return np.exp(-np.logaddexp(0.0, -z))


# ---------------------------------------------------------------- Dense


def dense_forward(layer: Dense, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """y = x @ kernel + bias."""
    return x @ p["kernel"] + p["bias"], x


def dense_backward(layer: Dense, p: Params, x: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Gradients of y = x @ kernel + bias (any leading axes are treated as batch)."""
    x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
    return dy @ p["kernel"].T, {"kernel": x2.T @ dy2, "bias": dy2.sum(axis=0)}


# ---------------------------------------------------------------- ReLU


def relu_forward(layer: ReLU, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """max(x, 0)."""
    positive = x > 0
    return np.where(positive, x, 0.0), positive


def relu_backward(layer: ReLU, p: Params, positive: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Pass the gradient where x > 0 (derivative 0 at x == 0, as PyTorch and TensorFlow)."""
    return np.where(positive, dy, 0.0), {}


# ---------------------------------------------------------------- Conv2D (NHWC, HWIO, stride 1)


def conv2d_forward(layer: Conv2D, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Cross-correlation (no kernel flip) of the zero-padded input with the HWIO kernel."""
    k, pad = layer.kernel_size, layer.padding
    x_pad = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = sliding_window_view(x_pad, (k, k), axis=(1, 2))  # (N, H_out, W_out, C, kh, kw)
    y = np.einsum("nhwcij,ijco->nhwo", windows, p["kernel"], optimize=True) + p["bias"]
    return y, (x.shape, windows)


def conv2d_backward(layer: Conv2D, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Kernel gradient from the input windows; input gradient by scattering each kernel tap back."""
    (n, h, w, c), windows = cache
    k, pad = layer.kernel_size, layer.padding
    h_out, w_out = dy.shape[1:3]
    d_kernel = np.einsum("nhwcij,nhwo->ijco", windows, dy, optimize=True)
    dx_pad = np.zeros((n, h + 2 * pad, w + 2 * pad, c))
    for i in range(k):
        for j in range(k):
            dx_pad[:, i : i + h_out, j : j + w_out, :] += dy @ p["kernel"][i, j].T
    dx = dx_pad[:, pad : pad + h, pad : pad + w, :]
    return dx, {"kernel": d_kernel, "bias": dy.sum(axis=(0, 1, 2))}


# ---------------------------------------------------------------- MaxPool2D (window = stride, floor)


def maxpool2d_forward(layer: MaxPool2D, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Max over non-overlapping s x s windows; trailing rows/columns that do not fill a window are dropped."""
    s = layer.pool_size
    n, h, w, c = x.shape
    h_out, w_out = h // s, w // s
    blocks = x[:, : h_out * s, : w_out * s, :].reshape(n, h_out, s, w_out, s, c)
    blocks = blocks.transpose(0, 1, 3, 5, 2, 4).reshape(n, h_out, w_out, c, s * s)  # window row-major
    argmax = blocks.argmax(axis=-1)  # the first maximum on ties
    y = np.take_along_axis(blocks, argmax[..., None], axis=-1)[..., 0]
    return y, (x.shape, argmax)


def maxpool2d_backward(layer: MaxPool2D, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Route each output gradient to the (first) argmax of its window; dropped edges get zero."""
    (n, h, w, c), argmax = cache
    s = layer.pool_size
    h_out, w_out = dy.shape[1:3]
    d_blocks = np.zeros((n, h_out, w_out, c, s * s))
    np.put_along_axis(d_blocks, argmax[..., None], dy[..., None], axis=-1)
    dx = np.zeros((n, h, w, c))
    dx[:, : h_out * s, : w_out * s, :] = (
        d_blocks.reshape(n, h_out, w_out, c, s, s).transpose(0, 1, 4, 2, 5, 3).reshape(n, h_out * s, w_out * s, c)
    )
    return dx, {}


# ---------------------------------------------------------------- BatchNorm (last axis)


def batchnorm_forward(layer: BatchNorm, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Normalise with the batch mean and BIASED batch variance (training) or the moving statistics."""
    axes = tuple(range(x.ndim - 1))
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    else:
        mean, var = p["moving_mean"], p["moving_var"]
    inv_std = 1.0 / np.sqrt(var + layer.eps)
    x_hat = (x - mean) * inv_std
    return p["gamma"] * x_hat + p["beta"], (x_hat, inv_std, training, mean, var)


def batchnorm_backward(layer: BatchNorm, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """In training mode the gradient also flows through the batch mean and variance."""
    x_hat, inv_std, training, _, _ = cache
    axes = tuple(range(dy.ndim - 1))
    dx_hat = dy * p["gamma"]
    if training:
        dx = inv_std * (dx_hat - dx_hat.mean(axis=axes) - x_hat * (dx_hat * x_hat).mean(axis=axes))
    else:
        dx = dx_hat * inv_std
    return dx, {"gamma": (dy * x_hat).sum(axis=axes), "beta": dy.sum(axis=axes)}


# ---------------------------------------------------------------- Flatten, Dropout


def flatten_forward(layer: Flatten, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """(N, H, W, C) -> (N, H*W*C) in H, W, C order (NumPy's C order)."""
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(layer: Flatten, p: Params, shape: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Reshape the gradient back to the input shape."""
    return dy.reshape(shape), {}


def dropout_forward(layer: Dropout, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Identity: the equivalence checks run with dropout off."""
    return x, None


def dropout_backward(layer: Dropout, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Identity."""
    return dy, {}


# ---------------------------------------------------------------- Embedding


def embedding_forward(layer: Embedding, p: Params, ids: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Look up one row of the (vocab, dim) table per integer id."""
    return p["embeddings"][ids], ids


def embedding_backward(layer: Embedding, p: Params, ids: Cache, dy: np.ndarray) -> tuple[None, Params]:
    """Add each output gradient into its table row (repeated ids accumulate); ids get no gradient."""
    d_table = np.zeros_like(p["embeddings"])
    np.add.at(d_table, ids, dy)
    return None, {"embeddings": d_table}


# ---------------------------------------------------------------- LSTM (gates i, f, c, o; last h)


def lstm_forward(layer: LSTM, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Run over (N, T, F) from a zero state and return the last hidden state (N, units)."""
    n, num_steps, _ = x.shape
    u = layer.units
    h, c = np.zeros((n, u)), np.zeros((n, u))
    steps = []
    for t in range(num_steps):
        z = x[:, t] @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
        i, f = sigmoid(z[:, :u]), sigmoid(z[:, u : 2 * u])
        g, o = np.tanh(z[:, 2 * u : 3 * u]), sigmoid(z[:, 3 * u :])
        h_prev, c_prev = h, c
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        steps.append((x[:, t], h_prev, c_prev, i, f, g, o, tanh_c))
    return h, (x.shape, steps)


def lstm_backward(layer: LSTM, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Backpropagation through time; only the last hidden state receives an outside gradient."""
    x_shape, steps = cache
    kernel, recurrent = p["kernel"], p["recurrent_kernel"]
    grads = {"kernel": np.zeros_like(kernel), "recurrent_kernel": np.zeros_like(recurrent), "bias": np.zeros_like(p["bias"])}
    dx = np.zeros(x_shape)
    dh, dc = dy, np.zeros_like(dy)
    for t in reversed(range(len(steps))):
        x_t, h_prev, c_prev, i, f, g, o, tanh_c = steps[t]
        dc = dc + dh * o * (1.0 - tanh_c**2)
        dz = np.concatenate(
            [
                dc * g * i * (1.0 - i),  # input gate
                dc * c_prev * f * (1.0 - f),  # forget gate
                dc * i * (1.0 - g**2),  # cell candidate
                dh * tanh_c * o * (1.0 - o),  # output gate
            ],
            axis=1,
        )
        grads["kernel"] += x_t.T @ dz
        grads["recurrent_kernel"] += h_prev.T @ dz
        grads["bias"] += dz.sum(axis=0)
        dx[:, t] = dz @ kernel.T
        dh, dc = dz @ recurrent.T, dc * f
    return dx, grads


# ---------------------------------------------------------------- the model

ForwardFn = Callable[[Any, Params, np.ndarray, bool], tuple[np.ndarray, Cache]]
BackwardFn = Callable[[Any, Params, Cache, np.ndarray], tuple[Any, Params]]
LAYER_OPS: dict[type, tuple[ForwardFn, BackwardFn]] = {
    Dense: (dense_forward, dense_backward),
    ReLU: (relu_forward, relu_backward),
    Conv2D: (conv2d_forward, conv2d_backward),
    MaxPool2D: (maxpool2d_forward, maxpool2d_backward),
    BatchNorm: (batchnorm_forward, batchnorm_backward),
    Flatten: (flatten_forward, flatten_backward),
    Dropout: (dropout_forward, dropout_backward),
    Embedding: (embedding_forward, embedding_backward),
    LSTM: (lstm_forward, lstm_backward),
    **NEW_LAYER_OPS,  # GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, LayerNorm; the transformer's
}


def _ops(layer: Layer) -> tuple[ForwardFn, BackwardFn]:
    if type(layer) not in LAYER_OPS:
        valid = ", ".join(sorted(t.__name__ for t in LAYER_OPS))
        raise KeyError(f"no reference for layer {type(layer).__name__}; valid: {valid}")
    return LAYER_OPS[type(layer)]


def _layer_params(index: int, layer: Layer, weights: Weights) -> Params:
    names = [name for name in PARAM_NAMES.get(type(layer), ()) if param_key(index, layer, name) in weights]  # bias=False: no biases
    return {name: np.asarray(weights[param_key(index, layer, name)], dtype=np.float64) for name in names}


def trainable_keys(model: ModelSpec) -> list[str]:
    """Canonical names of the trained weights, in layer order (no BatchNorm moving statistics)."""
    return [key for key in param_shapes(model) if is_trainable(key)]


def _run(model: ModelSpec, weights: Weights, X: np.ndarray, training: bool) -> list[tuple[np.ndarray, Cache]]:
    """(output, cache) after every layer; each layer reads its `layer_inputs` (the previous one, in a chain)."""
    x = np.asarray(X, dtype=np.int64 if model.input_dtype == "int" else np.float64)
    keep = real_tokens(x) if model.input_dtype == "int" else None  # the padding mask of the masked layers
    records: list[tuple[np.ndarray, Cache]] = []
    for i, (layer, sources) in enumerate(zip(model.layers, layer_inputs(model))):
        ins = [x if j < 0 else records[j][0] for j in sources]
        if isinstance(layer, Add):
            records.append((np.sum(ins, axis=0), None))  # the graph's join: dy reaches every input unchanged
            continue
        x_in = (ins[0], keep) if uses_padding_mask(layer) else ins[0]  # tasks/reference_attention.py: (values, keep)
        records.append(_ops(layer)[0](layer, _layer_params(i, layer, weights), x_in, training))
    return records


def forward(model: ModelSpec, weights: Weights, X: np.ndarray, training: bool = False) -> np.ndarray:
    """Logits (float64); `training` only switches BatchNorm to batch statistics."""
    return _run(model, weights, X, training)[-1][0]


def forward_layers(model: ModelSpec, weights: Weights, X: np.ndarray, training: bool = False) -> list[tuple[str, np.ndarray]]:
    """(label like '0 Dense', output) after every layer, for per-layer comparison tables."""
    records = _run(model, weights, X, training)
    return [(f"{i} {type(layer).__name__}", out) for i, (layer, (out, _)) in enumerate(zip(model.layers, records))]


# ---------------------------------------------------------------- losses

LOSSES = ("cross_entropy", "binary_cross_entropy", "mse")
ONE_LOGIT_LOSSES = ("binary_cross_entropy", "mse")  # one logit per sample, labels 0/1


def _loss_and_logit_grad(logits: np.ndarray, y: np.ndarray, kind: str) -> tuple[float, np.ndarray]:
    """Mean loss over the batch and its gradient with respect to the logits."""
    logits = np.asarray(logits, dtype=np.float64)
    n = logits.shape[0]
    if kind == "cross_entropy":
        labels = np.asarray(y).reshape(-1).astype(np.int64)
        log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        value = -log_probs[np.arange(n), labels].mean()
        d_logits = np.exp(log_probs)
        d_logits[np.arange(n), labels] -= 1.0
        return float(value), d_logits / n
    if kind == "binary_cross_entropy":
        z, t = logits.reshape(n), np.asarray(y, dtype=np.float64).reshape(n)
        value = (np.logaddexp(0.0, z) - z * t).mean()  # log(1 + e^z) - z*t, stable for any z
        return float(value), ((sigmoid(z) - t) / n).reshape(logits.shape)
    if kind == "mse":
        z, t = logits.reshape(n), mse_targets(y)
        value = ((z - t) ** 2).mean()
        return float(value), (2.0 * (z - t) / n).reshape(logits.shape)
    raise KeyError(f"unknown loss {kind!r}; valid: {', '.join(LOSSES)}")


def mse_targets(y: np.ndarray) -> np.ndarray:
    """The regression targets of the "mse" loss: labels 0/1 become -1/+1, so the logit's sign stays the prediction."""
    return 2.0 * np.asarray(y, dtype=np.float64).reshape(-1) - 1.0


def loss(logits: np.ndarray, y: np.ndarray, kind: str) -> float:
    """Mean softmax cross-entropy (int labels), mean sigmoid BCE or mean squared error (one logit, labels 0/1)."""
    return _loss_and_logit_grad(logits, y, kind)[0]


# ---------------------------------------------------------------- gradients


def loss_and_gradients(model: ModelSpec, weights: Weights, X: np.ndarray, y: np.ndarray, training: bool = True) -> tuple[float, Weights]:
    """Loss and analytic gradient of every trainable weight (training=True: BatchNorm batch statistics)."""
    records = _run(model, weights, X, training)
    value, d_out = _loss_and_logit_grad(records[-1][0], y, model.loss)
    d_outputs: dict[int, np.ndarray] = {len(model.layers) - 1: d_out}  # layer -> gradient of its output, summed over its readers
    grads: Weights = {}
    sources = layer_inputs(model)
    for i in reversed(range(len(model.layers))):
        layer, dy = model.layers[i], d_outputs.pop(i, None)
        if dy is None:
            continue  # an output nobody reads (not the logits)
        if isinstance(layer, Add):
            dx = dy
        else:
            dx, layer_grads = _ops(layer)[1](layer, _layer_params(i, layer, weights), records[i][1], dy)
            for name, grad in layer_grads.items():
                grads[param_key(i, layer, name)] = grad
        for j in sources[i]:
            if j >= 0 and dx is not None:
                d_outputs[j] = d_outputs[j] + dx if j in d_outputs else dx
    return value, {key: grads[key] for key in trainable_keys(model)}


def central_difference(model: ModelSpec, weights: Weights, X: np.ndarray, y: np.ndarray, key: str, index: int,
                       eps: float = 1e-6, training: bool = True) -> float:  # fmt: skip
    """(L(w + eps e_j) - L(w - eps e_j)) / 2 eps for one coordinate j (flat `index`) of weight `key`."""
    losses = []
    for sign in (1.0, -1.0):
        moved = np.array(weights[key], dtype=np.float64)
        # .flat writes in place in C order whatever the memory layout; reshape(-1)[index] += would write
        # into a copy for a Fortran-ordered weight (a transposed framework kernel) and move nothing
        moved.flat[index] += sign * eps
        losses.append(loss(forward(model, {**weights, key: moved}, X, training), y, model.loss))
    return (losses[0] - losses[1]) / (2 * eps)


def finite_difference_gradients(model: ModelSpec, weights: Weights, X: np.ndarray, y: np.ndarray, eps: float = 1e-6, training: bool = True) -> Weights:
    """Central differences of every coordinate of every trainable weight: tiny shapes only."""
    return {
        key: np.array([central_difference(model, weights, X, y, key, j, eps, training) for j in range(np.size(weights[key]))]
                      ).reshape(np.shape(weights[key]))
        for key in trainable_keys(model)
    }  # fmt: skip


def batchnorm_moving_update(model: ModelSpec, weights: Weights, X: np.ndarray, unbiased_variance: bool) -> Weights:
    """New moving_mean / moving_var of every BatchNorm after one training-mode forward pass.

    new = (1 - momentum) * old + momentum * batch_statistic; the batch variance is unbiased
    (n / (n - 1), PyTorch) or biased (Keras) as `unbiased_variance` says. Returns only those keys.
    """
    records = _run(model, weights, X, training=True)
    updated: Weights = {}
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, BatchNorm):
            continue
        x_hat, _, _, batch_mean, batch_var = records[i][1]
        n = x_hat.size // x_hat.shape[-1]  # values per channel
        if unbiased_variance:
            batch_var = batch_var * n / (n - 1)
        m = layer.momentum
        for name, batch_stat in (("moving_mean", batch_mean), ("moving_var", batch_var)):
            key = param_key(i, layer, name)
            updated[key] = (1.0 - m) * np.asarray(weights[key], dtype=np.float64) + m * batch_stat
    return updated


def cancelled_by_batchnorm(model: ModelSpec) -> set[str]:
    """Biases of Dense/Conv2D layers directly followed by BatchNorm, and that BatchNorm's moving_mean.

    BatchNorm subtracts the batch mean, so the loss does not depend on such a bias: its gradient is
    exactly 0 in exact arithmetic, rounding noise in floating point, which Adam's division by sqrt(v)
    turns into lr-sized steps; the moving mean tracks the bias. Trajectory checks report, not judge, them.
    """
    keys = set()
    sources = layer_inputs(model)
    for k, after in enumerate(model.layers):
        i = sources[k][0]
        readers = sum(i in s for s in sources)  # a bias whose output also reaches the loss another way is not cancelled
        if i >= 0 and isinstance(model.layers[i], (Dense, Conv2D)) and isinstance(after, BatchNorm) and readers == 1:
            keys |= {param_key(i, model.layers[i], "bias"), param_key(k, after, "moving_mean")}  # which tracks that bias
    return keys


def trajectory(model: ModelSpec, weights: Weights, batches: list[tuple[np.ndarray, np.ndarray]], opt, unbiased_variance: bool,  # noqa: ANN001
               lrs: list[float] | None = None) -> list[Weights]:  # fmt: skip
    """Every weight (moving statistics too) after each step of `opt` (a tasks.spec.OptimizerSpec) on `batches`.

    Any optimizer of tasks/optimizers.py; `lrs`: the learning rate of each step (default: opt.lr throughout).
    The BatchNorm running variance follows `unbiased_variance`.
    """
    weights = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    state, snapshots = None, []
    for i, (X, y) in enumerate(batches):
        _, grads = loss_and_gradients(model, weights, X, y)
        moving = batchnorm_moving_update(model, weights, X, unbiased_variance)
        weights, state = step(weights, grads, state, opt, None if lrs is None else lrs[i])
        weights = {**weights, **moving}
        snapshots.append(weights)
    return snapshots
