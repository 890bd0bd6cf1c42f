"""Templates over every task x every engine, numerical half: --check on tiny specs of every layer type (the tiny
transformer's attention layers too) and on every task's own spec, for every engine (the fourth, plugin engine too). The engines and the declared
unsupported pairs are test_templates.py's; this file is apart so that the two halves run on two workers.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_templates import DOWNCAST, ENGINES, NO_GRADIENTS, UNSUPPORTED, _plugin_registered  # noqa: F401 - the plugin engine's fixture
from tiny_specs import MODELS, tiny_task
from tiny_transformer import TRANSFORMER

from tasks import registry
from tasks.reference import cancelled_by_batchnorm
from tasks.spec import OptimizerSpec, TaskSpec
from workbench.check import equivalence as eq
from workbench.check.all_checks import run_checks_many


# ---------------------------------------------------------------- numerical checks

TINY = {**MODELS, "transformer": TRANSFORMER}  # every layer type of the vocabulary is in one of them
# the layers are the subject here: one trajectory per dtype, the spec's optimizer (every optimizer x eps placement x
# engine, and each engine's defaults, are tests/test_optimizers.py's)
CONFIG = eq.CheckConfig(batch_size=8, steps=5, fd_samples=2, fd_coords=4, frameworks=tuple(ENGINES), variants="spec")


def _optimizer_for_layers(spec: TaskSpec) -> TaskSpec:
    """Plain SGD for the layer checks, except where BatchNorm meets Adam's float32 noise on the biases it cancels:
    that spec keeps the default Adam."""
    if cancelled_by_batchnorm(spec.model):
        return spec
    return replace(spec, optimizer=OptimizerSpec(name="sgd", lr=0.05))


@pytest.fixture(scope="module")
def tiny_reports() -> dict[str, eq.Report]:
    """--check of every tiny spec (every layer type is in one of them), every engine: each engine in one child."""
    specs = {name: _optimizer_for_layers(tiny_task(TINY[name])) for name in sorted(TINY)}
    jobs = [(spec, *eq.random_inputs(spec, CONFIG.batch_size * CONFIG.steps, 0), "random") for spec in specs.values()]
    return dict(zip(specs, run_checks_many(jobs, CONFIG)))


@pytest.fixture(params=sorted(TINY))
def tiny_report(request, tiny_reports) -> tuple[str, eq.Report]:
    """--check of one tiny spec, every engine."""
    return request.param, tiny_reports[request.param]


@pytest.mark.parametrize("engine", ENGINES)
def test_check_tiny_specs(tiny_report, engine):
    name, report = tiny_report
    if (engine, name) in UNSUPPORTED:
        assert report.skipped.get(engine, "").startswith(UNSUPPORTED[engine, name])
        return
    assert engine not in report.skipped, report.skipped.get(engine)
    own = [r for r in report.rows if r.pair.startswith(f"{engine} vs reference")]
    checks = {r.check for r in own}
    assert {"forward", "trajectory"} <= checks
    assert len({r.variant for r in own if r.check == "trajectory"}) == 1  # CONFIG.variants: the spec's optimizer only
    fails = [r for r in report.rows if r.status == "FAIL" and engine in r.pair]
    assert not fails, fails[:5]
    forward64 = [r for r in own if r.check == "forward" and r.dtype == "float64"]
    if engine in DOWNCAST:
        assert {r.status for r in forward64} == {"DOWNCAST"}
    else:
        assert forward64 and max(r.max_abs for r in forward64) <= 1e-10
    # gradient rows for every engine but those declared without a gradient API, whose check says why in a note
    noted = any(note.startswith(f"{engine}: no public gradient API") for note in report.notes)
    assert ("gradient" in checks, noted) == (engine not in NO_GRADIENTS, engine in NO_GRADIENTS), (checks, report.notes)


def test_jax_default_attention_softmax_is_measured_as_info_rows(tiny_reports):
    """JAX's own attention computes its softmax in float32 even for float64 inputs: measured beside the exact rows."""
    if "jax" not in ENGINES:
        pytest.skip("jax is not installed")
    rows = tiny_reports["transformer"].rows
    default = [r for r in rows if r.pair.startswith("jax (default attention: softmax in float32) vs reference")]
    exact = [r for r in rows if r.pair == "jax vs reference" and r.check == "forward" and r.dtype == "float64"]
    assert default and {r.status for r in default} == {"INFO"}
    assert 1e-10 < max(r.max_abs for r in default if r.check == "forward") < 1e-4  # float32 rounding, not a bug
    assert exact and max(r.max_abs for r in exact) < 1e-12  # the spec's softmax dtype: exact


EXACT = [e for e in ENGINES if e not in DOWNCAST]  # on 2-sample batches, float32 Adam steps on tiny gradients differ by far more than 10 x tol


@pytest.fixture(scope="module")
def task_reports() -> dict[str, eq.Report]:
    """Each task's real spec, small inputs, float64, every engine that computes float64: each engine in one child."""
    config = eq.CheckConfig(batch_size=2, steps=2, fd_samples=1, fd_coords=2, dtypes=("float64",),
                            frameworks=tuple(EXACT), variants="spec")
    specs = {task: registry.get(task).spec for task in registry.names()}
    return dict(zip(specs, run_checks_many([(spec, *eq.random_inputs(spec, 4, 0), "random") for spec in specs.values()], config)))


@pytest.mark.parametrize("task", registry.names())
def test_check_every_task_spec(task, task_reports):
    """Each task's real spec, small inputs, float64: every engine that computes float64 agrees with the reference."""
    report = task_reports[task]
    assert not report.failed, [r for r in report.rows if r.status == "FAIL"][:5]
    for engine in EXACT:
        if (engine, task) in UNSUPPORTED:
            assert report.skipped[engine].startswith(UNSUPPORTED[engine, task])
        else:
            assert engine not in report.skipped, report.skipped.get(engine)
            assert any(r.pair == f"{engine} vs reference" and r.check == "trajectory" for r in report.rows)
