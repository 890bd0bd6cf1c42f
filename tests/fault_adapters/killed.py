"""An adapter whose process is killed (SIGKILL, as the out-of-memory killer does) while building."""

from __future__ import annotations

import os
import signal

from fault_adapters import working
from fault_adapters.working import DTYPES, configure, unsupported, peak_gpu_mb, version  # noqa: F401 - the adapter module interface


class Network(working.Network):
    """Kills its own process in build."""

    def build(self, weights: working.Weights) -> None:
        """SIGKILL: no Python cleanup, no result file."""
        os.kill(os.getpid(), signal.SIGKILL)


create = working.creator(Network)
