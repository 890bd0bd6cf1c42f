"""Injected bug: PyTorch's GRU loaded without reordering the gates (canonical z, r, h read as torch's r, z, n)."""

from __future__ import annotations

from frameworks import layout, pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "GRU gates not reordered (z, r, h loaded as r, z, n)"


class Network(pytorch.Network):
    """The real network, with layout's gate reordering switched off on the way in."""

    def set_weights(self, weights):  # noqa: ANN001, D102
        original = layout.gru_gates_to_torch
        layout.gru_gates_to_torch = lambda a, axis=-1: a  # the bug: Keras' gate order taken for torch's
        try:
            super().set_weights(weights)
        finally:
            layout.gru_gates_to_torch = original


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
