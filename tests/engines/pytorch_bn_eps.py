"""Injected bug: PyTorch with BatchNorm epsilon 1e-3 (Keras' default) where the spec says 1e-5."""

from __future__ import annotations

from torch import nn

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "BatchNorm eps 1e-3 instead of the spec's 1e-5"


class Network(pytorch.Network):
    """The real network, with the wrong epsilon in every BatchNorm."""

    def build(self, weights):  # noqa: ANN001, D102
        super().build(weights)
        for module in self.model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.eps = 1e-3


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
