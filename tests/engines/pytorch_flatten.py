"""Injected bug: PyTorch's first Dense after Flatten loaded without permuting its rows to C, H, W order."""

from __future__ import annotations

from frameworks import layout, pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "an unpermuted flatten"


class Network(pytorch.Network):
    """The real network with the flatten permutation left out when loading."""

    def set_weights(self, weights):  # noqa: ANN001, D102
        original = layout.flatten_rows_to_torch
        layout.flatten_rows_to_torch = lambda kernel, hwc: kernel
        try:
            super().set_weights(weights)
        finally:
            layout.flatten_rows_to_torch = original


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
