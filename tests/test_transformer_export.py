"""The transformer's artifacts (issue 23): PyTorch's state_dict, torch.export program and ONNX file of a tiny
transformer reload with their own loaders and predict what the trained network predicts (Keras': see the report)."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_specs import tiny_task
from tiny_transformer import TRANSFORMER

from frameworks.base import RunSettings, load_adapter_module, missing_packages
from workbench.check import equivalence as eq

SETTINGS = RunSettings(device="cpu", threads=1, dtype="float32", seed=0, progress=False)


@pytest.mark.parametrize("artifact", ["state_dict.pt", "model.pt2", "model.onnx"])
def test_pytorch_transformer_artifacts_reload(artifact, tmp_path):
    if missing_packages("pytorch"):
        pytest.skip("torch is not installed")
    module = load_adapter_module("pytorch")
    spec = tiny_task(TRANSFORMER)
    module.configure(SETTINGS)
    network = module.create(spec, SETTINGS)
    network.build(eq.check_weights(spec, 0))
    X, y = eq.random_inputs(spec, 8, 0)
    network.set_train_data(X, y)
    network.train_step(X, y)  # trained weights, not the loaded ones
    path = str(tmp_path / artifact)
    module.export(network, artifact, path)
    reloaded = module.load(artifact, path, spec, SETTINGS)(X)
    np.testing.assert_allclose(np.asarray(reloaded).reshape(-1), network.predict(X).reshape(-1), atol=1e-5)
