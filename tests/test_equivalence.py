"""Equivalence checks: the verdict rules, finite differences, default-Adam drift as INFO, realistic
injected mapping bugs caught as FAIL (engines registered through the plugin hook), and the CLI.
Every engine x tiny spec / task spec is in tests/test_templates.py."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from tiny_specs import MODELS, tiny_task

from frameworks import layout
from frameworks.base import missing_packages
from tasks import registry
from workbench.check import equivalence as eq
from workbench.check.all_checks import run_checks

# the engines run in their own processes: found installed, not imported here (Keras would import TensorFlow into the
# pytest worker, 10 s of each worker's collection)
pytestmark = pytest.mark.skipif(bool(missing_packages("pytorch") + missing_packages("keras")), reason="needs PyTorch and Keras")
TESTS = Path(__file__).resolve().parent

STEPS = 5  # trajectory steps in tests (the CLI runs 50)


def _by_pair(rows: list[eq.Row]) -> dict[str, list[eq.Row]]:
    result: dict[str, list[eq.Row]] = {}
    for r in rows:
        result.setdefault(r.pair, []).append(r)
    return result


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize("measure, band, status", [
    (1e-10, False, "OK"), (1e-9, False, "OK"), (1.1e-9, False, "FAIL"), (math.nan, False, "FAIL"),
    (1.1e-9, True, "INACCURATE"), (1e-8, True, "INACCURATE"), (1.1e-8, True, "FAIL"), (math.nan, True, "FAIL"),
])  # fmt: skip
def test_judge_thresholds(measure, band, status):
    """Above tol is FAIL; the INACCURATE band (float32 Adam trajectories only) ends at 10 x tol."""
    assert eq.judge(measure, 1e-9, band) == status


def test_float64_is_judged_on_abs_float32_on_rel_and_downcast_on_float32():
    judging = eq.Judge(tol64=1e-10, tol32=1e-4)
    assert judging.row("forward", "float64", "a vs b", "x", 2e-10, 1e-12, downcast=False).status == "FAIL"
    assert judging.row("forward", "float32", "a vs b", "x", 2e-10, 1e-6, downcast=False).status == "OK"
    row = judging.row("forward", "float64", "a vs b", "x", 1e-7, 1e-6, downcast=True)
    assert (row.status, row.tol) == ("DOWNCAST", 1e-4)
    assert judging.row("forward", "float64", "a vs b", "x", 1e-3, 2e-4, downcast=True).status == "FAIL"


def test_difference_is_elementwise_not_sorted():
    a = np.array([1.0, 2.0, 3.0])
    assert eq.difference(a[::-1], a) == (2.0, 2.0 / 3.0)  # a permutation is a difference
    assert all(math.isnan(v) for v in eq.difference(a, a[:2]))  # shape mismatch -> NaN -> FAIL


def test_flat_features_from_torch_matches_canonical_flatten():
    images = np.random.default_rng(0).standard_normal((2, 3, 4, 5))  # NHWC
    torch_flat = layout.images_to_torch(images).reshape(2, -1)  # what nn.Flatten sees and returns
    np.testing.assert_array_equal(layout.flat_features_from_torch(torch_flat, (3, 4, 5)), images.reshape(2, -1))


# ---------------------------------------------------------------- the reference's own gradients


@pytest.mark.parametrize("name", sorted(MODELS))
def test_finite_differences(name):
    spec = eq.check_spec(tiny_task(MODELS[name]), 8)
    X, y = eq.random_inputs(spec, 8 * STEPS, 0)
    rows = eq.finite_difference_rows(spec, eq.check_weights(spec, 0), X[:8], y[:8], eq.CheckConfig())
    assert {r.item for r in rows} == set(eq.reference.trainable_keys(spec.model))
    assert max(r.max_abs for r in rows) <= 1e-6


def test_central_difference_moves_a_fortran_ordered_weight():
    """A transposed framework kernel is Fortran-ordered; its central difference must still move the weight
    (a reshape(-1) copy once left every LSTM recurrent_kernel coordinate at a difference of exactly 0)."""
    spec = tiny_task(MODELS["rnn"])
    weights = eq.check_weights(spec, 0)
    key = "lstm_1.recurrent_kernel"
    X, y = eq.random_inputs(spec, 2, 0)
    c_order = {**weights, key: np.ascontiguousarray(weights[key])}
    f_order = {**weights, key: np.asfortranarray(weights[key])}
    _, analytic = eq.reference.loss_and_gradients(spec.model, c_order, X, y)
    j = int(np.argmax(np.abs(analytic[key])))
    numeric = [eq.reference.central_difference(spec.model, w, X, y, key, j) for w in (c_order, f_order)]
    assert numeric[0] == numeric[1] != 0.0
    assert numeric[1] == pytest.approx(analytic[key].reshape(-1)[j], abs=1e-8)


def test_default_adam_drift_is_reported_as_info():
    spec = tiny_task(MODELS["mlp"])
    spec = replace(spec, optimizer=replace(spec.optimizer, lr=1e-2))
    config = eq.CheckConfig(batch_size=8, steps=STEPS, dtypes=("float64",), frameworks=("pytorch", "keras"))
    X, y = eq.random_inputs(spec, 8 * STEPS, 0)
    rows = [r for r in run_checks(spec, X, y, config, "random").rows if r.variant.endswith("defaults")]
    drift = max(r.max_abs for r in rows if r.pair == "keras vs pytorch")
    assert drift > 1e-8  # eps 1e-7 uncorrected vs 1e-8 corrected: a visible difference, as INFO
    assert {r.status for r in rows} == {"INFO"}


# ---------------------------------------------------------------- injected bugs are FAIL

# engine module in tests/engines -> (tiny spec, the check and item where it must show)
BUGS = {
    "pytorch_bn_eps": ("cnn", "forward", "1 BatchNorm"),
    "keras_default_eps": ("mlp", "trajectory", None),
    "pytorch_bias_offset": ("mlp", "forward", "0 Dense"),
    "pytorch_flatten": ("cnn", "forward", "8 Dense"),
    "pytorch_lstm_gates": ("rnn", "forward", "1 LSTM"),
    "pytorch_gru_gates": ("text", "forward", "3 GRU"),
    "jax_gru_gates": ("text", "forward", "3 GRU"),  # Flax's r, z, n order
}


@pytest.fixture(scope="module")
def bug_reports() -> dict[str, eq.Report]:
    """tiny spec -> --check (float64, the spec's own optimizer) with only the engines whose bug is on that spec,
    registered through the plugin hook: one check per spec, each engine in its own child."""
    specs = sorted({spec for spec, *_ in BUGS.values()})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAMEBENCH_EXTRA_FRAMEWORKS", ",".join(f"{bug}=engines.{bug}" for bug in sorted(BUGS)))
        patch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p))
        reports = {}
        for name in specs:
            spec = tiny_task(MODELS[name])
            # eps 1e-8, not Keras' default 1e-7, or the keras_default_eps bug hides
            spec = replace(spec, optimizer=replace(spec.optimizer, eps=1e-8))
            X, y = eq.random_inputs(spec, 8 * STEPS, 0)
            bugs = tuple(bug for bug in sorted(BUGS) if BUGS[bug][0] == name)
            config = eq.CheckConfig(batch_size=8, steps=STEPS, dtypes=("float64",), frameworks=bugs, variants="spec")
            reports[name] = run_checks(spec, X, y, config, "random")
    return reports


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_injected_bug_is_fail(bug, bug_reports):
    report = bug_reports[BUGS[bug][0]]
    assert bug not in report.skipped and bug not in report.errors, (report.skipped, report.errors)
    check, item = BUGS[bug][1:]
    fails = [r for r in report.rows if r.status == "FAIL" and r.check == check and r.pair == f"{bug} vs reference"]
    assert fails, f"{bug}: no FAIL in {check}"
    if item is not None:
        assert any(r.item.startswith(item) for r in fails), [r.item for r in fails]


def test_injected_bug_fails_the_cli_with_exit_5():
    """`compare.py --check` with a buggy engine on a real task: FAIL and exit code 5."""
    env = {"FRAMEBENCH_EXTRA_FRAMEWORKS": "buggy=engines.pytorch_bias_offset",
           "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    proc = run_cli("--task", "mnist", "--check", "--frameworks", "buggy", env=env, timeout=600)
    assert proc.returncode == 5, proc.stderr[-2000:]
    assert "result: FAIL" in proc.stdout and "Traceback" not in proc.stderr


def test_cli_check_mnist():
    """`--check` end to end at the CLI's full size (every table); one engine: every engine's checks are the templates'."""
    proc = run_cli("--task", "mnist", "--check", "--frameworks", "pytorch", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for title in ("Forward, float64", "Gradients, float32", "finite differences", "Trajectory, float64", "worst of 50", "result: no FAIL"):
        assert title in proc.stdout, title
    assert "Traceback" not in proc.stderr


def test_noise_driven_marks_tiny_nonzero_gradients_not_exact_zeros():
    """float32 Adam's noise-driven coordinates: a feature 1e-9 the size of the others gives gradients far below
    NOISE_FLOOR x the largest (marked, and kept marked); an always-zero feature gives exact zeros (judged)."""
    from workbench.check.measure import noise_driven

    spec = tiny_task(MODELS["mlp"])
    weights = eq.check_weights(spec, 0)
    X, y = eq.random_inputs(spec, 16, 0)
    X[:, 0] *= 1e-9
    X[:, 1] = 0.0
    batches = [(X[:8], y[:8]), (X[8:], y[8:])]
    expected = eq.reference.trajectory(spec.model, weights, batches, spec.optimizer, True)
    masks = noise_driven(spec.model, weights, batches, expected)
    kernel = masks[0]["dense_0.kernel"]
    assert kernel[0].all() and not kernel[1].any() and not kernel[2:].any()
    assert masks[1]["dense_0.kernel"][0].all()
    assert "dense_4.kernel" not in masks[0]


def test_large_pooling_cnns_judge_float32_trajectories_at_the_first_steps_only():
    """cifar10's check judges float32 trajectory steps 1-2 (later: INFO, saying what they were); float64 stays judged."""
    from tasks import registry

    assert eq.default_config(registry.get("cifar10").spec).judged_steps32 == eq.FLOAT32_JUDGED_STEPS
    assert eq.default_config(registry.get("sentiment").spec).judged_steps32 is None  # an LSTM has no ties to break
    assert eq.default_config(registry.get("mnist").spec).judged_steps32 is None
    fail = eq.Row("trajectory", "float32", "a vs reference", "step 3", 1.0, 1.0, 1e-4, "FAIL", "sgd", "worst: w")
    assert eq._past_judged32(fail, 3, 2, True).status == "INFO"
    assert "was FAIL" in eq._past_judged32(fail, 3, 2, True).note
    assert eq._past_judged32(fail, 2, 2, True).status == "FAIL"  # step 2 is judged
    assert eq._past_judged32(fail, 3, 2, False).status == "FAIL"  # float64, computed in float64
    assert eq._past_judged32(fail, 3, None, True).status == "FAIL"  # every other spec
