"""An adapter that hangs in training until the file named by $FAULT_GATE exists (forever if unset)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fault_adapters import working
from fault_adapters.working import DTYPES, configure, unsupported, peak_gpu_mb, version  # noqa: F401 - the adapter module interface

GATE_VAR = "FAULT_GATE"


class Network(working.Network):
    """Blocks in fit_epoch: a deadlock, or a run far slower than expected."""

    def fit_epoch(self, order: working.np.ndarray, on_batch: working.OnBatch) -> float:
        """Waits for the gate file, then trains like the working adapter."""
        gate = os.environ.get(GATE_VAR)
        while gate is None or not Path(gate).exists():
            time.sleep(0.05)
        return super().fit_epoch(order, on_batch)


create = working.creator(Network)
