"""The attention maps of the NumPy float64 reference: each attention layer's per-head weights for one review."""

from __future__ import annotations

from typing import Any

import numpy as np

from tasks.reference import forward_layers
from tasks.reference_attention import ATTENTION_NAMES, Params, attention_probabilities
from tasks.spec import MultiHeadSelfAttention, layer_inputs, layer_name, param_key
from tasks.spec_attention import real_tokens, uses_padding_mask


def attention_maps(model: Any, weights: Params, ids: np.ndarray) -> dict[str, np.ndarray]:
    """{layer name, e.g. 'multiheadselfattention_3': (H, L, L) weights, query by key} of every attention layer for ONE review.

    `model` a tasks.spec.ModelSpec, `weights` canonical, `ids` the review's (L,) token ids; float64 throughout.
    """
    batch = np.asarray(ids, dtype=np.int64)[None]
    outputs = [out for _, out in forward_layers(model, weights, batch)]
    maps = {}
    for i, (layer, sources) in enumerate(zip(model.layers, layer_inputs(model))):
        if isinstance(layer, MultiHeadSelfAttention):
            x = batch if sources[0] < 0 else outputs[sources[0]]
            keys = {n: param_key(i, layer, n) for n in ATTENTION_NAMES if param_key(i, layer, n) in weights}
            p = {n: np.asarray(weights[key], dtype=np.float64) for n, key in keys.items()}
            keep = real_tokens(batch) if uses_padding_mask(layer) else None
            maps[layer_name(i, layer)] = attention_probabilities(layer, p, x, keep)[3][0]
    return maps
