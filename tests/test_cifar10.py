"""The cifar10 task: normalisation, equal parameter counts, same float64 logits, CLI smoke paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest_data import real_data_dir

from frameworks.base import RunSettings
from tasks import cifar10, reference
from tasks.init import init_weights
from tasks.spec import count_params

SPEC = cifar10.SPEC
FRAMEWORKS = ("pytorch", "keras")


def _adapter(framework: str, dtype: str = "float32"):  # noqa: ANN202 - a framework adapter
    """A built adapter for the real cifar10 spec on the CPU."""
    pytest.importorskip("torch" if framework == "pytorch" else "tensorflow")
    from frameworks.base import load_adapter_module

    module = load_adapter_module(framework)
    settings = RunSettings(device="cpu", threads=2, dtype=dtype, progress=False)
    module.configure(settings)
    return module.create(SPEC, settings)


def _trained_looking_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Canonical float64 weights with non-trivial BatchNorm parameters and moving statistics."""
    rng = np.random.default_rng(seed)
    weights = init_weights(SPEC.model, SPEC.init, seed)
    for key, value in weights.items():
        name = key.split(".")[1]
        if name == "moving_var":
            weights[key] = rng.uniform(0.5, 2.0, value.shape)
        elif name in ("gamma", "beta", "moving_mean", "bias"):
            weights[key] = (1.0 if name == "gamma" else 0.0) + 0.1 * rng.standard_normal(value.shape)
    return {k: v.astype(np.float64) for k, v in weights.items()}


def test_channel_stats_and_normalize_match_float64():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 5, 4, 3), dtype=np.uint8)
    mean, std = cifar10.channel_stats(images)
    pixels = images.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(mean, pixels.mean(axis=0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(std, pixels.std(axis=0), rtol=1e-12, atol=0)
    X = cifar10.normalize(images, mean, std)
    assert X.dtype == np.float32 and X.shape == images.shape
    np.testing.assert_allclose(X, (images - mean) / std, rtol=0, atol=1e-6)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_param_count_equals_spec(framework):
    adapter = _adapter(framework)
    adapter.build(init_weights(SPEC.model, SPEC.init, 0))
    assert adapter.num_params() == count_params(SPEC.model) == 319_498


def test_same_float64_logits_pytorch_keras_reference():
    weights = _trained_looking_weights()
    X = np.random.default_rng(2).standard_normal((4, 32, 32, 3))  # standardised images are ~N(0, 1)
    expected = reference.forward(SPEC.model, weights, X, training=False)
    logits = {}
    for framework in FRAMEWORKS:
        adapter = _adapter(framework, dtype="float64")
        adapter.build(weights)
        logits[framework] = adapter.predict(X)
        assert logits[framework].dtype == np.float64
    atol = SPEC.tolerances.forward64
    assert np.abs(expected).max() > 0.1  # the comparison is not between near-zero logits
    # elementwise, unsorted: a wrong flatten order or kernel permutation would show here
    np.testing.assert_allclose(logits["pytorch"], expected, rtol=0, atol=atol)
    np.testing.assert_allclose(logits["keras"], expected, rtol=0, atol=atol)
    np.testing.assert_allclose(logits["pytorch"], logits["keras"], rtol=0, atol=atol)


def test_real_data_is_normalised_per_channel():
    data = cifar10.load(str(real_data_dir()))
    assert data.X_train.dtype == np.float32 and data.X_train.shape[1:] == (32, 32, 3)
    mean = data.X_train.mean(axis=(0, 1, 2), dtype=np.float64)  # float64 sums, no float64 copy
    std = data.X_train.std(axis=(0, 1, 2), dtype=np.float64)
    np.testing.assert_allclose(mean, 0.0, rtol=0, atol=1e-4)
    np.testing.assert_allclose(std, 1.0, rtol=0, atol=1e-4)
    assert np.abs(data.X_test.mean(axis=(0, 1, 2), dtype=np.float64)).max() < 0.1  # same statistics, not its own


def test_subset_trains_on_the_first_samples(tmp_path):
    data = real_data_dir()
    out = tmp_path / "results.json"
    import compare

    code = compare.main(["--task", "cifar10", "--subset", "256", "--epochs", "1", "--frameworks", "pytorch,sklearn",
                         "--in-process", "--quiet", "--data-dir", str(data), "--output", str(out)])  # fmt: skip
    assert code == 0
    results = json.loads(out.read_text())["results"]
    assert [r["train_samples"] for r in results] == [256, 256]
    assert all(r["status"] == "ok" and r["test_samples"] >= 1000 for r in results)
