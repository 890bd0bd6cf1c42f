"""An adapter with the deployment hooks and no framework: the NumPy reference network, whose artifacts
fail in each way the export table must show (one good, one that drifts, one that raises, one that needs
a package that is not installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from fault_adapters import working
from fault_adapters.working import DTYPES, configure, unsupported, creator, peak_gpu_mb, version  # noqa: F401 - the module's names

from frameworks.base import Export, RunSettings, Weights
from tasks import reference
from tasks.spec import TaskSpec

EXPORTS = {
    "good.npz": Export("native eager", "np.load(allow_pickle=False)"),
    "drifted.npz": Export("native eager", "np.load(allow_pickle=False)"),
    "broken.bin": Export("native eager", "never read"),
    "needs.pkg": Export("ONNX Runtime", "never read", ("framebench_no_such_package",)),
}
DRIFT = 1e-3  # added to every weight of drifted.npz: far above the float32 reload tolerance


class Network(working.Network):
    """The spec's network computed by the NumPy reference, in float32; trains nothing."""

    def build(self, weights: Weights) -> None:
        """Keep the canonical weights."""
        self.weights = {k: np.asarray(v) for k, v in weights.items()}

    def get_weights(self) -> Weights:
        """The weights as built."""
        return dict(self.weights)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The reference forward pass, rounded to float32."""
        return reference.forward(self.spec.model, self.weights, X).astype(np.float32)


create = creator(Network)


def export(network: Network, artifact: str, path: str) -> str:
    """good.npz: the weights; drifted.npz: shifted weights; broken.bin: raises after writing half a file."""
    if artifact == "broken.bin":
        Path(path).write_bytes(b"half")
        raise RuntimeError("disk on fire")
    shift = DRIFT if artifact == "drifted.npz" else 0.0
    np.savez(path, **{k: v + shift for k, v in network.weights.items()})
    return "np.savez"


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read the weights back without pickle; predict with the reference."""
    with np.load(path, allow_pickle=False) as stored:
        weights = {k: stored[k] for k in stored.files}
    return lambda X: reference.forward(spec.model, weights, X).astype(np.float32)
