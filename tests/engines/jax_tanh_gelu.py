"""Injected bug: nnx.gelu with its default, the tanh approximation, where the spec says exact (erf)."""

from __future__ import annotations

import functools

from flax import nnx

from frameworks import jax as jax_adapter
from frameworks.jax import *  # noqa: F403 - every public name of the real adapter

BUG = "nnx.gelu's default tanh approximation instead of the exact GELU"


class Network(jax_adapter.Network):
    """The real network, every GELU on nnx.gelu's default."""

    def build(self, weights):  # noqa: ANN001, D102
        super().build(weights)
        for i, layer in enumerate(self.model.layers):
            if isinstance(layer, functools.partial) and layer.func is nnx.gelu:
                self.model.layers[i] = nnx.gelu  # approximate=True by default


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
