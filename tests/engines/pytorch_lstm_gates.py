"""Injected bug: PyTorch's LSTM loaded with the forget and cell-candidate gate blocks exchanged."""

from __future__ import annotations

import numpy as np

from frameworks import layout, pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "swapped LSTM gates (f and c)"


def _swap(a: np.ndarray) -> np.ndarray:
    u = a.shape[-1] // 4
    return np.concatenate([a[..., :u], a[..., 2 * u : 3 * u], a[..., u : 2 * u], a[..., 3 * u :]], axis=-1)


class Network(pytorch.Network):
    """The real network with the gate blocks of the canonical LSTM exchanged on the way in."""

    def set_weights(self, weights):  # noqa: ANN001, D102
        original = layout.lstm_to_torch
        layout.lstm_to_torch = lambda kernel, recurrent, bias: original(_swap(kernel), _swap(recurrent), _swap(bias))
        try:
            super().set_weights(weights)
        finally:
            layout.lstm_to_torch = original


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
