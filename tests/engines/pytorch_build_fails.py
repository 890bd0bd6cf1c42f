"""Not a numerical bug: PyTorch's adapter with a build that raises, as a framework rejecting a layer would. Its --check
and --explain must say ERROR and fail, never pass it as "skipped" or "no FAIL"."""

from __future__ import annotations

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter


class Network(pytorch.Network):
    """The real network, whose build raises."""

    def build(self, weights):  # noqa: ANN001, D102
        raise RuntimeError("simulated build failure: layer not supported")


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
