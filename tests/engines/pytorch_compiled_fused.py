"""Injected bug, compiled mode only: the compiled path's fused "bias + ReLU" adds a wrong constant before the ReLU.

The eager mode is the real adapter, so every eager check passes; only `--check --mode compiled`, which compares the
compiled mode with the eager mode and the float64 reference, can see it.
"""

from __future__ import annotations

import torch
from torch import nn

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter

OFFSET = 1e-3  # the wrong constant: relu(x + OFFSET) where the spec says relu(x)
BUG = f"the compiled path's fused ReLU computes relu(x + {OFFSET:g})"


class FusedReLU(nn.Module):
    """A 'fused' ReLU as a compiler pass might emit it, with a wrong constant folded in."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.relu(x + OFFSET)


class Network(pytorch.Network):
    """The real network; in the compiled mode its compiled forward runs the modules with the buggy fused ReLU."""

    def build(self, weights):  # noqa: ANN001, D102
        super().build(weights)
        if self.compiled:  # the same parameter-holding modules, the ReLUs swapped: only the compiled path is wrong
            fused = nn.Sequential(*(FusedReLU() if isinstance(m, nn.ReLU) else m for m in self.model))
            self.forward = torch.compile(fused)


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
