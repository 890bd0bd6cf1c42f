"""The reference network with one thing changed, to measure how much a differing default or a mistake matters.

A change that is a spec field (an eps, GELU's approximation, the softmax dtype, a mask) is a spec change
(`with_layers`); a change that is not (Flax's one-pass LayerNorm variance, a layout mistake, an inverted mask)
replaces one layer type's forward with a variant written here. `layer_outputs` runs the float64 reference
(tasks/reference.py) layer by layer with such replacements. Used by the defaults table's measured sizes
(workbench/teach/difference_sizes.py) and benchmarks/attention_differences.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from tasks.reference import LAYER_OPS
from tasks.reference_attention import masked_softmax
from tasks.spec import PARAM_NAMES, Add, LayerNorm, ModelSpec, MultiHeadSelfAttention, layer_inputs, param_key
from tasks.spec_attention import real_tokens, uses_padding_mask

Forward = Callable  # (layer, p, x, training) -> (y, cache), as in tasks/reference.py


def layer_outputs(model: ModelSpec, weights: dict, X: np.ndarray, forwards: dict[type, Forward] | None = None,
                  training: bool = False) -> list[np.ndarray]:  # fmt: skip
    """Every layer's float64 output, the reference's forward for each layer unless `forwards` replaces its type."""
    x = np.asarray(X, dtype=np.int64 if model.input_dtype == "int" else np.float64)
    keep = real_tokens(x) if model.input_dtype == "int" else None
    outs: list[np.ndarray] = []
    for i, (layer, sources) in enumerate(zip(model.layers, layer_inputs(model))):
        ins = [x if j < 0 else outs[j] for j in sources]
        if isinstance(layer, Add):
            outs.append(np.sum(ins, axis=0))
            continue
        forward = (forwards or {}).get(type(layer), LAYER_OPS[type(layer)][0])
        p = {n: weights[param_key(i, layer, n)] for n in PARAM_NAMES.get(type(layer), ()) if param_key(i, layer, n) in weights}
        outs.append(forward(layer, p, (ins[0], keep) if uses_padding_mask(layer) else ins[0], training)[0])
    return outs


def with_layers(model: ModelSpec, kind: type, **changes: object) -> ModelSpec:
    """The model with every layer of type `kind` changed (a spec field)."""
    return replace(model, layers=tuple(replace(layer, **changes) if isinstance(layer, kind) else layer for layer in model.layers))


def layernorm_fast_variance(layer: LayerNorm, p: dict, x: np.ndarray, training: bool) -> tuple[np.ndarray, None]:
    """LayerNorm with the one-pass variance E[x^2] - E[x]^2, clipped at 0 (Flax's use_fast_variance=True)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = np.maximum((x * x).mean(axis=-1, keepdims=True) - mean**2, 0.0)
    return p["gamma"] * (x - mean) / np.sqrt(var + layer.eps) + p["beta"], None


def flatten_channels_first(layer: object, p: dict, x: np.ndarray, training: bool) -> tuple[np.ndarray, None]:
    """Flatten of an NHWC tensor in C, H, W order: what a channels-first engine's Flatten feeds a Dense whose rows
    were not permuted (frameworks/layout.py permutes them)."""
    return x.transpose(0, 3, 1, 2).reshape(len(x), -1) if x.ndim == 4 else x.reshape(len(x), -1), None


def attention_variant(scale: bool = True, split: str = "hd", softmax_axis: int = -1, invert_mask: bool = False) -> Forward:
    """Self-attention with one mistake; the defaults give the reference's function.

    split "dh": the (E, H*D) projections split into heads as (D, H), and merged back the same way.
    softmax_axis -2: normalised over the queries; padding keys are then zeroed (an engine would get NaN there).
    """

    def forward(layer: MultiHeadSelfAttention, p: dict, x: tuple, training: bool) -> tuple[np.ndarray, None]:
        values, keep = x
        keep = ~keep if invert_mask else keep
        (n, length, e), (_, h, d) = values.shape, p["query_kernel"].shape
        order = (0, 2, 1, 3) if split == "hd" else (0, 3, 1, 2)  # (N, L, H, D) or (N, L, D, H) -> (N, H, L, D)
        shape = (n, length, h, d) if split == "hd" else (n, length, d, h)
        q, k, v = ((values @ p[f"{name}_kernel"].reshape(e, h * d) + p[f"{name}_bias"].reshape(h * d)).reshape(shape).transpose(order)
                   for name in ("query", "key", "value"))  # fmt: skip
        scores = (q @ k.transpose(0, 1, 3, 2)) / (np.sqrt(d) if scale else 1.0)
        if softmax_axis == -1:
            weights = masked_softmax(scores, keep)
        else:
            e_q = np.exp(scores - scores.max(axis=softmax_axis, keepdims=True))
            weights = e_q / e_q.sum(axis=softmax_axis, keepdims=True) * keep[:, None, None, :]
        o = (weights @ v).transpose(np.argsort(order))  # back to (N, L, H, D) or (N, L, D, H)
        return o.reshape(n, length, h * d) @ p["output_kernel"].reshape(h * d, e) + p["output_bias"], None

    return forward
