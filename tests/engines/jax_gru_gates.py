"""Injected bug: Flax's GRU cell loaded without reordering the gates (canonical z, r, h read as Flax's r, z, n)."""

from __future__ import annotations

from frameworks import jax as jax_adapter
from frameworks import layout
from frameworks.jax import *  # noqa: F403 - every public name of the real adapter

BUG = "GRU gates not reordered for Flax (z, r, h loaded as r, z, n)"


class Network(jax_adapter.Network):
    """The real network, with layout's gate reordering switched off on the way in."""

    def set_weights(self, weights):  # noqa: ANN001, D102
        original = layout.gru_gates_to_torch
        layout.gru_gates_to_torch = lambda a, axis=-1: a  # the bug: Keras' gate order taken for Flax's
        try:
            super().set_weights(weights)
        finally:
            layout.gru_gates_to_torch = original


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
