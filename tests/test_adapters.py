"""Templates over every task x framework: same parameter count, errors and missing frameworks as rows."""

from __future__ import annotations

import pytest

from frameworks.base import SPEC_MODEL, RunSettings, load_adapter_module
from tasks import registry
from tasks.init import init_weights
from tasks.spec import count_params
from workbench.run import driver
from workbench.run.child import execute
from workbench.run.driver import RunRequest

SETTINGS = RunSettings(device="cpu", threads=1, progress=False)


def _adapter(framework: str, spec, model: str = SPEC_MODEL):  # noqa: ANN001, ANN202
    module = load_adapter_module(framework)
    module.configure(SETTINGS)
    adapter = module.Adapter(spec, SETTINGS, model)
    adapter.build(init_weights(spec.model, spec.init, seed=0))
    return adapter


@pytest.mark.parametrize("task", registry.names())
@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_spec_network_has_the_same_parameter_count(task, framework):
    spec = registry.get(task).spec
    assert _adapter(framework, spec).num_params() == count_params(spec.model)


@pytest.mark.parametrize("task", [t for t in registry.names() if any(b.kind == "mlp" for b in registry.get(t).spec.baselines)])
def test_mlpclassifier_has_the_same_parameter_count(task):
    spec = registry.get(task).spec
    name = next(b.name for b in spec.baselines if b.kind == "mlp")
    adapter = _adapter("sklearn", spec, name)
    import numpy as np

    X = np.zeros((spec.train.batch_size, *spec.model.input_shape), dtype=np.float32)
    adapter.set_train_data(X, np.arange(len(X)) % spec.data.num_classes)
    sizes = sum(c.size for c in adapter.estimator.coefs_) + sum(b.size for b in adapter.estimator.intercepts_)
    assert sizes == count_params(spec.model) == adapter.num_params()


def test_missing_framework_is_a_skipped_row(monkeypatch):
    monkeypatch.setitem(driver.__dict__, "missing_packages", lambda name: ["torch"])
    result = execute(RunRequest(task="mnist", framework="pytorch", model=SPEC_MODEL, settings=SETTINGS))
    assert (result.status, result.message) == ("skipped", "not installed: torch")


def test_adapter_that_raises_is_an_error_row(monkeypatch):
    def broken_load(request, spec):  # noqa: ANN001, ANN202
        raise RuntimeError("adapter exploded\nsecond line")

    monkeypatch.setattr(driver, "load_data", broken_load)
    result = execute(RunRequest(task="mnist", framework="sklearn", model="logistic_regression", settings=SETTINGS))
    assert result.status == "error"
    assert result.message == "RuntimeError: adapter exploded second line"  # one line for the table


def test_baseline_label_says_when_it_trained_on_a_subset():
    import numpy as np

    from frameworks import sklearn as sk
    from tasks.spec import BaselineSpec

    spec = registry.get("mnist").spec
    spec = spec.__class__(**{**spec.__dict__, "baselines": (BaselineSpec("lr", "logistic_regression", (("max_iter", 5),), max_train=30),)})
    X, y = np.random.default_rng(0).random((50, 784), dtype=np.float32), np.arange(50) % 10
    adapter = sk.Adapter(spec, SETTINGS, "lr")
    adapter.build({})
    adapter.fit_all(X, y)
    assert adapter.model_label == "lr (first 30 train samples)"
    adapter.fit_all(X[:20], y[:20])  # less data than max_train: it saw all of it
    assert adapter.model_label == "lr"


def test_learning_rate_schedule_reaches_every_framework():
    """After set_learning_rate, one SGD step moves the weights identically in all three frameworks."""
    import dataclasses

    import numpy as np

    from tasks.spec import OptimizerSpec

    spec = registry.get("mnist").spec
    spec = dataclasses.replace(spec, optimizer=OptimizerSpec(name="sgd", lr=0.5))
    settings = RunSettings(device="cpu", threads=1, progress=False, dtype="float64")
    rng = np.random.default_rng(0)
    X, y = rng.random((16, 784)), rng.integers(0, 10, 16)
    after = {}
    for framework, model in (("pytorch", SPEC_MODEL), ("keras", SPEC_MODEL), ("sklearn", "MLPClassifier")):
        module = load_adapter_module(framework)
        module.configure(settings)
        adapter = module.Adapter(spec, settings, model)
        adapter.build(init_weights(spec.model, spec.init, seed=0))
        adapter.set_train_data(X, y)
        adapter.set_learning_rate(0.01)
        adapter.train_step(X, y)
        after[framework] = adapter.get_weights()["dense_0.kernel"]
    start = init_weights(spec.model, spec.init, seed=0)["dense_0.kernel"]
    step = np.abs(after["pytorch"] - start).max()
    assert 0 < step < 0.01  # lr 0.01, not the spec's 0.5
    np.testing.assert_allclose(after["keras"], after["pytorch"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(after["sklearn"], after["pytorch"], rtol=0, atol=1e-12)
