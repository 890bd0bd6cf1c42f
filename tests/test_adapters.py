"""The adapter boundary: workbench/ and tasks/ import no framework and name none; errors and missing
frameworks become typed rows; one adapter's pieces (baseline labels, the lr schedule) behave."""

from __future__ import annotations

import pytest

import ast
from pathlib import Path

from frameworks.base import FRAMEWORKS, SPEC_MODEL, RunSettings, load_adapter_module
from tasks import registry
from tasks.init import init_weights
from workbench.run import driver
from workbench.run.child import execute
from workbench.run.driver import RunRequest

SETTINGS = RunSettings(device="cpu", threads=1, progress=False)


ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_PACKAGES = {"torch", "tensorflow", "keras", "jax", "jaxlib", "flax", "optax", "sklearn"}


def _imports(path: Path) -> set[str]:
    """Top-level package of every import in a file, at any depth (function-local imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("folder", ["workbench", "tasks"])
def test_workbench_and_tasks_import_no_framework(folder):
    """Only adapter modules import a framework (tasks/digits.py may read scikit-learn's bundled data)."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        allowed = {"sklearn"} if path.name == "digits.py" else set()
        assert not (_imports(path) & (FRAMEWORK_PACKAGES - allowed)), f"{path.relative_to(ROOT)} imports a framework"


def test_workbench_names_no_framework():
    """The workbench iterates over whichever adapters are selected: no framework name in its code."""
    names = set(FRAMEWORKS) | {"tensorflow", "torch", "flax", "optax", "keras", "sklearn", "scikit-learn", "pytorch"}
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        code = "\n".join(line.split("#")[0] for line in path.read_text().splitlines()).lower()
        tokens = {t.strip("'\"(),.:[]") for t in code.replace("`", " ").split()}
        assert not (tokens & names), f"{path.relative_to(ROOT)} names {sorted(tokens & names)}"


def test_missing_framework_is_a_skipped_row(monkeypatch):
    monkeypatch.setitem(driver.__dict__, "missing_packages", lambda name: ["torch"])
    result = execute(RunRequest(task="mnist", framework="pytorch", model=SPEC_MODEL, settings=SETTINGS))
    assert (result.status, result.message) == ("skipped", "not installed: torch")


def test_adapter_that_raises_is_an_error_row(monkeypatch):
    def broken_load(request, spec):  # noqa: ANN001, ANN202
        raise RuntimeError("adapter exploded\nsecond line")

    monkeypatch.setattr(driver, "load_data", broken_load)
    settings = RunSettings(device="cpu", threads=1, progress=False, dtype="float64", seed=7)
    result = execute(RunRequest(task="mnist", framework="sklearn", model="logistic_regression", settings=settings))
    assert result.status == "error" and result.error_kind == "adapter"
    assert result.message == "RuntimeError: adapter exploded second line"  # one line for the table
    assert (result.seed, result.threads, result.dtype) == (7, 1, "float64")  # error rows keep their settings


def test_data_error_is_typed(monkeypatch):
    from tasks.download import DataError

    def missing(request, spec):  # noqa: ANN001, ANN202
        raise DataError("mnist: file not found")

    monkeypatch.setattr(driver, "load_data", missing)
    result = execute(RunRequest(task="mnist", framework="sklearn", model="logistic_regression", settings=SETTINGS))
    assert (result.status, result.error_kind) == ("error", "data")


def test_baseline_label_says_when_it_trained_on_a_subset():
    import numpy as np

    from frameworks import sklearn as sk
    from tasks.spec import BaselineSpec

    spec = registry.get("mnist").spec
    spec = spec.__class__(**{**spec.__dict__, "baselines": (BaselineSpec("lr", "logistic_regression", (("max_iter", 5),), max_train=30),)})
    X, y = np.random.default_rng(0).random((50, 784), dtype=np.float32), np.arange(50) % 10
    adapter = sk.create(spec, SETTINGS, "lr")
    adapter.build()
    adapter.fit(X, y)
    assert adapter.model_label == "lr (first 30 train samples)"
    adapter.fit(X[:20], y[:20])  # less data than max_train: it saw all of it
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
        adapter = module.create(spec, settings, model)
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
