"""NumPy float64 forward and hand-written backward of the layers of `tasks.spec_attention` (issue 23).

Same pair of functions per layer as `tasks.reference` (which registers them through tasks/reference_layers.py):

* ``forward(layer, p, x, training) -> (y, cache)``
* ``backward(layer, p, cache, dy) -> (dx, grads)``

A layer that reads the padding mask (`uses_padding_mask`) gets ``x = (activations, keep)``, keep the (N, L)
bool array `real_tokens(ids)` of the model's input ids, and returns the gradient of the activations only.
tasks/attention_maps.py gives the per-head weights of every attention layer for one review for the attention-map figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tasks.spec import param_key
from tasks.spec_attention import (
    ATTENTION_PARAM_NAMES,
    GELU,
    MaskedMeanPooling,
    MultiHeadSelfAttention,
    PositionEmbedding,
    real_tokens,
    uses_padding_mask,
)

Params = dict[str, np.ndarray]
Cache = Any
TANH_GELU_C = np.sqrt(2.0 / np.pi)  # the tanh approximation's constants, as every engine writes them
TANH_GELU_A = 0.044715
ATTENTION_NAMES = ATTENTION_PARAM_NAMES[MultiHeadSelfAttention]


def split_masked_input(layer: object, x: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(activations, keep or None): unpack what `tasks.reference` passes to a masked layer (see the module doc)."""
    if not uses_padding_mask(layer):
        return x, None
    values, keep = x
    if keep is None:
        raise ValueError(f"{type(layer).__name__} with mask='padding' needs token ids as the model's input")
    return values, np.asarray(keep, dtype=bool)


# ---------------------------------------------------------------- MultiHeadSelfAttention


def _heads(x: np.ndarray, p: Params, name: str) -> np.ndarray:
    """One projection split into heads: (N, L, E) @ (E, H, D) (+ (H, D)) -> (N, H, L, D)."""
    e, h, d = p[f"{name}_kernel"].shape
    y = (x @ p[f"{name}_kernel"].reshape(e, h * d)).reshape(*x.shape[:2], h, d)
    if f"{name}_bias" in p:
        y = y + p[f"{name}_bias"]
    return y.transpose(0, 2, 1, 3)


def _merged(heads: np.ndarray) -> np.ndarray:
    """(N, H, L, D) -> (N, L, H*D), head h's feature d at h*D + d."""
    n, h, length, d = heads.shape
    return heads.transpose(0, 2, 1, 3).reshape(n, length, h * d)


def masked_softmax(scores: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """Softmax over the last (key) axis of (N, H, Lq, Lk), padding keys exactly 0, all-padding rows all 0."""
    if keep is None:
        shifted = scores - scores.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)
    allowed = np.broadcast_to(keep[:, None, None, :], scores.shape)
    top = np.where(allowed, scores, -np.inf).max(axis=-1, keepdims=True)
    e = np.exp(np.where(allowed, scores - np.where(np.isfinite(top), top, 0.0), -np.inf))  # exp(-inf) = 0
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def attention_probabilities(layer: MultiHeadSelfAttention, p: Params, x: np.ndarray, keep: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """(q, k, v, weights): the heads (N, H, L, D) and the softmax weights (N, H, Lq, Lk) of x (N, L, E)."""
    q, k, v = (_heads(x, p, name) for name in ("query", "key", "value"))
    scores = (q @ k.transpose(0, 1, 3, 2)) / np.sqrt(layer.head_dim)
    if layer.softmax_dtype == "float32":  # JAX's rounding; the backward below takes the rounded weights as exact
        return q, k, v, masked_softmax(scores.astype(np.float32), keep).astype(scores.dtype)
    if layer.softmax_dtype != "input":
        raise ValueError(f"MultiHeadSelfAttention softmax_dtype {layer.softmax_dtype!r}: use 'input' or 'float32'")
    return q, k, v, masked_softmax(scores, keep)


def attention_forward(layer: MultiHeadSelfAttention, p: Params, x: Any, training: bool) -> tuple[np.ndarray, Cache]:
    """Scaled dot-product attention per head over the real keys, heads merged by the (H, D, E) output kernel."""
    values, keep = split_masked_input(layer, x)
    q, k, v, weights = attention_probabilities(layer, p, values, keep)
    o = _merged(weights @ v)  # (N, L, H*D)
    h, d, e = p["output_kernel"].shape
    y = o @ p["output_kernel"].reshape(h * d, e)
    if "output_bias" in p:
        y = y + p["output_bias"]
    return y, (values, q, k, v, weights, o)


def attention_backward(layer: MultiHeadSelfAttention, p: Params, cache: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Back through the output projection, the weighted sum, the softmax (masked weights stay 0) and q, k, v."""
    x, q, k, v, weights, o = cache
    h, d, e = p["output_kernel"].shape
    flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731 - (N, L, F) -> (N*L, F)
    grads = {"output_kernel": (flat(o).T @ flat(dy)).reshape(h, d, e)}
    do = (dy @ p["output_kernel"].reshape(h * d, e).T).reshape(*dy.shape[:2], h, d).transpose(0, 2, 1, 3)  # (N, H, L, D)
    d_weights = do @ v.transpose(0, 1, 3, 2)
    d_heads = {"value": weights.transpose(0, 1, 3, 2) @ do}
    d_scores = weights * (d_weights - (d_weights * weights).sum(axis=-1, keepdims=True)) / np.sqrt(layer.head_dim)
    d_heads["query"] = d_scores @ k
    d_heads["key"] = d_scores.transpose(0, 1, 3, 2) @ q
    dx = np.zeros_like(x)
    for name, dh in d_heads.items():
        d_proj = _merged(dh)  # (N, L, H*D)
        grads[f"{name}_kernel"] = (flat(x).T @ flat(d_proj)).reshape(e, h, d)
        dx += d_proj @ p[f"{name}_kernel"].reshape(e, h * d).T
        if f"{name}_bias" in p:
            grads[f"{name}_bias"] = dh.sum(axis=(0, 2))
    if "output_bias" in p:
        grads["output_bias"] = dy.sum(axis=(0, 1))
    return dx, grads


def cancelled_by_softmax(model: Any) -> set[str]:
    """The key biases of every attention layer with biases (`model` a tasks.spec.ModelSpec).

    Adding b_k to every key adds q . b_k to each query's every score; the softmax over the keys ignores it, so the
    loss does not depend on b_k: its gradient is 0 in exact arithmetic and rounding noise in floating point, which
    Adam's division by sqrt(v) turns into lr-sized steps. Trajectory checks report, not judge, them.
    """
    return {param_key(i, layer, "key_bias") for i, layer in enumerate(model.layers)
            if isinstance(layer, MultiHeadSelfAttention) and layer.bias}  # fmt: skip


# ---------------------------------------------------------------- GELU


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # here, not at import: scipy.special costs ~0.4 s in every process that imports the reference

    return erf(x)


def gelu_forward(layer: GELU, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """x * Phi(x) with erf ("none") or the tanh approximation ("tanh")."""
    if layer.approximate == "none":
        return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0))), x
    if layer.approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(TANH_GELU_C * (x + TANH_GELU_A * x**3))), x
    raise ValueError(f"GELU approximate {layer.approximate!r}: use 'none' (erf) or 'tanh'")


def gelu_backward(layer: GELU, p: Params, x: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Phi(x) + x phi(x) exactly, or the derivative of the tanh form."""
    if layer.approximate == "none":
        return dy * (0.5 * (1.0 + _erf(x / np.sqrt(2.0))) + x * np.exp(-0.5 * x**2) / np.sqrt(2.0 * np.pi)), {}
    t = np.tanh(TANH_GELU_C * (x + TANH_GELU_A * x**3))
    return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * TANH_GELU_C * (1.0 + 3.0 * TANH_GELU_A * x**2)), {}


# ---------------------------------------------------------------- PositionEmbedding


def position_embedding_forward(layer: PositionEmbedding, p: Params, x: np.ndarray, training: bool) -> tuple[np.ndarray, Cache]:
    """Add row t of the table to slot t of every sample."""
    return x + p["embeddings"][: x.shape[1]], x.shape


def position_embedding_backward(layer: PositionEmbedding, p: Params, shape: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """dx = dy; each used row gets the sum over the batch of its slot's gradient, unused rows 0."""
    d_table = np.zeros_like(p["embeddings"])
    d_table[: shape[1]] = dy.sum(axis=0)
    return dy, {"embeddings": d_table}


# ---------------------------------------------------------------- MaskedMeanPooling


def masked_mean_pooling_forward(layer: MaskedMeanPooling, p: Params, x: Any, training: bool) -> tuple[np.ndarray, Cache]:
    """Sum of the real slots divided by their count (at least 1, so an all-padding sample gives zeros)."""
    values, keep = split_masked_input(layer, x)
    if keep is None:
        keep = np.ones(values.shape[:2], dtype=bool)
    share = keep / np.maximum(keep.sum(axis=1, keepdims=True), 1)  # (N, L): each slot's weight in the mean
    return (share[:, None, :] @ values)[:, 0], share


def masked_mean_pooling_backward(layer: MaskedMeanPooling, p: Params, share: Cache, dy: np.ndarray) -> tuple[np.ndarray, Params]:
    """Each real slot gets dy / count; padding slots get 0."""
    return share[:, :, None] * dy[:, None, :], {}


ATTENTION_LAYER_OPS = {
    MultiHeadSelfAttention: (attention_forward, attention_backward),
    GELU: (gelu_forward, gelu_backward),
    PositionEmbedding: (position_embedding_forward, position_embedding_backward),
    MaskedMeanPooling: (masked_mean_pooling_forward, masked_mean_pooling_backward),
}
