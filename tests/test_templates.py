"""Templates over every task x every engine: no per-engine test code.

Every built-in engine, plus a fourth one registered only through FRAMEBENCH_EXTRA_FRAMEWORKS
(tests/engines/numpy_engine.py, no project file edited), runs the same checks: a dry run of every
task (status, parameter count, the loss after one step), the numerical checks on tiny specs of
every layer type and on every task's own spec, and --explain. Pairs that cannot run are data below,
with their reason; the tests also check that the engine itself gives that reason, in its own child process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_runs import PLUGIN, PLUGIN_ENV, digits_dry_run

from frameworks.base import EXTRA_FRAMEWORKS_VAR, FRAMEWORKS, engine, missing_packages
from frameworks.tensorflow_log import native_stderr_to
from tasks import registry
from tasks.reference import cancelled_by_batchnorm
from tasks.spec import count_params
from workbench.teach.explain import explain_sections, gather_many


@pytest.fixture(scope="module", autouse=True)
def _plugin_registered():
    """The plugin engine registered while this module's tests run (children inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in PLUGIN_ENV.items():
            patch.setenv(name, value)
        yield


ENGINES = [name for name in FRAMEWORKS if not missing_packages(name)] + [PLUGIN]
MLP_ONLY = "MLPClassifier builds Dense + ReLU networks only, not model.layers["  # the reason starts so, naming the layer
# (engine, spec) pairs whose network cannot be built, and the reason the engine's unsupported(spec) starts with: every
# other pair must run. A spec is a tiny spec (tiny_specs.MODELS, tiny_transformer), a task or an example file's stem.
# The engines' own answers are checked against this in their children: test_templates_checks.py (tiny specs, tasks),
# the examples' dry runs below and tests/test_own_network.py (examples).
UNSUPPORTED = {
    ("sklearn", "transformer"): MLP_ONLY,
    ("sklearn", "cnn"): MLP_ONLY,
    ("sklearn", "rnn"): MLP_ONLY,
    ("sklearn", "text"): MLP_ONLY,
    ("sklearn", "resnet"): MLP_ONLY,
    ("sklearn", "cifar10"): MLP_ONLY,
    ("sklearn", "sentiment"): MLP_ONLY,
    ("sklearn", "lenet5_digits"): MLP_ONLY,
    ("sklearn", "residual_mlp_digits"): MLP_ONLY,
    ("sklearn", "textcnn_imdb"): MLP_ONLY,
}
NO_DATA = {"digits"}  # tasks that need no data folder
DOWNCAST = {"keras-jax", "keras-torch"}  # Keras 3.15.1 on these backends computes float64 in float32
NO_GRADIENTS = {"sklearn"}  # engines without a public gradient API (their module's HAS_GRADIENTS is False)
with pytest.MonkeyPatch.context() as _patch:  # the plugin's registry entry, read once at import
    _patch.setenv(EXTRA_FRAMEWORKS_VAR, PLUGIN_ENV[EXTRA_FRAMEWORKS_VAR])
    SPEC_ROW = {name: engine(name).spec_model for name in ENGINES}  # the model id of each engine's spec-network row


def _spec_rows(rows: dict[str, list[dict]]) -> list[dict]:
    """Every engine's row of the spec's own network (not the one-shot baselines)."""
    return [r for rs in rows.values() for r in rs if r["model_id"] == SPEC_ROW[r["framework"]]]


def _data_env() -> dict[str, str]:
    """The real data folder, for the tasks that need one (skipped without it)."""
    from conftest_data import real_data_dir

    return {"FRAMEBENCH_DATA": str(real_data_dir())}


EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))  # users' spec files (issue 27)
BUILT_IN = [name for name in ENGINES if name != PLUGIN]


@pytest.fixture(scope="module")
def data_dry_runs(tmp_path_factory) -> dict[str, tuple[dict, str, str]]:
    """task or example name -> (saved results, the tables compare.py prints, the children's stderr) of a dry run over
    every engine, for each task with a data folder and each example spec file (the built-in engines): all of them at
    once (workbench.api.dry_runs), each engine started once for all."""
    from workbench import api

    tasks = [task for task in registry.names() if task not in NO_DATA]
    folder = tmp_path_factory.mktemp("dry-runs")
    runs = [{"task": task, "frameworks": ",".join(ENGINES)} for task in tasks]
    runs += [{"spec": str(path), "frameworks": ",".join(BUILT_IN)} for path in EXAMPLES]
    names = tasks + [path.stem for path in EXAMPLES]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAMEBENCH_DATA", _data_env()["FRAMEBENCH_DATA"])  # textcnn_imdb reuses the IMDB task's data
        with native_stderr_to(str(folder / "stderr.txt")):
            done = api.dry_runs(*[{**run, "quiet": True, "output": str(folder / f"{name}.json")} for run, name in zip(runs, names)],
                                strict=False)  # fmt: skip
    stderr = (folder / "stderr.txt").read_text()
    return {name: (json.loads((folder / f"{name}.json").read_text()), run.table(), stderr) for name, run in zip(names, done)}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_in_every_engine(example, data_dry_runs):
    """A user's spec file (examples/) dry-runs in every built-in engine; an engine that cannot build it (UNSUPPORTED)
    has a skipped row with its reason, naming the layer."""
    saved, printed, _ = data_dry_runs[example.stem]
    rows = {r["framework"]: r for r in saved["results"]}
    assert set(rows) == set(BUILT_IN), rows.keys()
    for name, row in rows.items():
        if (name, example.stem) in UNSUPPORTED:
            assert row["status"] == "skipped" and UNSUPPORTED[name, example.stem] in row["message"], row
        else:
            assert row["status"] == "ok", (name, row["message"])
    assert "spec: model: input" in printed  # the header prints the resolved spec


@pytest.fixture(scope="module", params=registry.names())
def dry_run_output(request, tmp_path_factory) -> tuple[str, dict, str]:
    """(task, rows by framework, stdout) of one `--dry-run` over every engine: digits through compare.py (the run
    test_cli reads too), the others from data_dry_runs."""
    task = request.param
    if task in NO_DATA:
        proc, out = digits_dry_run(tmp_path_factory)
        saved, stdout, stderr = json.loads(out.read_text()), proc.stdout, proc.stderr
        assert proc.returncode in (0, 4), stderr[-2000:]
    else:
        saved, stdout, stderr = request.getfixturevalue("data_dry_runs")[task]
    assert "Traceback" not in stderr and "oneDNN" not in stderr, stderr[-2000:]
    rows: dict[str, list[dict]] = {}
    for row in saved["results"]:
        rows.setdefault(row["framework"], []).append(row)
    return task, rows, stdout


@pytest.fixture
def dry_run(dry_run_output) -> tuple[str, dict]:
    """(task, rows by framework) of the dry run."""
    return dry_run_output[:2]


def _letters(text: str) -> str:
    """Lower-case letters and digits only: "CIFAR-10" and the spec's dataset key "cifar10" read the same."""
    return "".join(c for c in text.lower() if c.isalnum())


def test_dry_run_header_names_the_data_and_its_warnings(dry_run_output):
    task, rows, stdout = dry_run_output
    assert f"task: {task}" in stdout
    ran = [r for rs in rows.values() for r in rs if r["status"] == "ok"]
    first = ran[0]
    assert {r["dataset"] for r in ran} == {first["dataset"]}  # the same data in every row
    assert _letters(registry.get(task).spec.data.name) in _letters(first["dataset"]) and first["dataset"] in stdout
    for warning in first["data_warnings"]:  # e.g. CIFAR-10's partial copy with 1,000 test images
        assert f"WARNING: {warning}" in stdout
    assert ("NOT canonical" in first["dataset"]) == bool(first["data_warnings"])
    batch = registry.get(task).spec.train.batch_size
    for row in (r for rs in rows.values() for r in rs):  # one batch each, baselines too
        assert row["train_samples"] == batch, (row["framework"], row["model"], row["train_samples"])


def test_dry_run_trains_from_the_same_start(dry_run):
    """Same weights, same first batch: the loss before the step (the dry run's train loss) agrees in float32."""
    task, rows = dry_run
    before = {r["framework"]: r["train_loss"] for r in _spec_rows(rows)}
    assert len(before) >= 2, before  # a comparison needs two engines
    first = next(iter(before.values()))  # the first engine in registry order (PyTorch's where installed)
    for engine, loss in before.items():
        assert loss == pytest.approx(first, rel=1e-5), (engine, before)


@pytest.mark.parametrize("engine", ENGINES)
def test_dry_run_every_task(dry_run, engine):
    task, rows = dry_run
    spec = registry.get(task).spec
    assert engine in rows, f"{engine} has no row"
    for row in rows[engine]:
        assert row["status"] == "ok", (row["model"], row["message"])
        if row["model_id"] == SPEC_ROW[engine]:  # the spec's own network: same count everywhere
            assert row["params"] == count_params(spec.model), row["model"]
        if engine != PLUGIN:  # every built-in adapter says what its configure() set for reproducible runs
            assert row["determinism"], row["model"]


# (engine, task) pairs whose first step differs from PyTorch's for a known, tested reason: none now (Keras on
# TensorFlow's sentiment step differed until its Adam made the Embedding's IndexedSlices dense).
KNOWN_STEP_DIFFERENCE: dict[tuple[str, str], str] = {}
STEP_REL = 1e-4  # float32, same weights, same batch
# Biases just before BatchNorm have a gradient that is rounding noise; Adam's first step turns it into up to
# lr per bias, and the evaluation-mode BatchNorm (moving statistics) then sees those biases. Measured on
# cifar10 (CI, real data): keras-torch 3.4e-4, keras-jax 2.3e-4, keras 7e-5 from PyTorch's test loss.
STEP_REL_BATCHNORM_BIAS = 2e-3


def test_dry_run_loss_after_one_step_agrees(dry_run):
    """Every engine that trains the spec's network took the same first step: the test loss after it agrees."""
    task, rows = dry_run
    losses = {r["framework"]: r["test_loss"] for r in _spec_rows(rows)}
    assert len(losses) >= 2, losses
    first = next(iter(losses.values()))  # the first engine in registry order (PyTorch's where installed)
    rel = STEP_REL_BATCHNORM_BIAS if cancelled_by_batchnorm(registry.get(task).spec.model) else STEP_REL
    for engine, loss in losses.items():
        if (engine, task) not in KNOWN_STEP_DIFFERENCE:
            assert loss == pytest.approx(first, rel=rel), (engine, losses)


# ---------------------------------------------------------------- --explain


# every task with each --model variant it registers (the first is the task's own model)
TASK_MODELS = [(task, model) for task in registry.names() for model in registry.get(task).variant_names()]


@pytest.fixture(scope="module")
def gathered_facts() -> list:
    """Every engine's teaching facts for every task and model, each engine asked once for all of them."""
    return gather_many([registry.get(task).variant(model) for task, model in TASK_MODELS], ENGINES)


@pytest.fixture(scope="module", params=TASK_MODELS, ids=[f"{t}-{m}" for t, m in TASK_MODELS])
def explained(request, gathered_facts) -> tuple[str, object, dict[str, str]]:
    """--explain of one task and model over every engine: (task, spec, {section title: Markdown})."""
    task, model = request.param
    spec = registry.get(task).variant(model)
    sections, errored = explain_sections(spec, ENGINES, gathered=gathered_facts[TASK_MODELS.index((task, model))])
    assert not errored, dict(sections).get("Frameworks left out")  # an adapter that cannot show its code is a failure
    return task, spec, dict(sections)


@pytest.mark.parametrize("engine", ENGINES)
def test_explain_every_task(explained, engine):
    task, spec, sections = explained
    if (engine, task) not in UNSUPPORTED:
        assert engine not in sections.get("Frameworks left out", "")
    code = sections["The model in each framework (the adapters' own code)"]
    assert f"**{engine}**" in code or f"*{engine}:" in code
    summary = sections["Model summary, layer by layer"]
    total = next(line for line in summary.splitlines() if "total trainable" in line)
    if (engine, task) not in UNSUPPORTED:
        assert engine in summary.splitlines()[0]
        assert f"{count_params(spec.model):,}" in total


def test_every_declared_pair_names_a_spec_that_exists():
    """A key of UNSUPPORTED (engine, spec) names a registered engine and a tiny spec, a task or an example: a typo or a
    removed spec would otherwise leave the pair silently unchecked."""
    from tiny_specs import MODELS

    specs = {*MODELS, "transformer", *registry.names(), *(p.stem for p in EXAMPLES)}
    assert not [key for key in UNSUPPORTED if key[0] not in (*FRAMEWORKS, PLUGIN) or key[1] not in specs]
