"""The cifar10 task: normalisation and the CLI's --subset on real data.

Its parameter count and float64 logits in every engine are the templates' (test_templates.py, test_templates_checks.py).
"""

from __future__ import annotations

import json

import numpy as np
from conftest_data import real_data_dir

from tasks import cifar10


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
