"""Injected bug: PyTorch's RMSprop with its default alpha 0.99 where the spec says rho 0.9."""

from __future__ import annotations

import torch

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "torch.optim.RMSprop's default alpha 0.99 instead of the spec's rho"


class Network(pytorch.Network):
    """The real network; an RMSprop spec gets torch's alpha default."""

    def build(self, weights):  # noqa: ANN001, D102
        super().build(weights)
        opt = self.spec.optimizer
        if opt.name == "rmsprop":
            self.optimizer = torch.optim.RMSprop(self.model.parameters(), lr=opt.lr, eps=opt.eps)


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
