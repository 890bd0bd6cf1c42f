"""The optimizers of --optimizer: the NumPy reference against steps computed by hand, every engine x every
optimizer against the reference (float64, tiny MLP), lr changes under both velocity conventions, each
framework's defaults as INFO drift, injected mapping bugs as FAIL, scikit-learn's skipped rows, the CLI
flags' errors, and the mse loss. Real adapters in their own processes; every check run is shared by a module
fixture and kept to a few steps (the 50-step figures come from `compare.py --task mnist --check --optimizer X`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from tiny_specs import MLP, tiny_task

from frameworks import sklearn as sklearn_adapter
from frameworks.base import FRAMEWORKS, missing_packages
from tasks import optimizers as opts
from tasks import reference
from tasks.overrides import with_overrides
from tasks.spec import Dense, ModelSpec, OptimizerSpec, ReLU
from workbench.check import equivalence as eq
from workbench.check.all_checks import run_checks
from workbench.check.measure import DROP, SGD_LR

TESTS = Path(__file__).resolve().parent
ENGINES = [name for name in FRAMEWORKS if not missing_packages(name)]
DOWNCAST = {"keras-jax", "keras-torch"}  # Keras 3.15.1 on these backends computes float64 in float32
KEY = "dense_0.kernel"  # one scalar weight for the hand-computed steps
BASE = OptimizerSpec(name="adam", lr=1e-2, eps=1e-8, eps_style="corrected")  # the task's optimizer the presets start from


def steps_by_hand(opt: OptimizerSpec, grads: list[float], lrs: list[float] | None = None, w: float = 1.0) -> float:
    """The weight after reference steps on one scalar, for the formulas written out below."""
    weights, state = {KEY: np.array([w])}, None
    for i, g in enumerate(grads):
        weights, state = reference.step(weights, {KEY: np.array([g])}, state, opt, None if lrs is None else lrs[i])
    return float(weights[KEY][0])


# ---------------------------------------------------------------- the reference, by hand

SGD = OptimizerSpec(name="sgd", lr=0.1, momentum=0.9)


@pytest.mark.parametrize("opt, expected", [
    # v1 = 0.5, w = 1 - 0.1 * 0.5 = 0.95; v2 = 0.9 * 0.5 + 0.2 = 0.65, w = 0.95 - 0.065
    (SGD, 0.885),
    # Nesterov: w1 = 1 - 0.1 * (0.5 + 0.9 * 0.5) = 0.905; w2 = 0.905 - 0.1 * (0.2 + 0.9 * 0.65)
    (replace(SGD, nesterov=True), 0.8265),
    # dampening 0.5: v1 = g1 (none at the first step), v2 = 0.45 + 0.5 * 0.2 = 0.55, w = 0.95 - 0.055
    (replace(SGD, dampening=0.5), 0.895),
    # the "step" velocity: v1 = -0.05, v2 = -0.045 - 0.02 = -0.065: the same weights while lr is constant
    (replace(SGD, velocity="step"), 0.885),
    # L2: g += 0.1 * w: v1 = 0.6, w1 = 0.94; v2 = 0.54 + 0.2 + 0.094 = 0.834, w2 = 0.94 - 0.0834
    (replace(SGD, weight_decay=0.1), 0.8566),
])  # fmt: skip
def test_sgd_momentum_by_hand(opt, expected):
    assert steps_by_hand(opt, [0.5, 0.2]) == pytest.approx(expected, abs=1e-15)


def test_the_two_velocities_differ_once_lr_changes():
    """lr 0.1 then 0.05: "gradient" 0.95 - 0.05 * 0.65 = 0.9175; "step" v2 = -0.045 - 0.01, w = 0.95 - 0.055 = 0.895."""
    lrs = [0.1, 0.05]
    assert steps_by_hand(SGD, [0.5, 0.2], lrs) == pytest.approx(0.9175, abs=1e-15)
    assert steps_by_hand(replace(SGD, velocity="step"), [0.5, 0.2], lrs) == pytest.approx(0.895, abs=1e-15)


RMS = OptimizerSpec(name="rmsprop", lr=0.1, rho=0.9, eps=0.01, eps_style="outside")


@pytest.mark.parametrize("opt, expected", [
    # s = 0.1 * 0.25 = 0.025: w = 1 - 0.1 * 0.5 / (sqrt(0.025) + 0.01)
    (RMS, 1 - 0.05 / (math.sqrt(0.025) + 0.01)),
    (replace(RMS, eps_style="inside"), 1 - 0.05 / math.sqrt(0.025 + 0.01)),
    # centered: mean g 0.05, variance 0.025 - 0.0025 = 0.0225, sqrt 0.15: w = 1 - 0.05 / 0.16
    (replace(RMS, centered=True), 0.6875),
])  # fmt: skip
def test_rmsprop_one_step_by_hand(opt, expected):
    assert steps_by_hand(opt, [0.5]) == pytest.approx(expected, abs=1e-15)


def test_rmsprop_momentum_by_hand():
    """Two steps, momentum 0.5, g 0.5 then 0.2; d_t = g_t / (sqrt(s_t) + eps); v = 0.5 v + d; w -= lr v."""
    s1, s2 = 0.025, 0.9 * 0.025 + 0.1 * 0.04
    d1, d2 = 0.5 / (math.sqrt(s1) + 0.01), 0.2 / (math.sqrt(s2) + 0.01)
    w2 = 1 - 0.1 * d1 - 0.1 * (0.5 * d1 + d2)
    assert steps_by_hand(replace(RMS, momentum=0.5), [0.5, 0.2]) == pytest.approx(w2, abs=1e-15)


ADAM = OptimizerSpec(name="adam", lr=0.1, eps=1e-8, eps_style="corrected")


@pytest.mark.parametrize("opt, lr, expected", [
    # L2: the gradient is 0.5 + 0.1 * 1; Adam's first step is lr * g / (|g| + eps)
    (replace(ADAM, weight_decay=0.1), 0.1, 1 - 0.1 * 0.6 / (0.6 + 1e-8)),
    # decoupled: w -= lr * wd * w, then Adam's step on the plain gradient
    (replace(ADAM, weight_decay=0.1, weight_decay_style="decoupled"), 0.1, 1 - 0.01 - 0.1 * 0.5 / (0.5 + 1e-8)),
    # decoupled per schedule at lr 0.05 (lr_0 0.1): w -= (0.05 / 0.1) * 0.1 * w
    (replace(ADAM, weight_decay=0.1, weight_decay_style="decoupled", decay_scale="schedule"), 0.05,
     1 - 0.05 - 0.05 * 0.5 / (0.5 + 1e-8)),
])  # fmt: skip
def test_weight_decay_by_hand(opt, lr, expected):
    assert steps_by_hand(opt, [0.5], [lr]) == pytest.approx(expected, abs=1e-15)


def test_presets_state_every_number_and_name_themselves():
    for name in opts.PRESETS:
        opt = opts.preset(name, BASE)
        assert opts.preset_name(opt) == name and (opt.lr, opt.eps) == (BASE.lr, BASE.eps)
    assert opts.preset("adamw", BASE).weight_decay == opts.PRESET_ADAMW_DECAY
    assert opts.preset("momentum", BASE, weight_decay=1e-4).weight_decay_style == "l2"
    assert opts.preset("rmsprop", BASE).eps_style == "outside"


@pytest.mark.parametrize("bad, fragment", [
    (replace(SGD, momentum=0.0, nesterov=True), "nesterov needs"),
    (replace(RMS, eps_style="corrected"), "rmsprop eps_style"),
    (replace(SGD, weight_decay=0.1, weight_decay_style="decoupled"), "decoupled weight decay"),
    (replace(SGD, velocity="lr"), "velocity"),
])  # fmt: skip
def test_contradicting_fields_are_refused(bad, fragment):
    with pytest.raises(opts.OptimizerError, match=fragment):
        opts.validate(bad)


def test_mse_loss_and_its_gradient():
    """mean (z - (2y - 1))^2 by hand, and its gradient against central differences on a tiny one-logit MLP."""
    z, y = np.array([[0.5], [-2.0]]), np.array([1, 0])
    assert reference.loss(z, y, "mse") == pytest.approx(((0.5 - 1) ** 2 + (-2.0 + 1) ** 2) / 2, abs=1e-15)
    model = ModelSpec(input_shape=(3,), layers=(Dense(4), ReLU(), Dense(1)), loss="mse")
    rng = np.random.default_rng(0)
    weights = {k: rng.normal(size=s) for k, s in {"dense_0.kernel": (3, 4), "dense_0.bias": (4,), "dense_2.kernel": (4, 1),
                                                      "dense_2.bias": (1,)}.items()}  # fmt: skip
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, 5)
    _, analytic = reference.loss_and_gradients(model, weights, X, y)
    numeric = reference.finite_difference_gradients(model, weights, X, y)
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=0, atol=1e-8)


# ---------------------------------------------------------------- every engine x every optimizer

STEPS = 4  # DROP variants: lr halved from step 3 on
# the spec's optimizer (with its defaults rows), then every other preset and convention; each velocity rescaling
# path of every adapter runs once (the spec's velocity is not the framework's own)
SPEC_OPT = opts.preset("rmsprop", BASE)
EXTRA = (
    opts.preset("momentum", BASE),
    replace(opts.preset("nesterov", BASE, weight_decay=0.01), velocity="step"),
    replace(opts.preset("rmsprop", BASE), centered=True, momentum=0.5),
    opts.preset("adam", BASE, weight_decay=0.01),
    replace(opts.preset("adamw", BASE), decay_scale="schedule"),  # (decay_scale "lr" is the identity of decoupled_rate)
)  # fmt: skip
SKLEARN_SPEC_OPT = opts.preset("sgd", BASE)  # scikit-learn has no RMSprop: its own run, the spec's sgd


# the network engines train a one-logit MLP with the mse loss (forward, loss, gradients checked too); scikit-learn,
# which has no mse and no single logit, the 3-class MLP
ONE_LOGIT = ModelSpec(input_shape=(12,), layers=(Dense(8), ReLU(), Dense(1)), loss="mse")


def _check(model: ModelSpec, optimizer: OptimizerSpec, frameworks: tuple[str, ...]) -> eq.Report:
    spec = replace(tiny_task(model, batch_size=8), optimizer=optimizer)
    config = eq.CheckConfig(batch_size=8, steps=STEPS, fd_samples=2, fd_coords=2, dtypes=("float64",),
                            frameworks=frameworks, optimizers=EXTRA)  # fmt: skip
    X, y = eq.random_inputs(spec, 8 * STEPS, 0)
    return run_checks(spec, X, y, config, "random")


@pytest.fixture(scope="module")
def optimizer_reports() -> dict[str, eq.Report]:
    """engine -> --check in float64 of SPEC_OPT and EXTRA: one child per engine, two runs in all."""
    networks = tuple(e for e in ENGINES if e != "sklearn")
    reports = dict.fromkeys(networks, _check(ONE_LOGIT, SPEC_OPT, networks))
    if "sklearn" in ENGINES:
        reports["sklearn"] = _check(MLP, SKLEARN_SPEC_OPT, ("sklearn",))
    return reports


def _matched(report: eq.Report, engine: str, opt: OptimizerSpec) -> dict[str, list[eq.Row]]:
    """variant -> the engine's rows against the reference, for every matched variant of `opt` (any eps placement)."""
    family = {opts.describe(replace(opt, eps_style=s)) for s in opts.EPS_STYLE_CHOICES.get(opt.name, (opt.eps_style,))}
    rows: dict[str, list[eq.Row]] = {}
    for r in report.rows:
        name = r.variant.removesuffix(" (matched)").removesuffix(DROP)
        if r.pair == f"{engine} vs reference" and r.check == "trajectory" and name in family:
            rows.setdefault(r.variant, []).append(r)
    return rows


@pytest.mark.parametrize("engine", ENGINES)
def test_every_optimizer_matches_the_reference(optimizer_reports, engine):
    """Each engine runs each optimizer it can express, to 1e-8 in float64 (DOWNCAST engines: within float32's
    tolerance), lr drop included; scikit-learn leaves out exactly what its unsupported() names."""
    report = optimizer_reports[engine]
    assert engine not in report.skipped, report.skipped.get(engine)
    spec = tiny_task(MLP, batch_size=8)
    plain = [r for r in report.rows if r.pair == f"{engine} vs reference" and r.variant == f"sgd lr={SGD_LR}"]
    assert plain and {r.status for r in plain} == ({"DOWNCAST"} if engine in DOWNCAST else {"OK"})
    for opt in (SKLEARN_SPEC_OPT if engine == "sklearn" else SPEC_OPT, *EXTRA):
        lr = SGD_LR if opt.name == "sgd" else opt.lr  # the check runs the SGD family at SGD_LR
        rows = _matched(report, engine, replace(opt, lr=lr))
        if opt == SKLEARN_SPEC_OPT:
            continue  # plain SGD: the first variant, above
        if engine == "sklearn" and sklearn_adapter.unsupported(replace(spec, optimizer=opt)):
            assert not rows, (opts.describe(opt), list(rows))
            continue
        assert rows, f"{engine}: no matched trajectory of {opts.describe(opt)}"
        if opt.momentum:
            assert any(DROP in v for v in rows), f"{engine}: no lr-drop trajectory of {opts.describe(opt)}"
        for variant, group in rows.items():
            assert len([r for r in group if r.item.startswith("step")]) == STEPS, variant
            if engine in DOWNCAST:
                assert {r.status for r in group} == {"DOWNCAST"}, variant
            else:
                worst = max(r.max_abs for r in group)
                assert worst <= 1e-8 and {r.status for r in group} == {"OK"}, (variant, worst)


def test_each_frameworks_defaults_drift_is_info(optimizer_reports):
    """RMSprop defaults (torch alpha 0.99, eps 1e-8 outside; Keras rho 0.9, eps 1e-7 inside) drift apart: INFO,
    never judged; scikit-learn's solver="sgd" is Nesterov momentum 0.9 by default."""
    report = optimizer_reports["pytorch"]
    rows = [r for r in report.rows if r.variant == "rmsprop, each framework's defaults"]
    assert rows and {r.status for r in rows} == {"INFO"}
    assert "pytorch vs reference (pytorch default)" in {r.pair for r in rows}
    if "keras" in ENGINES:
        assert max(r.max_abs for r in rows if r.pair == "keras vs pytorch") > 1e-6
    if "sklearn" in ENGINES:
        sgd = [r for r in optimizer_reports["sklearn"].rows if r.variant == "sgd, each framework's defaults"]
        assert sgd and {r.status for r in sgd} == {"INFO"} and max(r.max_abs for r in sgd) <= 1e-12  # runs them exactly
        assert sklearn_adapter.default_optimizer("sgd") == OptimizerSpec(name="sgd", momentum=0.9, nesterov=True, velocity="step")


def test_the_spec_variant_is_the_spec_optimizer_once():
    """CheckConfig.variants "spec" (the layer checks'): one trajectory, the spec's optimizer in its own eps placement,
    or in the one the engine runs exactly (scikit-learn's Adam: uncorrected only)."""
    from engines import numpy_engine

    from workbench.check.measure import spec_optimizer

    spec = replace(tiny_task(MLP, batch_size=8), optimizer=opts.preset("adam", BASE))
    assert list(spec_optimizer(numpy_engine, spec).values()) == [spec.optimizer]
    assert list(spec_optimizer(sklearn_adapter, spec).values()) == [replace(spec.optimizer, eps_style="uncorrected")]
    assert spec_optimizer(sklearn_adapter, replace(spec, optimizer=SPEC_OPT)) == {}  # no RMSprop: no trajectory


BUGS = {"pytorch_rmsprop_alpha": "rmsprop", "pytorch_velocity_lr": DROP}  # engine in tests/engines -> where it must FAIL


def test_injected_optimizer_bugs_are_fail(monkeypatch):
    """torch RMSprop with alpha 0.99 where the spec says 0.9; a momentum buffer that ignores the spec's velocity
    when the lr drops. Each is FAIL exactly where it is, and OK elsewhere."""
    monkeypatch.setenv("FRAMEBENCH_EXTRA_FRAMEWORKS", ",".join(f"{b}=engines.{b}" for b in BUGS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p))
    spec = replace(tiny_task(MLP, batch_size=8), optimizer=opts.preset("rmsprop", BASE))
    config = eq.CheckConfig(batch_size=8, steps=STEPS, fd_samples=1, fd_coords=1, dtypes=("float64",), frameworks=tuple(BUGS),
                            optimizers=(replace(opts.preset("momentum", BASE), velocity="step"),))  # fmt: skip
    X, y = eq.random_inputs(spec, 8 * STEPS, 0)
    report = run_checks(spec, X, y, config, "random")
    for bug, where in BUGS.items():
        own = [r for r in report.rows if r.pair == f"{bug} vs reference" and r.check == "trajectory" and "(matched)" in r.variant]
        failed = {r.variant for r in own if r.status == "FAIL"}
        assert failed and all(where in v for v in failed), (bug, failed)
        assert any(r.status == "OK" for r in own if where not in r.variant), bug


# ---------------------------------------------------------------- the command line


def test_sklearn_mlp_row_is_skipped_for_rmsprop():
    """A digits dry run with --optimizer rmsprop: MLPClassifier's row says why it is skipped; the baseline runs."""
    proc = run_cli("--task", "digits", "--dry-run", "--quiet", "--format", "json", "--frameworks", "sklearn", "--optimizer", "rmsprop")
    assert proc.returncode == 4, proc.stderr[-2000:]
    rows = {r["model_id"]: r for r in json.loads(proc.stdout)["results"]}
    assert rows["MLPClassifier"]["status"] == "skipped"
    assert rows["MLPClassifier"]["message"] == "MLPClassifier has no rmsprop solver (solver='sgd' or 'adam' only)"
    assert rows["logistic_regression"]["status"] == "ok"


def test_overrides_build_the_spec():
    spec = with_overrides(tiny_task(MLP), optimizer="nesterov", lr=0.1, weight_decay=1e-3)
    assert (spec.optimizer.name, spec.optimizer.nesterov, spec.optimizer.lr, spec.optimizer.weight_decay) == ("sgd", True, 0.1, 1e-3)
    assert with_overrides(tiny_task(MLP), loss="mse").model.loss == "mse"


# ---------------------------------------------------------------- mse on every engine


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "sklearn"])
def test_mse_matches_the_reference(optimizer_reports, engine):
    """The one-logit mse MLP of the fixture: forward, loss and gradients agree with the reference (float64)."""
    report = optimizer_reports[engine]
    own = [r for r in report.rows if r.pair == f"{engine} vs reference" and r.check in ("forward", "gradient")]
    assert {"forward", "gradient"} == {r.check for r in own}
    assert not [r for r in own if r.status == "FAIL"]
    loss_rows = [r for r in own if r.check == "gradient" and r.item == "loss"]
    assert loss_rows and (engine in DOWNCAST or loss_rows[0].max_abs <= 1e-12), (engine, loss_rows)
    assert not [r for r in report.rows if r.check == "finite_difference" and r.status != "OK"]
