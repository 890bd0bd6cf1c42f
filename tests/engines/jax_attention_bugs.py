"""Shared by the injected attention bugs of Flax: the real network with another attention_fn in every attention layer."""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from frameworks import jax as jax_adapter
from frameworks.jax_layers import PaddingMaskedAttention


def buggy_attention(scale: bool = True, softmax_axis: int = -1) -> Callable:
    """An attention_fn like Flax's own weights path, with the 1/sqrt(D) scale optional and the softmax axis chosen."""

    def attention(query, key, value, bias=None, mask=None, **kwargs):  # noqa: ANN001, ANN003, ANN202
        scores = jnp.einsum("...qhd,...khd->...hqk", query / (math.sqrt(query.shape[-1]) if scale else 1.0), key)
        if mask is not None:
            scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
        return jnp.einsum("...hqk,...khd->...qhd", jax.nn.softmax(scores, axis=softmax_axis), value)

    return attention


def network_class(attention_fn: Callable) -> type:
    """The real Network class with `attention_fn` set in every attention layer after the build."""

    class Network(jax_adapter.Network):
        def build(self, weights):  # noqa: ANN001
            super().build(weights)
            for layer in self.model.layers:
                if isinstance(layer, PaddingMaskedAttention):
                    layer.attention_fn = attention_fn

    return Network
