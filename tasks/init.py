"""Canonical initial weights, drawn once in NumPy from the seed (see `tasks.spec` for the layout).

Every framework loads these exact arrays, so "same init" is a fact, not a hope.
"""

from __future__ import annotations

import numpy as np

from tasks.spec import (
    GRU,
    LSTM,
    PARAM_NAMES,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    InitSpec,
    LayerNorm,
    ModelSpec,
    MultiHeadSelfAttention,
    PositionEmbedding,
    Weights,
    param_key,
    param_shapes,
)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras and PyTorch count them: receptive field times channels."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras' default kernel init: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def he_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """He uniform: U(-l, l) with l = sqrt(6 / fan_in), suited to ReLU."""
    limit = np.sqrt(6.0 / fans(shape)[0])
    return rng.uniform(-limit, limit, size=shape)


def fan_in_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's Linear/Conv default for kernel (kaiming_uniform with a=sqrt(5))
    and bias alike (the "fan_in_uniform" init)."""
    limit = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-limit, limit, size=shape)


def orthogonal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras' Orthogonal initializer (gain 1): QR of a normal matrix, signs fixed by diag(R)."""
    rows, cols = shape
    flat = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    return q.T if rows < cols else q


def _kernel(rng: np.random.Generator, init: InitSpec, shape: tuple[int, ...]) -> np.ndarray:
    if init.kernel == "glorot_uniform":
        return glorot_uniform(rng, shape)
    if init.kernel == "he_uniform":
        return he_uniform(rng, shape)
    if init.kernel == "fan_in_uniform":
        return fan_in_uniform(rng, shape, fans(shape)[0])
    raise ValueError(f"unknown kernel init {init.kernel!r}: use glorot_uniform, he_uniform or fan_in_uniform")


def _bias(rng: np.random.Generator, init: InitSpec, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    if init.bias == "zeros":
        return np.zeros(shape)
    if init.bias == "fan_in_uniform":
        return fan_in_uniform(rng, shape, fan_in)
    raise ValueError(f"unknown bias init {init.bias!r}: use zeros or fan_in_uniform")


def init_weights(model: ModelSpec, init: InitSpec, seed: int) -> Weights:
    """Draw every canonical weight in layer order from one seeded generator (float64)."""
    rng = np.random.default_rng(seed)
    shapes = param_shapes(model)
    weights: Weights = {}
    for i, layer in enumerate(model.layers):
        key = lambda name: param_key(i, layer, name)  # noqa: E731
        if isinstance(layer, (Dense, Conv2D, Conv1D)):
            kernel_shape = shapes[key("kernel")]
            weights[key("kernel")] = _kernel(rng, init, kernel_shape)
            weights[key("bias")] = _bias(rng, init, shapes[key("bias")], fans(kernel_shape)[0])
        elif isinstance(layer, BatchNorm):
            channels = shapes[key("gamma")]
            weights[key("gamma")] = np.ones(channels)
            weights[key("beta")] = np.zeros(channels)
            weights[key("moving_mean")] = np.zeros(channels)
            weights[key("moving_var")] = np.ones(channels)
        elif isinstance(layer, Embedding):
            s = init.embedding_scale
            weights[key("embeddings")] = rng.uniform(-s, s, size=shapes[key("embeddings")])
        elif isinstance(layer, LSTM):
            u = layer.units
            weights[key("kernel")] = glorot_uniform(rng, shapes[key("kernel")])
            if init.recurrent == "orthogonal":
                weights[key("recurrent_kernel")] = orthogonal(rng, (u, 4 * u))
            else:
                weights[key("recurrent_kernel")] = glorot_uniform(rng, (u, 4 * u))
            bias = np.zeros(4 * u)
            bias[u : 2 * u] = init.forget_bias  # gate order i, f, c, o
            weights[key("bias")] = bias
        elif isinstance(layer, GRU):
            u = layer.units  # Keras' GRU defaults: Glorot kernel, orthogonal recurrent kernel, both biases zero
            weights[key("kernel")] = glorot_uniform(rng, shapes[key("kernel")])
            weights[key("recurrent_kernel")] = orthogonal(rng, (u, 3 * u)) if init.recurrent == "orthogonal" else glorot_uniform(rng, (u, 3 * u))
            weights[key("bias")] = np.zeros((2, 3 * u))
        elif isinstance(layer, LayerNorm):
            weights[key("gamma")] = np.ones(shapes[key("gamma")])
            weights[key("beta")] = np.zeros(shapes[key("beta")])
        elif isinstance(layer, MultiHeadSelfAttention):
            drawn = attention_init(rng, init, layer, shapes[key("query_kernel")][0])
            weights |= {key(name): drawn[name] for name in PARAM_NAMES[MultiHeadSelfAttention] if name in drawn}  # param_shapes' order
        elif isinstance(layer, PositionEmbedding):
            s = init.embedding_scale  # the token table's rule: Keras' default uniform, as keras-io's position table
            weights[key("embeddings")] = rng.uniform(-s, s, size=shapes[key("embeddings")])
    return weights


def attention_init(rng: np.random.Generator, init: InitSpec, layer: MultiHeadSelfAttention, width: int) -> dict[str, np.ndarray]:
    """One attention layer's weights by short name: each projection drawn as the 2-D matrix it is, then split into heads.

    The kernel rule sees the (E, H*D) matrix of q, k and v and the (H*D, E) output (fans E and H*D, the usual
    transformer init), not Keras' 3-D fans of (E, H, D); biases by the bias rule (fan_in E, or H*D for the output).
    Drawn in the order query, key, value, output: kernel then bias.
    """
    e, h, d = width, layer.heads, layer.head_dim
    weights = {}
    for name in ("query", "key", "value", "output"):
        shape, kernel_shape, bias_shape = ((h * d, e), (h, d, e), (e,)) if name == "output" else ((e, h * d), (e, h, d), (h, d))
        weights[f"{name}_kernel"] = _kernel(rng, init, shape).reshape(kernel_shape)
        if layer.bias:
            weights[f"{name}_bias"] = _bias(rng, init, (shape[1],), shape[0]).reshape(bias_shape)
    return weights


def cast(weights: Weights, dtype: str) -> Weights:
    """The same weights as `dtype` ("float32" or "float64") arrays."""
    return {k: np.asarray(v, dtype=dtype) for k, v in weights.items()}
