"""An adapter whose native code exits the process (os._exit) while building."""

from __future__ import annotations

import os

from fault_adapters import working
from fault_adapters.working import DTYPES, configure, unsupported, peak_gpu_mb, version  # noqa: F401 - the adapter module interface


class Network(working.Network):
    """Exits with code 3 in build, skipping every handler."""

    def build(self, weights: working.Weights) -> None:
        """os._exit: no exception, no result file."""
        os._exit(3)


create = working.creator(Network)
