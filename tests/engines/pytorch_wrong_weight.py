"""Injected bug: the output layer's kernel is loaded 5 % too large (a wrong weight), for the mixed-precision check."""

from __future__ import annotations

import torch

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "output kernel x 1.05"


class Network(pytorch.Network):
    """The real network; its last Linear's weight is 5 % off."""

    def set_weights(self, weights):  # noqa: ANN001, D102
        super().set_weights(weights)
        last = [m for m in self.model if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.mul_(1.05)


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
