"""The digits task: scikit-learn's bundled digits, read without scikit-learn, split once; divergence on it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import ROOT, run_cli

from tasks import digits, mnist, registry
from workbench.run.driver import DIVERGED_FACTOR


def test_load_matches_scikit_learn_and_splits_once():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    data = digits.load(None)
    train, test = digits.split()
    assert (len(data.y_train), len(data.y_test)) == (1437, 360)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(1797))  # disjoint, every image once
    np.testing.assert_array_equal(data.X_train, (bunch.data[train] / 16).astype(np.float32))
    np.testing.assert_array_equal(data.y_test, bunch.target[test])
    assert data.X_train.dtype == np.float32 and data.X_train.min() == 0 and data.X_train.max() == 1
    spec = registry.get("digits").spec
    assert data.X_train.shape[1:] == spec.model.input_shape  # the spec describes its data
    assert set(np.unique(data.y_test)) == set(range(spec.data.num_classes))  # every class in the test set
    assert data.canonical and data.describe().startswith("Digits (canonical): 1437 train / 360 test")


def test_load_does_not_import_scikit_learn():
    code = "import sys; from tasks import digits; digits.load(); print('sklearn' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr  # the PyTorch and Keras rows do not carry its memory


def test_a_huge_learning_rate_is_diverged_even_when_the_loss_stays_finite(tmp_path):
    """--lr 100: PyTorch's loss reaches ~2.6e5 in epoch 1 (finite); scikit-learn's clipped loss ~13. Both diverged."""
    out = tmp_path / "results.json"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch,sklearn", "--lr", "100", "--epochs", "2", "--quiet",
                   "--output", str(out))  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    rows = {r["model_id"]: r for r in json.loads(out.read_text())["results"]}
    limit = DIVERGED_FACTOR * math.log(10)
    for model in ("spec", "MLPClassifier"):
        row = rows[model]
        assert row["status"] == "diverged", row
        assert math.isfinite(row["train_loss"]) and row["train_loss"] > limit
        assert row["message"].startswith("training loss ") and "in epoch 1 is above 11.5" in row["message"]
        assert row["history"] == [] and row["test_acc"] is None  # stopped at that epoch, not evaluated
    assert rows["logistic_regression"]["status"] == "ok"  # no learning rate: unaffected
    assert f"pytorch / {rows['spec']['model']}: diverged: training loss" in proc.stdout


def test_a_large_but_healthy_learning_rate_is_not_diverged(tmp_path):
    """lr 0.1 (10x the spec's) is noisy, ~0.9 in epoch 1, but learns: not flagged."""
    out = tmp_path / "results.json"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--lr", "0.1", "--epochs", "2", "--quiet", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(out.read_text())["results"]
    assert row["status"] == "ok" and row["test_acc"] > 0.8


def test_a_task_name_taken_twice_raises(monkeypatch):
    monkeypatch.setattr(registry, "_TASKS", {})
    monkeypatch.setattr(registry, "_builtin_loaded", False)
    monkeypatch.setattr(registry, "TASK_MODULES", (digits, mnist, digits))
    with pytest.raises(ValueError, match="task 'digits' of tasks.digits is already registered by tasks.digits"):
        registry.names()
    assert registry._TASKS == {}  # nothing half-registered
    with pytest.raises(ValueError, match="already registered"):
        registry.register(digits.SPEC, digits.load)
        registry.register(digits.SPEC, digits.load)


def test_a_row_that_cannot_place_eps_as_the_spec_says_carries_a_note(tmp_path):
    """digits' Adam puts eps on the corrected sqrt(v_hat) (torch's); MLPClassifier's Adam has only the uncorrected
    placement, so its row trains with that and says so; PyTorch's row, which has both, carries no such note."""
    out = tmp_path / "r.json"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch,sklearn", "--epochs", "1", "--quiet", "--threads", "1",
                   "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["model_id"]: r for r in json.loads(out.read_text())["results"]}
    note = "adam eps placement 'uncorrected', not the spec's 'corrected': the only one this framework runs"
    assert rows["MLPClassifier"]["message"] == note
    assert "eps placement" not in rows["spec"]["message"] and "eps placement" not in rows["logistic_regression"]["message"]
    assert f"sklearn / MLPClassifier: ok: {note}" in proc.stdout
