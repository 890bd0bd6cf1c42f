"""Injected bug: every bias of PyTorch's model starts 1e-9 off the canonical value (an init of 1e-9 for 0)."""

from __future__ import annotations

import torch

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "bias initialised to 1e-9 instead of 0"


class Network(pytorch.Network):
    """The real network; its biases carry a 1e-9 offset."""

    def set_weights(self, weights):  # noqa: ANN001, D102
        super().set_weights(weights)
        with torch.no_grad():
            for name, param in self.model.named_parameters():
                if name.endswith("bias"):
                    param.add_(1e-9)


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
