"""An adapter that raises while building its model."""

from __future__ import annotations

from fault_adapters import working
from fault_adapters.working import DTYPES, configure, unsupported, peak_gpu_mb, version  # noqa: F401 - the adapter module interface


class Network(working.Network):
    """Raises in build."""

    def build(self, weights: working.Weights) -> None:
        """Fails like a framework rejecting a layer."""
        raise RuntimeError("simulated build failure: layer not supported")


create = working.creator(Network)
