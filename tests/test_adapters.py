"""The adapter boundary: workbench/ and tasks/ import no framework and name none; errors and missing
frameworks become typed rows; one adapter's pieces (baseline labels, the lr schedule) behave."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest

from frameworks.base import FRAMEWORKS, PROTOCOL_ORDER, SPEC_MODEL, RunSettings, load_adapter_module
from tasks import registry
from tasks.init import init_weights
from workbench.run import driver
from workbench.run.child import execute
from workbench.run.driver import RunRequest

SETTINGS = RunSettings(device="cpu", threads=1, progress=False)


ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_PACKAGES = {"torch", "tensorflow", "keras", "jax", "jaxlib", "flax", "optax", "sklearn"}
# names of frameworks (any case), of estimators (as written), and of the TF-IDF / estimator arguments a task once held
FRAMEWORK_WORDS = FRAMEWORK_PACKAGES | set(FRAMEWORKS) | {"pytorch", "scikit-learn"}
ESTIMATOR_WORDS = {"MLPClassifier", "LogisticRegression", "TfidfVectorizer", "CountVectorizer", "MultinomialNB"}
ESTIMATOR_ARGUMENTS = {"C", "max_iter", "min_df", "token_pattern"}  # as keyword arguments; as strings, all but "C"
# the exceptions, each about data, not code: tasks/digits.py reads the digits file scikit-learn ships (and says so
# when it is missing); tasks/datasets.py downloads IMDB from the Keras datasets' URL and names that file's format
ALLOWED = {"tasks/digits.py": {"sklearn", "scikit-learn"}, "tasks/datasets.py": {"tensorflow", "Keras"}}
SEALED = sorted([*(ROOT / "workbench").rglob("*.py"), *(ROOT / "tasks").rglob("*.py"), ROOT / "compare.py"])


def _imports(path: Path) -> set[str]:
    """Top-level package of every import in a file, at any depth (function-local imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (module, class, function): prose, where a framework may be named."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def framework_names_in_code(source: str) -> set[str]:
    """Framework and estimator names in code: identifiers, attributes, keyword arguments and string literals
    (docstrings and comments are prose and may name them)."""
    tree, found = ast.parse(source), set()
    prose = _docstrings(tree)
    for node in ast.walk(tree):
        words: list[str] = []
        if isinstance(node, ast.Name):
            words = [node.id]
        elif isinstance(node, ast.Attribute):
            words = [node.attr]
        elif isinstance(node, ast.alias):
            words = node.name.split(".")
        elif isinstance(node, ast.keyword) and node.arg in ESTIMATOR_ARGUMENTS:
            found.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            words = re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", node.value)
            found |= {node.value} & (ESTIMATOR_ARGUMENTS - {"C"})
        found |= {w for w in words if w.lower() in FRAMEWORK_WORDS or w in ESTIMATOR_WORDS}
    return found


def test_the_guard_finds_names_in_code_and_strings_but_not_in_prose():
    source = '''"""Trained with torch or keras: prose."""
import numpy as np  # tensorflow in a comment
x = np.zeros(3)
def f():
    """sklearn in a docstring."""
    return {"engine": "keras-jax", "est": LogisticRegression(C=1.0), "opt": optax.adam}
'''
    assert framework_names_in_code(source) == {"keras-jax", "LogisticRegression", "C", "optax"}
    assert framework_names_in_code('x = "token_pattern"\nimport jax.numpy') == {"token_pattern", "jax"}


@pytest.mark.parametrize("path", SEALED, ids=lambda p: str(p.relative_to(ROOT)))
def test_workbench_tasks_and_cli_name_no_framework(path):
    """The sealed boundary: only frameworks/ imports or names a framework or an estimator, in code and in strings."""
    allowed = ALLOWED.get(str(path.relative_to(ROOT)), set())
    assert not (_imports(path) & (FRAMEWORK_PACKAGES - allowed)), f"{path.relative_to(ROOT)} imports a framework"
    named = framework_names_in_code(path.read_text()) - allowed
    assert not named, f"{path.relative_to(ROOT)} names {sorted(named)} in code"


def test_adapters_define_the_protocol_names_in_the_protocol_order():
    """Every adapter module (and each Keras backend module) defines its public names in PROTOCOL_ORDER, so two
    adapters read side by side; each is at most 450 lines."""
    for path in sorted((ROOT / "frameworks").glob("*.py")):
        tree = ast.parse(path.read_text())
        defined = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.append(node.name)
            elif isinstance(node, ast.Assign):
                defined += [t.id for t in node.targets if isinstance(t, ast.Name)]
        order = [name for name in defined if name in PROTOCOL_ORDER]
        if "configure" not in order:
            continue  # a helper module (layout, runtimes, export, augment), not an adapter
        assert order == sorted(order, key=PROTOCOL_ORDER.index), f"{path.name}: {order}"
        assert len(path.read_text().splitlines()) <= 450, f"{path.name} is longer than 450 lines"


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
    spec = replace(spec, baselines=(BaselineSpec("logistic_regression", "a linear classifier", max_train=30),))
    X, y = np.random.default_rng(0).random((50, 784), dtype=np.float32), np.arange(50) % 10
    adapter = sk.create(spec, SETTINGS, "logistic_regression")
    adapter.build()
    adapter.fit(X, y)
    assert adapter.model_label == "logistic_regression (first 30 train samples)"
    adapter.fit(X[:20], y[:20])  # less data than max_train: it saw all of it
    assert adapter.model_label == "logistic_regression"


def test_a_baseline_the_library_has_no_settings_for_is_refused_with_the_known_ones():
    from frameworks import sklearn as sk
    from tasks.spec import BaselineSpec

    spec = replace(registry.get("mnist").spec, baselines=(BaselineSpec("naive_bayes_counts", "counts"),))
    with pytest.raises(ValueError, match="no baseline 'naive_bayes_counts' for task 'mnist': it has digits/logistic_regression"):
        sk.create(spec, SETTINGS, "naive_bayes_counts").build()


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
