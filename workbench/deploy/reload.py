"""Runs in a fresh process (`answer`, asked through workbench/process/ask.py): read each artifact back and check it.

Each artifact is read with its framework's own loader (the adapter's `load`), except weights.npz,
which is read by `weights_file` and set into a newly built network. Nothing here trained the model:
the logits it is judged against were saved by the training process.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from frameworks.base import SPEC_MODEL, RunSettings
from tasks.spec import TaskSpec
from tasks.spec_io import spec_from_json
from workbench.deploy.checks import judge, predict_all, timings
from workbench.deploy.weights_file import load_weights
from workbench.process.lines import one_line

WEIGHTS = "weights.npz"  # written by the workbench for every network row, in the canonical layout


def predictor(module: ModuleType, artifact: str, path: Path, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """predict(X) -> logits of the artifact, as read back in this process."""
    if artifact == WEIGHTS:
        network = module.create(spec, settings, SPEC_MODEL)
        network.build(load_weights(path, spec.model, spec.name))
        return network.predict
    return module.load(artifact, str(path), spec, settings)


def answer(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """{"checks": {artifact: judged diff and timings, or a "reload failed" status}} for every artifact asked."""
    spec = spec_from_json(request["spec"])
    settings = RunSettings(device="cpu", threads=request["threads"], dtype=request["dtype"], progress=False)
    module.configure(settings)
    folder, checks = Path(request["folder"]), {}
    for artifact in request["artifacts"]:
        try:
            predict = predictor(module, artifact, folder / artifact, spec, settings)
            check = judge(predict_all(predict, arrays["X_check"]), arrays["logits"])
            checks[artifact] = {**check, **timings(predict, arrays["X_test"], request["latency_calls"])}
        except Exception as exc:  # noqa: BLE001 - one artifact's failure is its own cell, not the row's
            checks[artifact] = {"status": f"reload failed: {one_line(exc)}"}
    return {"checks": checks}, {}
