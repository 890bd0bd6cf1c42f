"""The adapter boundary: workbench/ and tasks/ import no framework and name none; errors and missing
frameworks become typed rows; one adapter's pieces (baseline labels, the lr schedule) behave."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from frameworks.base import (FRAMEWORKS, OPTIONAL_NAMES, PROTOCOL_ORDER, REQUIRED_NAMES, SPEC_MODEL, RunSettings,
                             load_adapter_module)  # fmt: skip
from tasks import registry
from tasks.init import init_weights
from workbench.run import driver
from workbench.run.child import execute
from workbench.run.driver import RunRequest

SETTINGS = RunSettings(device="cpu", threads=1, progress=False)


ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_PACKAGES = {"torch", "tensorflow", "keras", "jax", "jaxlib", "flax", "optax", "sklearn"}
# framework words (any case): the packages, "pytorch", "scikit" (of scikit-learn) and every word of a registered name
REGISTERED_WORDS = {word.lower() for name in FRAMEWORKS for word in re.split(r"\W+", name)}
FRAMEWORK_WORDS = FRAMEWORK_PACKAGES | {"pytorch", "scikit"} | REGISTERED_WORDS
# estimator names (as written), and the TF-IDF / estimator arguments a task once held
ESTIMATOR_WORDS = {"MLPClassifier", "LogisticRegression", "TfidfVectorizer", "CountVectorizer", "MultinomialNB"}
ESTIMATOR_ARGUMENTS = {"C", "max_iter", "min_df", "token_pattern"}  # as keyword arguments; as strings, all but "C"
# The one exception, about data: tasks/digits.py finds the digits file scikit-learn ships without importing it,
# find_spec("sklearn"), and its data errors say "install scikit-learn". Words only: it may not import it.
ALLOWED = {"tasks/digits.py": {"sklearn", "scikit"}}
# A URL is data, not code: a string that is one URL and nothing else (tasks/datasets.py downloads IMDB's word-id
# file from the Keras datasets' bucket, whose path names TensorFlow and Keras).
URL = re.compile(r"https://\S+")
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


def words(text: str) -> set[str]:
    """Every token of `text` (letters, digits and _-./ between other characters), and each of its words: split on
    _ - . / and at camelCase boundaries, so `without_tensorflow`, `IMDB_KERAS_NPZ` and `PyTorch` show theirs."""
    found = set()
    for token in re.findall(r"[A-Za-z0-9_\-./]+", text):
        found.add(token)
        for piece in filter(None, re.split(r"[_\-./]+", token)):
            found |= {piece, *re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", piece)}
    return found


def _names(node: ast.AST) -> list[str]:
    """The names a node writes in code: identifiers, attributes, def/class names, arguments, imports."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword):
        return [node.arg or ""]
    if isinstance(node, ast.alias):
        return [node.name, node.asname or ""]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return list(node.names)
    return []


def framework_names_in_code(source: str) -> set[str]:
    """Framework and estimator names in code, as whole names or as words of one: identifiers, attributes, def/class
    names, arguments, imports and string literals (docstrings and comments are prose and may name them; so is a
    string that is one URL)."""
    tree, found = ast.parse(source), set()
    prose = _docstrings(tree)
    for node in ast.walk(tree):
        texts = _names(node)
        if isinstance(node, ast.keyword) and node.arg in ESTIMATOR_ARGUMENTS:
            found.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            texts = [] if URL.fullmatch(node.value) else [node.value]
            found |= {node.value} & (ESTIMATOR_ARGUMENTS - {"C"})
        for text in texts:
            found |= {w for w in words(text) if w.lower() in FRAMEWORK_WORDS or w in ESTIMATOR_WORDS}
    return found


def test_the_guard_finds_names_in_code_and_strings_but_not_in_prose():
    source = '''"""Trained with torch or keras: prose."""
import numpy as np  # tensorflow in a comment
x = np.zeros(3)
def f():
    """sklearn in a docstring."""
    return {"engine": "keras-jax", "est": LogisticRegression(C=1.0), "opt": optax.adam}
'''
    assert framework_names_in_code(source) == {"keras", "jax", "LogisticRegression", "C", "optax"}
    assert framework_names_in_code('x = "token_pattern"\nimport jax.numpy') == {"token_pattern", "jax"}
    # a framework joined to other words: def, class, argument, attribute, keyword and variable names, strings
    assert framework_names_in_code("def without_tensorflow(): pass") == {"tensorflow"}
    assert framework_names_in_code("class JaxState: pass") == {"Jax"}
    assert framework_names_in_code("def f(torch_module=None): pass") == {"torch"}
    assert framework_names_in_code("f(x.flax_params, use_optax=1)") == {"flax", "optax"}
    assert framework_names_in_code("_KERAS = 1\nIMDB_KERAS_NPZ = load_keras_imdb_npz()") == {"KERAS", "keras"}
    assert framework_names_in_code('init = "torch_default"') == {"torch"}
    assert framework_names_in_code('title = "PyTorch on cpu/tf-keras"') == {"PyTorch", "Torch", "keras"}
    assert framework_names_in_code("from x import sklearn_helpers as h") == {"sklearn"}
    # a string that is one URL is data; a URL inside a sentence is not
    assert framework_names_in_code('URL = "https://storage.example/tensorflow/tf-keras-datasets/"') == set()
    assert framework_names_in_code('msg = "see https://example/keras"') == {"keras"}


@pytest.mark.parametrize("path", SEALED, ids=lambda p: str(p.relative_to(ROOT)))
def test_workbench_tasks_and_cli_name_no_framework(path):
    """The sealed boundary: only frameworks/ imports or names a framework or an estimator, in code and in strings."""
    assert not (_imports(path) & FRAMEWORK_PACKAGES), f"{path.relative_to(ROOT)} imports a framework"
    named = framework_names_in_code(path.read_text()) - ALLOWED.get(str(path.relative_to(ROOT)), set())
    assert not named, f"{path.relative_to(ROOT)} names {sorted(named)} in code"


def test_the_allowed_names_are_still_needed():
    """Each allowed name is still found in its file: an exception that outlived its reason is removed."""
    for name, allowed in ALLOWED.items():
        assert framework_names_in_code((ROOT / name).read_text()) >= allowed, name


# ---------------------------------------------------------------- the adapter protocol, read from the source


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements in source order, also those inside a top-level if/try/with (not in a def or class)."""
    for node in body:
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            blocks = [getattr(node, field, []) for field in ("body", "orelse", "finalbody")]
            for block in blocks + [handler.body for handler in getattr(node, "handlers", [])]:
                yield from _statements(block)


def defined_names(tree: ast.Module) -> list[str]:
    """Names a module defines at its top level, in source order: def, class and assignment (what a reader compares)."""
    found = []
    for node in _statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return found


def imported_names(tree: ast.Module) -> dict[str, str]:
    """Top-level import bindings: local name -> what it is ("package.module" or "package.module:name")."""
    found = {}
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            found |= {alias.asname or alias.name.split(".")[0]: alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {alias.asname or alias.name: f"{node.module}:{alias.name}" for alias in node.names}
    return found


def missing_required(tree: ast.Module) -> list[str]:
    """The names of REQUIRED_NAMES a module binds nowhere at its top level (def, class, assignment or import)."""
    return [name for name in REQUIRED_NAMES if name not in {*defined_names(tree), *imported_names(tree)}]


def _tree(module: str) -> ast.Module:
    """The parsed source of a project module, by its dotted name."""
    return ast.parse((ROOT / f"{module.replace('.', '/')}.py").read_text())


def test_adapters_define_the_protocol_names_in_the_protocol_order():
    """Every adapter module (and each Keras backend module) defines its public names in PROTOCOL_ORDER, so two
    adapters read side by side; each is at most 450 lines."""
    for path in sorted((ROOT / "frameworks").glob("*.py")):
        order = [name for name in defined_names(ast.parse(path.read_text())) if name in PROTOCOL_ORDER]
        if "configure" not in order:
            continue  # a helper module (layout, runtimes, export, augment), not an adapter
        assert order == sorted(order, key=PROTOCOL_ORDER.index), f"{path.name}: {order}"
        assert len(path.read_text().splitlines()) <= 450, f"{path.name} is longer than 450 lines"


@pytest.mark.parametrize("module", sorted({e.module for e in FRAMEWORKS.values()}))
def test_every_registered_adapter_binds_the_required_names(module):
    """Each registered module binds every name of REQUIRED_NAMES at its top level, those it defines in PROTOCOL_ORDER's
    order (a name it only imports, a re-export, has no place in it); OPTIONAL_NAMES may be missing."""
    tree = _tree(module)
    assert missing_required(tree) == [], f"{module} lacks {missing_required(tree)}"
    defined = [name for name in defined_names(tree) if name in PROTOCOL_ORDER]
    assert defined == sorted(defined, key=PROTOCOL_ORDER.index), f"{module}: {defined}"


def literal_keys(module: str, name: str) -> list[set]:
    """The keys of the dict literal `module.name` is, following `name = other.NAME` to the module that holds the
    literal: one set per module the name can come from (Keras' backend module is chosen at import time)."""
    tree = _tree(module)
    values = [node.value for node in _statements(tree.body) if isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)]  # fmt: skip
    assert len(values) == 1, f"{module}.{name} is assigned {len(values)} times"
    value = values[0]
    if isinstance(value, ast.Dict):
        return [{ast.literal_eval(key) for key in value.keys}]
    assert isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name), f"{module}.{name}: not readable"
    sources = []  # every `from package import module [as alias]` that binds the name the attribute is read from
    for node in _statements(tree.body):
        if isinstance(node, ast.ImportFrom) and node.module:
            sources += [f"{node.module}.{a.name}" for a in node.names if (a.asname or a.name) == value.value.id]
    assert sources, f"{module}.{name}: {value.value.id} is not an imported module"
    return [keys for source in sources for keys in literal_keys(source, value.attr)]


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_determinism_covers_every_device_the_engine_runs_on(framework):
    """DETERMINISM says what configure() sets on each device kind the engine can run on: "cpu", and "cuda" unless
    its registry entry is cpu_only (read from the source: no framework is imported into the test process)."""
    kinds = {"cpu"} | (set() if FRAMEWORKS[framework].cpu_only else {"cuda"})
    for keys in literal_keys(FRAMEWORKS[framework].module, "DETERMINISM"):
        assert kinds <= keys, f"{framework}: DETERMINISM has {sorted(keys)}, not {sorted(kinds)}"


def test_the_protocol_checks_can_fail():
    """The readers see a protocol name out of order and one missing, an import binding, and a DETERMINISM's keys."""
    tree = ast.parse("from x import create\nNAME = 'n'\ndef configure(s): pass\nif 1:\n    version = lambda: '1'\n"
                     "class Network: pass")
    assert defined_names(tree) == ["NAME", "configure", "version", "Network"]  # version after configure: out of order
    assert imported_names(tree) == {"create": "x:create"}
    assert missing_required(tree) == [n for n in REQUIRED_NAMES if n not in ("NAME", "version", "configure", "create")]
    assert literal_keys("frameworks.torch_runtime", "DETERMINISM") == [{"cpu", "cuda"}]
    assert len(literal_keys("frameworks.keras", "DETERMINISM")) == 3  # one per Keras backend module
    assert set(REQUIRED_NAMES) | OPTIONAL_NAMES == set(PROTOCOL_ORDER) and not set(REQUIRED_NAMES) & OPTIONAL_NAMES


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
