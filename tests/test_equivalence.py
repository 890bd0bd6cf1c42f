"""Equivalence checks: tiny specs of every layer type x forward / gradient / trajectory, every
registered task on small inputs, injected weight-mapping bugs caught as FAIL, and the CLI."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from cli_helpers import run_cli
from tiny_specs import MODELS, tiny_task

from frameworks import layout
from tasks import registry
from workbench.check import equivalence as eq

pytest.importorskip("torch")
pytest.importorskip("keras")

STEPS = 5  # trajectory steps in tests (the CLI runs 50)


def _setup(name: str) -> tuple:
    spec = eq.check_spec(tiny_task(MODELS[name]), 8)
    X, y = eq.random_inputs(spec, 8 * STEPS, 0)
    return spec, eq.Frameworks(spec, eq.FRAMEWORKS, 1), eq.check_weights(spec, 0), X, y


@pytest.fixture(scope="module", params=sorted(MODELS))
def tiny(request) -> tuple:
    """(name, spec, frameworks, weights, X, y) of one tiny spec."""
    return (request.param, *_setup(request.param))


def _by_pair(rows: list[eq.Row]) -> dict[str, list[eq.Row]]:
    result: dict[str, list[eq.Row]] = {}
    for r in rows:
        result.setdefault(r.pair, []).append(r)
    return result


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize("measure, status", [(1e-10, "OK"), (1e-9, "OK"), (2e-9, "INACCURATE"), (1e-6, "INACCURATE"), (2e-6, "FAIL"), (math.nan, "FAIL")])
def test_judge_thresholds(measure, status):
    assert eq.judge(measure, 1e-9) == status


def test_difference_is_elementwise_not_sorted():
    a = np.array([1.0, 2.0, 3.0])
    assert eq.difference(a[::-1], a) == (2.0, 2.0 / 3.0)  # a permutation is a difference
    assert all(math.isnan(v) for v in eq.difference(a, a[:2]))  # shape mismatch -> NaN -> FAIL


def test_flat_features_from_torch_matches_canonical_flatten():
    images = np.random.default_rng(0).standard_normal((2, 3, 4, 5))  # NHWC
    torch_flat = layout.images_to_torch(images).reshape(2, -1)  # what nn.Flatten sees and returns
    np.testing.assert_array_equal(layout.flat_features_from_torch(torch_flat, (3, 4, 5)), images.reshape(2, -1))


# ---------------------------------------------------------------- tiny specs x checks


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward(tiny, dtype):
    name, spec, fws, weights, X, y = tiny
    adapters = {f: fws.build(f, spec, dtype, weights, X[:8], y[:8]) for f in fws.modules}
    rows = eq.forward_rows(spec, adapters, dtype, weights, X[:8])
    pairs = _by_pair(rows)
    for framework in ("pytorch", "keras"):
        layers = pairs[f"{framework} vs reference"]
        assert len(layers) == len(spec.model.layers) + 1  # every layer plus probabilities
        logits = next(r for r in layers if r.item.endswith("(logits)"))
        if dtype == "float64":
            assert logits.max_abs <= 1e-10
        else:
            assert logits.max_rel <= 1e-4
    assert ("sklearn vs reference" in pairs) == (name == "mlp")  # MLPClassifier only for Dense + ReLU
    assert all(r.status == "OK" for r in rows), [r for r in rows if r.status != "OK"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients(tiny, dtype):
    name, spec, fws, weights, X, y = tiny
    adapters = {f: fws.build(f, spec, dtype, weights, X[:8], y[:8]) for f in ("pytorch", "keras")}
    rows = eq.gradient_rows(spec, adapters, dtype, weights, X[:8], y[:8])
    expected = {"loss", *eq.reference.trainable_keys(spec.model)}
    for pair in ("pytorch vs reference", "keras vs reference", "keras vs pytorch"):
        assert {r.item for r in rows if r.pair == pair} == expected
    if dtype == "float64":
        assert max(r.max_abs for r in rows) <= 1e-9
    assert all(r.status == "OK" for r in rows), [r for r in rows if r.status != "OK"]


def test_finite_differences(tiny):
    name, spec, fws, weights, X, y = tiny
    rows = eq.finite_difference_rows(spec, weights, X[:8], y[:8], eq.CheckConfig())
    assert {r.item for r in rows} == set(eq.reference.trainable_keys(spec.model))
    assert max(r.max_abs for r in rows) <= 1e-6


def test_trajectories_float64(tiny):
    name, spec, fws, weights, X, y = tiny
    batches = [(X[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]) for i in range(STEPS)]
    cache: dict = {}
    for variant in eq.variants(spec, list(fws.modules)):
        rows = eq.trajectory_rows(spec, fws, "float64", weights, batches, variant, cache)
        stepped = [r for r in rows if r.item.startswith("step")]
        if not variant.judged:  # each framework's default Adam: reported, not judged
            assert {r.status for r in rows} == {"INFO"}
            continue
        assert {r.item for r in stepped} == {f"step {s}" for s in range(1, STEPS + 1)}
        assert max(r.max_abs for r in stepped) <= 1e-8, variant.name
        assert all(r.status == "OK" for r in stepped)


def test_default_adam_drift_is_reported():
    name, spec, fws, weights, X, y = ("mlp", *_setup("mlp"))
    spec = replace(spec, optimizer=replace(spec.optimizer, lr=1e-2))
    batches = [(X[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]) for i in range(STEPS)]
    defaults = eq.variants(spec, ["pytorch", "keras"])[-1]
    rows = eq.trajectory_rows(spec, fws, "float64", weights, batches, defaults, {})
    drift = max(r.max_abs for r in rows if r.pair == "keras vs pytorch")
    assert drift > 1e-8  # eps 1e-7 uncorrected vs 1e-8 corrected: a visible difference, as INFO
    assert {r.status for r in rows} == {"INFO"}


# ---------------------------------------------------------------- injected bugs are FAIL


def _forward_status(name: str, framework: str) -> dict[str, str]:
    spec, fws, weights, X, y = _setup(name)
    adapter = fws.build(framework, spec, "float64", weights, X[:8], y[:8])
    rows = eq.forward_rows(spec, {framework: adapter}, "float64", weights, X[:8])
    return {r.item: r.status for r in rows}


def test_unpermuted_flatten_order_is_caught(monkeypatch):
    monkeypatch.setattr(layout, "flatten_rows_to_torch", lambda kernel, hwc: kernel)
    status = _forward_status("cnn", "pytorch")
    assert status["7 Flatten"] == "OK"  # the flattened features agree (compared in canonical order)
    assert status["8 Dense"] == "FAIL" and status["10 Dense (logits)"] == "FAIL"


def test_swapped_lstm_gates_are_caught(monkeypatch):
    original = layout.lstm_to_torch

    def swapped(kernel, recurrent, bias):  # forget and cell-candidate blocks exchanged
        def swap(a):
            u = a.shape[-1] // 4
            return np.concatenate([a[..., :u], a[..., 2 * u : 3 * u], a[..., u : 2 * u], a[..., 3 * u :]], axis=-1)

        return original(swap(kernel), swap(recurrent), swap(bias))

    monkeypatch.setattr(layout, "lstm_to_torch", swapped)
    status = _forward_status("rnn", "pytorch")
    assert status["0 Embedding"] == "OK"
    assert status["1 LSTM"] == "FAIL" and status["2 Dense (logits)"] == "FAIL"


# ---------------------------------------------------------------- every registered task


@pytest.mark.parametrize("task", registry.names())
def test_registered_task_small(task):
    spec = registry.get(task).spec
    config = eq.CheckConfig(batch_size=2, steps=2, fd_samples=1, fd_coords=2, dtypes=("float64",))
    X, y = eq.random_inputs(spec, 4, 0)
    report = eq.run_checks(spec, X, y, config, "random")
    assert not report.failed, [r for r in report.rows if r.status == "FAIL"]
    checks = {r.check for r in report.rows}
    assert checks == {"forward", "gradient", "finite_difference", "trajectory"}


def test_cli_check_mnist():
    proc = run_cli("--task", "mnist", "--check", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for title in ("Forward, float64", "Gradients, float32", "finite differences", "Trajectory, float64", "worst of 50", "result: no FAIL"):
        assert title in proc.stdout, title
    assert "Traceback" not in proc.stderr
