"""An adapter whose training loss becomes NaN in epoch 2 (as a too-large learning rate does)."""

from __future__ import annotations

from fault_adapters import working
from fault_adapters.working import DTYPES, configure, unsupported, peak_gpu_mb, version  # noqa: F401 - the adapter module interface


class Network(working.Network):
    """Finite loss in epoch 1, NaN from epoch 2 on."""

    def epoch_loss(self) -> float:
        """NaN once past the first epoch."""
        return float("nan") if self.epoch >= 2 else super().epoch_loss()


create = working.creator(Network)
