"""Injected bug: PyTorch's momentum buffer kept as it is when the lr changes, whatever the spec's velocity says."""

from __future__ import annotations

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

BUG = "momentum buffer not rescaled for the spec's 'step' velocity when the lr changes"


class Network(pytorch.Network):
    """The real network; set_learning_rate only sets the lr (torch's own "gradient" velocity)."""

    def set_learning_rate(self, lr):  # noqa: ANN001, D102
        for group in self.optimizer.param_groups:
            group["lr"] = lr


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
