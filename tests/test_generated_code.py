"""Generated code (issue 26): every task and variant, and the tiny example specs, written by each engine's generator
(frameworks/*_code.py) and run in a fresh process with no access to the project. It must report the spec's parameter
count and, with the canonical weights, the adapter's own float64 logits and the NumPy reference's, within the float64
tolerance (the float32 one for engines that compute float64 in float32). Injected generator bugs fail that check;
an adapter never builds a spec its generator cannot write; docs/code/ holds what the generators write today.

Each engine's scripts run in one fresh process (runpy, as `python SCRIPT` would: `__main__`, its own argv, no
project on the path), so a framework is imported once per engine, not once per script; one script per engine also
runs on its own, exactly as a reader runs it. The Keras-JAX and Keras-torch runs beyond digits, and the
Keras-TensorFlow runs of the tiny specs whose layers the registry's specs already show, are heavy:
FRAMEBENCH_FULL_CODE_TESTS=1 adds them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from tiny_specs import MODELS, tiny_task

from frameworks import base, code_generators, keras_code, pytorch_code
from frameworks.code_common import fixed_input
from tasks import reference, registry
from tasks.init import init_weights
from tasks.spec import Dense, Dropout, Layer, ModelSpec, ReLU, TaskSpec, count_params
from tasks.spec_file import read_spec_file
from tasks.spec_io import spec_to_json
from workbench.deploy.weights_file import save_weights
from workbench.teach.code import side_by_side, write_code

ROOT = Path(__file__).resolve().parent.parent
FULL = os.environ.get("FRAMEBENCH_FULL_CODE_TESTS") == "1"
ENGINES = [name for name in code_generators.GENERATORS if not base.missing_packages(name)]
SECOND_BACKENDS = ("keras-jax", "keras-torch")  # the Keras script again, on another backend: cheap cases unless FULL
TIMEOUT_S = 900  # one generated script, or one engine's adapter over every case, on a loaded machine
DOCS = {"mnist": ("mnist", None), "cifar10": ("cifar10", None), "sentiment-transformer": ("sentiment", "transformer")}


def _cases() -> dict[str, TaskSpec]:
    """'task/variant' -> spec for every registered variant, 'tiny/NAME' for the tiny specs, 'example/NAME' for the
    spec files of examples/ (issue 27)."""
    found = {f"{name}/{variant}": registry.get(name).variant(variant) for name in registry.names() for variant in registry.get(name).variant_names()}
    found |= {f"tiny/{name}": tiny_task(model) for name, model in MODELS.items()}
    found["tiny/dropout"] = tiny_task(ModelSpec(input_shape=(5,), layers=(Dense(4), ReLU(), Dropout(0.5), Dense(3))))
    found |= {f"example/{path.stem}": read_spec_file(path) for path in sorted((ROOT / "examples").glob("*.toml"))}
    return found


CASES = _cases()
CHEAP = [case for case in CASES if case.startswith("tiny/") or case in ("digits/default", "mnist/default")]  # a training step too
BUG_CASE = "tiny/cnn"  # BatchNorm, and a Dense after the Flatten of an image: the injected bugs' case


def heavy(case: str, engine: str) -> bool:
    """Runs only with FULL: the second Keras backends beyond digits, and the tiny specs whose layers the registry's
    specs already show on the Keras script."""
    if engine in SECOND_BACKENDS:
        return case != "digits/default"
    return engine == "keras" and case in ("tiny/mlp", "tiny/cnn", "tiny/rnn", "tiny/dropout")


def _selected(engine: str) -> list[str]:
    return [case for case in CASES if FULL or not heavy(case, engine) or case == BUG_CASE]


def _labels(spec: TaskSpec) -> np.ndarray:
    classes = spec.model.layers[-1].units if spec.model.loss == "cross_entropy" else 2
    return np.arange(len(fixed_input(spec))) % classes


@pytest.fixture(scope="session")
def weights_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The canonical weights of every case as weights.npz (the --export format), float64."""
    folder = tmp_path_factory.mktemp("canonical-weights")
    paths = {}
    for case, spec in CASES.items():
        paths[case] = folder / f"{case.replace('/', '-')}.npz"
        save_weights(paths[case], init_weights(spec.model, spec.init, spec.train.seed), spec.name, "canonical")
    return paths


ADAPTER_RUN = r"""
import json, sys
import numpy as np
from frameworks.base import SPEC_MODEL, RunSettings, load_adapter_module
from frameworks.code_common import fixed_input
from tasks.spec_io import spec_from_json

engine, job = sys.argv[1], json.loads(open(sys.argv[2]).read())
module = load_adapter_module(engine)
settings = RunSettings(dtype="float64", threads=1, progress=False)
module.configure(settings)
result, arrays = {"dtype": module.DTYPES["float64"], "cases": {}}, {}
for n, (case, (spec_json, weights, labels)) in enumerate(job["cases"].items()):
    spec = spec_from_json(spec_json)
    entry = result["cases"][case] = {"unsupported": module.unsupported(spec)}
    if entry["unsupported"]:
        continue
    try:
        with np.load(weights) as stored:
            canonical = {k: stored[k] for k in stored.files if k != "__meta__"}
        network = module.create(spec, settings, SPEC_MODEL)
        network.build(canonical)
        X = fixed_input(spec)
        network.set_train_data(X, np.asarray(labels))  # scikit-learn allocates its arrays here
        arrays[f"case{n}"] = np.asarray(network.predict(X), dtype=np.float64)
        entry["array"] = f"case{n}"
    except Exception as exc:  # an adapter that cannot build it yet: the reference still judges the script
        entry["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
np.savez(job["arrays"], **arrays)
print(json.dumps(result))
"""


@pytest.fixture(scope="session")
def adapter_outputs(weights_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> typing.Callable[[str], dict]:
    """engine -> {"dtype": what it computes float64 in, "cases": {case: {"unsupported", "logits" or "error"}}}:
    each engine's adapter over its cases in one child process, run once and kept."""
    cache: dict[str, dict] = {}

    def run(engine: str) -> dict:
        if engine not in cache:
            folder = tmp_path_factory.mktemp(f"adapter-{engine}")
            job = {"arrays": str(folder / "logits.npz"),
                   "cases": {c: (spec_to_json(CASES[c]), str(weights_files[c]), _labels(CASES[c]).tolist()) for c in _selected(engine)}}  # fmt: skip
            (folder / "job.json").write_text(json.dumps(job))
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
            proc = subprocess.run([sys.executable, "-c", ADAPTER_RUN, engine, str(folder / "job.json")], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
            assert proc.returncode == 0, proc.stderr[-3000:]
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            with np.load(job["arrays"]) as arrays:
                for entry in result["cases"].values():
                    if "array" in entry:
                        entry["logits"] = arrays[entry.pop("array")]
            cache[engine] = result
        return cache[engine]

    return run


def _script_env(engine: str) -> dict[str, str]:
    """A reader's environment: no PYTHONPATH (the project is not importable), the engine's backend variable."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | dict(base.engine(engine).env) | {"TF_CPP_MIN_LOG_LEVEL": "3"}


def _script_args(weights: Path, steps: int) -> list[str]:
    return ["--weights", str(weights), "--dtype", "float64", "--steps", str(steps)]


def _values(stdout: str) -> dict[str, object]:
    """{name: value} of a script's `name: JSON` lines (parameters, logits or log_probabilities, loss)."""
    values: dict[str, object] = {}
    for line in stdout.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name.replace("_", "").isalpha():
            values.setdefault(name, []).append(json.loads(value))
    return {name: found[0] if name != "loss" else found for name, found in values.items()}


def _write_script(source: str, engine: str, folder: Path) -> Path:
    path = folder / code_generators.generator(engine).FILE_NAME
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def run_script(source: str, engine: str, weights: Path, folder: Path, steps: int) -> dict[str, object]:
    """Run a generated script on its own, `python SCRIPT ARGS` in a fresh process outside the repository."""
    path = _write_script(source, engine, folder)
    proc = subprocess.run([sys.executable, str(path), *_script_args(weights, steps)], cwd=folder, env=_script_env(engine),
                          capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stderr[-3000:]}"
    return _values(proc.stdout)


# Runs each job's script as `python SCRIPT ARGS` would (run_name "__main__", sys.argv, its own folder as the working
# directory), its stdout captured, and writes {job id: {"stdout", "error"}} to the file named second.
SCRIPTS_RUN = r"""
import contextlib, io, json, os, runpy, sys, traceback
jobs, results, done = json.loads(open(sys.argv[1]).read()), sys.argv[2], {}
for job in jobs:
    out = io.StringIO()
    sys.argv, error = [job["script"], *job["args"]], None
    os.chdir(os.path.dirname(job["script"]))
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(job["script"], run_name="__main__")
    except SystemExit as exc:
        error = None if exc.code in (0, None) else f"exit status {exc.code}"
    except BaseException:
        error = traceback.format_exc()[-3000:]
    done[job["id"]] = {"stdout": out.getvalue(), "error": error}
open(results, "w").write(json.dumps(done))
"""


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _steps(case: str) -> int:
    return 1 if case in CHEAP else 0  # the training step runs where it is cheap to compile


ALONE = "digits/default"  # each engine's case run on its own, exactly as a reader runs it


@pytest.fixture(scope="session")
def script_outputs(weights_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> typing.Callable[[str], dict]:
    """engine -> {case: {"stdout", "error"}}: every selected case's generated script for the engine, all in one fresh
    process outside the repository (the framework imported once), run once and kept."""
    cache: dict[str, dict] = {}

    def run(engine: str) -> dict:
        if engine not in cache:
            folder = tmp_path_factory.mktemp(f"scripts-{engine}")
            module = code_generators.generator(engine)
            cases = [c for c in _selected(engine) if c != ALONE and not module.unsupported(CASES[c])]
            jobs = [{"id": case, "args": _script_args(weights_files[case], _steps(case)),
                     "script": str(_write_script(module.generate(CASES[case]), engine, folder / case.replace("/", "-")))}
                    for case in cases]  # fmt: skip
            (folder / "jobs.json").write_text(json.dumps(jobs))
            proc = subprocess.run([sys.executable, "-c", SCRIPTS_RUN, str(folder / "jobs.json"), str(folder / "done.json")],
                                  cwd=folder, env=_script_env(engine), capture_output=True, text=True, timeout=TIMEOUT_S * 4)  # fmt: skip
            assert proc.returncode == 0, proc.stderr[-3000:]
            cache[engine] = json.loads((folder / "done.json").read_text())
        return cache[engine]

    return run


def judge(case: str, engine: str, out: dict[str, object], adapter: dict) -> dict:
    """Measure a script's printed outputs: its parameter count, and max |script - adapter| and |script - reference|,
    with the tolerance they are held to."""
    spec = CASES[case]
    key = "log_probabilities" if "log_probabilities" in out else "logits"
    got = np.asarray(out[key], dtype=np.float64)
    ref = reference.forward(spec.model, init_weights(spec.model, spec.init, spec.train.seed), fixed_input(spec))
    ref = _log_softmax(ref) if key == "log_probabilities" else ref
    downcast = adapter["dtype"] != "float64"
    tol = spec.tolerances.forward32 * max(1.0, float(np.abs(ref).max())) if downcast else spec.tolerances.forward64
    entry = adapter["cases"].get(case, {})
    vs_adapter = float(np.abs(got - entry["logits"]).max()) if "logits" in entry else None
    return {"parameters": out["parameters"], "loss": out.get("loss", []), "vs_reference": float(np.abs(got - ref).max()),
            "vs_adapter": vs_adapter, "adapter_note": entry.get("unsupported") or entry.get("error"), "tol": tol,
            "shape_ok": got.shape == ref.shape}  # fmt: skip


def _pairs() -> list:
    pairs = []
    for engine in ENGINES:
        module = code_generators.generator(engine)
        for case, spec in CASES.items():
            if module.unsupported(spec):
                continue
            marks = [pytest.mark.skipif(heavy(case, engine) and not FULL, reason="heavy: FRAMEBENCH_FULL_CODE_TESTS=1 runs it")]
            pairs.append(pytest.param(case, engine, id=f"{case}-{engine}", marks=marks))
    return pairs


@pytest.mark.parametrize("case, engine", _pairs())
def test_generated_script_matches_adapter_and_reference(case, engine, weights_files, adapter_outputs, script_outputs, tmp_path):
    """The script counts the spec's parameters; its logits equal the adapter's and the reference's within tolerance."""
    spec = CASES[case]
    steps = _steps(case)
    if case == ALONE:
        out = run_script(code_generators.generator(engine).generate(spec), engine, weights_files[case], tmp_path, steps)
    else:
        ran = script_outputs(engine)[case]
        assert ran["error"] is None, f"{case} {engine}:\n{ran['error']}"
        out = _values(ran["stdout"])
    result = judge(case, engine, out, adapter_outputs(engine))
    print(f"\n{case} {engine}: parameters {result['parameters']}, |script - adapter| {result['vs_adapter']}, "
          f"|script - reference| {result['vs_reference']:.3g} (tol {result['tol']:.3g}){'; adapter: ' + result['adapter_note'] if result['adapter_note'] else ''}")  # fmt: skip
    assert result["parameters"] == count_params(spec.model)
    assert result["shape_ok"]
    assert result["vs_reference"] <= result["tol"]
    if result["vs_adapter"] is not None:
        assert result["vs_adapter"] <= result["tol"]
    assert len(result["loss"]) == steps and all(np.isfinite(result["loss"]))


def _keras_forgets_batchnorm_eps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Keras generator that drops BatchNormalization's epsilon= (so Keras' default 1e-3 replaces the spec's 1e-5)."""
    written = keras_code._layers
    monkeypatch.setattr(keras_code, "_layers", lambda *a: [(re.sub(r"epsilon=[^,]*, ", "", code), why) for code, why in written(*a)])


def _pytorch_forgets_flatten_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PyTorch generator that loads the Dense kernel after an image Flatten without permuting its rows to C, H, W."""
    monkeypatch.setattr(pytorch_code, "_after_image_flatten", lambda spec: {})


@pytest.mark.parametrize("engine, inject", [("keras", _keras_forgets_batchnorm_eps), ("pytorch", _pytorch_forgets_flatten_order)])
def test_injected_generator_bug_is_caught(engine, inject, monkeypatch, weights_files, adapter_outputs, tmp_path):
    """One wrong constant or layout in a generator: the script still runs, and its logits miss the tolerance."""
    if engine not in ENGINES:
        pytest.skip(f"{engine} is not installed")
    case = BUG_CASE
    inject(monkeypatch)
    source = code_generators.generator(engine).generate(CASES[case])
    assert source != (monkeypatch.undo() or code_generators.generator(engine).generate(CASES[case]))
    result = judge(case, engine, run_script(source, engine, weights_files[case], tmp_path, 0), adapter_outputs(engine))
    print(f"\ninjected {inject.__name__}: |script - adapter| {result['vs_adapter']:.3g}, |script - reference| {result['vs_reference']:.3g}")
    assert result["vs_reference"] > result["tol"] and result["vs_adapter"] > result["tol"]


def test_every_layer_type_has_an_example_case():
    """Each layer of the spec vocabulary appears in some case, so the checks below see every layer type."""
    seen = {type(layer) for spec in CASES.values() for layer in spec.model.layers}
    assert set(typing.get_args(Layer)) <= seen, sorted(t.__name__ for t in set(typing.get_args(Layer)) - seen)


@pytest.mark.parametrize("engine", ENGINES)
def test_generator_writes_whatever_its_adapter_builds(engine, adapter_outputs):
    """A spec the adapter says it builds (unsupported() is None), its generator writes; and it supports every layer in it."""
    module = code_generators.generator(engine)
    outputs = adapter_outputs(engine)["cases"]
    gaps = [f"{case}: {module.unsupported(CASES[case])}" for case, entry in outputs.items()
            if entry["unsupported"] is None and module.unsupported(CASES[case])]  # fmt: skip
    assert not gaps, gaps
    built = {type(layer) for case, entry in outputs.items() if entry["unsupported"] is None for layer in CASES[case].model.layers}
    assert built <= set(module.SUPPORTED), sorted(t.__name__ for t in built - set(module.SUPPORTED))


def test_write_code_one_file_per_generator(tmp_path):
    """The three Keras engines share keras_model.py; scikit-learn writes nothing for a CNN; each file is generate()'s text."""
    spec = CASES["cifar10/cnn"]
    written = write_code(tmp_path, spec, list(code_generators.GENERATORS))
    assert [p.name for p in written] == ["pytorch_model.py", "keras_model.py", "jax_model.py"]
    for path in written:
        assert path.read_text() == code_generators.generator(path.stem.removesuffix("_model")).generate(spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)  # no temporary file left


def test_side_by_side_shows_each_file_and_marks_the_differences():
    text = side_by_side(CASES["cifar10/cnn"], ["pytorch", "keras", "keras-jax", "jax", "sklearn"], width=60)
    header = text.splitlines()[0]
    assert "pytorch_model.py (pytorch)" in header and "keras_model.py (keras, keras-jax)" in header and "jax_model.py (jax)" in header
    assert "sklearn: no script (MLPClassifier builds Dense + ReLU" in text
    marked = [line for line in text.splitlines() if line.startswith("* ")]  # marks in the first column, PyTorch's
    assert any('"0.weight": w["conv2d_0.kernel"].transpose(3, 2' in line for line in marked)  # HWIO -> OIHW, commented
    assert not any("nn.ReLU()" in line for line in marked)  # a line every engine writes alike is not marked
    assert max(len(line) for line in text.splitlines()) == 3 * 60 + 2 * len(" | ")  # three columns of 60, long lines wrapped


@pytest.mark.parametrize("folder", list(DOCS))
def test_docs_code_is_what_the_generators_write(folder):
    """docs/code/FOLDER holds the generators' current output: regenerate it with write_code when this fails."""
    task, variant = DOCS[folder]
    spec = registry.get(task).variant(variant)
    for name in code_generators.GENERATORS:
        module = code_generators.generator(name)
        path = ROOT / "docs" / "code" / folder / module.FILE_NAME
        assert path.exists() == (module.unsupported(spec) is None), path
        if path.exists():
            assert path.read_text() == module.generate(spec), f"{path} is stale"
