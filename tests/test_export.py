"""--export, --import-weights and --verify-export with real files, real child processes and real ONNX Runtime.

One end-to-end digits run (PyTorch, Keras and scikit-learn, one epoch, signed) is shared with test_export_security;
the cross-framework ONNX check builds both adapters in this process from the same canonical weights.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, run_cli
from shared_runs import digits_export
from tiny_specs import MODELS, tiny_task

from frameworks.base import RunSettings
from tasks import reference, registry
from tasks.init import init_weights
from workbench.deploy.checks import ATOL, RTOL
from workbench.deploy.manifest import MANIFEST, file_hash
from workbench.deploy.weights_file import META_KEY, WeightsFileError, load_weights, save_weights

TESTS = Path(__file__).resolve().parent
ARTIFACTS = {
    "pytorch": ["weights.npz", "state_dict.pt", "model.pt2", "model.onnx"],
    "keras": ["weights.npz", "model.keras", "saved_model", "model.onnx"],
}
DIGITS = registry.get("digits").spec
SETTINGS = RunSettings(device="cpu", threads=1, progress=False)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shared digits export run (shared_runs.digits_export: one epoch, PyTorch, Keras and scikit-learn, signed):
    (process, export folder, rows by framework)."""
    proc, folder, _, out = digits_export(tmp_path_factory)
    rows = {r["framework"]: r for r in json.loads(out.read_text())["results"]} if out.exists() else {}
    return proc, folder, rows


def test_every_artifact_is_written_and_reloads_within_float32_tolerance(exported):
    proc, folder, rows = exported
    assert proc.returncode == 0, proc.stderr
    assert "Exports (--export)" in proc.stdout and "Traceback" not in proc.stderr
    for framework, names in ARTIFACTS.items():
        row_folder = folder / f"digits-{framework}-spec"
        records = {a["artifact"]: a for a in rows[framework]["exports"]}
        assert list(records) == names
        for name, record in records.items():
            assert record["status"] == "ok", record
            assert (row_folder / name).exists() and record["size_bytes"] > 0
            assert record["max_abs"] <= ATOL and (record["atol"], record["rtol"]) == (ATOL, RTOL)
            assert record["latency_ms_p50"] > 0 and record["infer_throughput"] > 0
        assert sorted(p.name for p in row_folder.iterdir()) == sorted([*names, "check.npz", MANIFEST])
    # Pitfall: torch.onnx.export(dynamo=True) puts the weights in model.onnx.data unless external_data=False
    sizes = {a["artifact"]: a["size_bytes"] for a in rows["pytorch"]["exports"]}
    assert sizes["model.onnx"] > 0.8 * sizes["weights.npz"]
    onnx_routes = {rows[f]["exports"][3]["route"] for f in ARTIFACTS}
    assert "torch.onnx.export(dynamo=True)" in onnx_routes  # the dynamo path, not the fallback, on this MLP


def test_keras_file_loads_without_framebench_classes(exported):
    """Pitfall: the compiled model's .keras names the torch-style Adam; the artifact is an uncompiled copy."""
    _, folder, _ = exported
    with zipfile.ZipFile(folder / "digits-keras-spec" / "model.keras") as archive:
        config = json.loads(archive.read("config.json"))
    assert not config.get("compile_config") and "AdamCorrectedEps" not in json.dumps(config)


def test_a_compiled_keras_model_with_the_torch_style_adam_does_not_reload(tmp_path):
    """Why model.keras is an uncompiled copy: the compiled model's file names an unregistered optimizer class."""
    import keras

    from frameworks import keras as keras_adapter

    spec, weights, _ = _weights("mlp", None)
    network = keras_adapter.create(spec, SETTINGS)
    network.build(weights)
    network.model.save(tmp_path / "compiled.keras")
    with pytest.raises(TypeError, match=r"Could not locate class '\w*AdamCorrectedEps'"):
        keras.saving.load_model(tmp_path / "compiled.keras", safe_mode=True)
    keras_adapter.export(network, "model.keras", str(tmp_path / "model.keras"))
    assert keras.saving.load_model(tmp_path / "model.keras", safe_mode=True, compile=False).count_params() == network.num_params()


def test_weights_trained_in_pytorch_give_keras_the_same_test_accuracy(exported, tmp_path):
    _, folder, rows = exported
    out = tmp_path / "keras.json"
    proc = run_cli("--task", "digits", "--frameworks", "keras", "--epochs", "0", "--quiet", "--output", str(out),
                   "--import-weights", str(folder / "digits-pytorch-spec" / "weights.npz"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [keras_row] = json.loads(out.read_text())["results"]
    assert keras_row["epochs"] == 0
    assert abs(keras_row["test_acc"] - rows["pytorch"]["test_acc"]) <= 1e-4  # 0.01 points
    assert abs(keras_row["test_loss"] - rows["pytorch"]["test_loss"]) <= 1e-5


def _tampered(source: Path, target: Path, change) -> Path:  # noqa: ANN001 - change(arrays, meta) edits in place
    with np.load(source, allow_pickle=False) as stored:
        arrays = {k: stored[k] for k in stored.files}
    meta = json.loads(str(arrays.pop(META_KEY)))
    change(arrays, meta)
    np.savez(target, **arrays, **{META_KEY: np.array(json.dumps(meta))})
    return target


def _shift(arrays: dict, meta: dict) -> None:
    arrays["dense_0.kernel"] = arrays["dense_0.kernel"] + 1e-3


def _reshape(arrays: dict, meta: dict) -> None:
    arrays["dense_2.bias"] = np.zeros(11, np.float32)


def _rename(arrays: dict, meta: dict) -> None:
    meta["spec"] = "mnist"


def _drop(arrays: dict, meta: dict) -> None:
    del arrays["dense_2.bias"]


@pytest.mark.parametrize(("change", "fragment"), [(_shift, "checksum mismatch"), (_reshape, "dense_2.bias has shape (11,)"),
                                                  (_rename, "spec 'mnist', not 'digits'"), (_drop, "missing dense_2.bias")])  # fmt: skip
def test_a_tampered_weights_file_is_refused(exported, tmp_path, change, fragment):
    weights = _tampered(exported[1] / "digits-pytorch-spec" / "weights.npz", tmp_path / "w.npz", change)
    with pytest.raises(WeightsFileError, match=re.escape(fragment)):
        load_weights(weights, DIGITS.model, "digits")


def test_a_truncated_weights_file_exits_3(exported, tmp_path):
    data = (exported[1] / "digits-pytorch-spec" / "weights.npz").read_bytes()
    (tmp_path / "w.npz").write_bytes(data[: len(data) // 2])
    proc = run_cli("--task", "digits", "--frameworks", "keras", "--epochs", "0", "--import-weights", str(tmp_path / "w.npz"))
    assert_one_line_error(proc, 3, "w.npz", "truncated or corrupt")


def test_a_pickle_inside_weights_exits_3_and_never_runs(tmp_path):
    """An object array is a pickle: np.load(allow_pickle=False) refuses it; the payload never runs."""
    marker = tmp_path / "pwned"
    weights = init_weights(DIGITS.model, DIGITS.init, 0)
    save_weights(tmp_path / "w.npz", weights, "digits", "test")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as stored:
        arrays = {k: stored[k] for k in stored.files}
    arrays["dense_0.kernel"] = np.array([Payload(str(marker))], dtype=object)
    np.savez(tmp_path / "w.npz", **arrays)  # np.savez pickles the object array
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--epochs", "0", "--import-weights", str(tmp_path / "w.npz"))
    assert_one_line_error(proc, 3, "w.npz: refused", "allow_pickle=False")
    assert not marker.exists()


class Payload:
    """Unpickling this creates a file: the proof that a loader executed code from the file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):  # noqa: ANN204
        return (Path(self.path).touch, ())


def test_an_unwritable_export_folder_exits_2_before_any_row():
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--export", "/proc/framebench-exports")
    assert_one_line_error(proc, 2, "--export folder /proc/framebench-exports cannot be created")


def test_epochs_0_needs_import_weights():
    assert_one_line_error(run_cli("--task", "digits", "--epochs", "0"), 2, "--epochs 0", "--import-weights")


def test_a_truncated_artifact_fails_verify_export_with_exit_3(exported, tmp_path):
    copy = shutil.copytree(exported[1] / "digits-pytorch-spec", tmp_path / "row")
    onnx = copy / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:100])
    assert_one_line_error(run_cli("--verify-export", str(copy)), 3, "model.onnx", "truncated or changed")


def test_a_pickle_artifact_with_a_matching_manifest_is_refused_by_the_loader(exported, tmp_path):
    """Even with its hash in the manifest, state_dict.pt is read by torch.load(weights_only=True): no code runs."""
    copy = shutil.copytree(exported[1] / "digits-pytorch-spec", tmp_path / "row")
    marker = tmp_path / "pwned"
    (copy / "state_dict.pt").write_bytes(pickle.dumps(Payload(str(marker))))
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["files"]["state_dict.pt"] = file_hash(copy / "state_dict.pt")
    (copy / MANIFEST).write_text(json.dumps(manifest))
    proc = run_cli("--verify-export", str(copy), "--trust-artifacts")  # unsigned: the loader is reached only when trusted
    assert_one_line_error(proc, 3, "state_dict.pt: reload failed")
    assert not marker.exists()


def test_a_failing_artifact_stays_in_its_cell(tmp_path):
    """Real child processes on two plugin adapters: each export failure is its own cell, every row completes."""
    out = tmp_path / "results.json"
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p),
           "FRAMEBENCH_EXTRA_FRAMEWORKS": "works=fault_adapters.working,exporting=fault_adapters.exporting"}  # fmt: skip
    proc = run_cli("--task", "digits", "--frameworks", "exporting,works", "--epochs", "1", "--quiet",
                   "--export", str(tmp_path / "exports"), "--output", str(out), env=env)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    rows = {r["framework"]: r for r in json.loads(out.read_text())["results"]}
    assert [r["status"] for r in rows.values()] == ["ok", "ok"]
    status = {a["artifact"]: a["status"] for a in rows["exporting"]["exports"]}
    assert status["weights.npz"] == status["good.npz"] == "ok"
    assert status["drifted.npz"] == "FAIL"
    assert status["broken.bin"] == "export failed: RuntimeError: disk on fire"
    assert status["needs.pkg"] == "skipped: not installed: framebench_no_such_package"
    assert not (tmp_path / "exports" / "digits-exporting-spec" / "broken.bin").exists()  # no half-written file
    assert {a["artifact"]: a["status"] for a in rows["works"]["exports"]}["(native formats)"] == "skipped: works has no export"
    assert "export failed: RuntimeError: disk on fire" in proc.stdout


# ---------------------------------------------------------------- the same weights through both ONNX exporters


def _weights(name: str, exported) -> tuple:  # noqa: ANN001
    """(spec, canonical weights, X): digits with PyTorch's trained weights, or a tiny spec (BatchNorm statistics drawn)."""
    rng = np.random.default_rng(1)
    if name == "digits":
        spec = DIGITS
        weights = load_weights(exported[1] / "digits-pytorch-spec" / "weights.npz", spec.model, "digits")
        return spec, weights, registry.get("digits").load(None).X_test[:50]
    spec = tiny_task(MODELS[name])
    weights = init_weights(spec.model, spec.init, 0)
    for key in weights:
        if key.endswith("moving_mean"):
            weights[key] = rng.normal(0, 0.5, weights[key].shape).astype(np.float32)
        elif key.endswith("moving_var"):
            weights[key] = rng.uniform(0.5, 2.0, weights[key].shape).astype(np.float32)
    if spec.model.input_dtype == "int":
        return spec, weights, rng.integers(0, 11, (50, *spec.model.input_shape))
    return spec, weights, rng.standard_normal((50, *spec.model.input_shape)).astype(np.float32)


@pytest.mark.parametrize("name", ["digits", "cnn", "rnn"])
def test_pytorch_and_keras_onnx_agree_with_each_other_and_the_reference(name, exported, tmp_path):
    """The two ONNX exporters that fit in this process: Keras holds one backend per process, so keras-jax and
    keras-torch would each need a child (keras-jax's export path is tested in one below)."""
    from frameworks import keras as keras_adapter
    from frameworks import pytorch as torch_adapter

    spec, weights, X = _weights(name, exported)
    expected = reference.forward(spec.model, weights, X)
    logits = {}
    for adapter in (torch_adapter, keras_adapter):
        network = adapter.create(spec, SETTINGS)
        network.build(weights)
        path = str(tmp_path / f"{adapter.NAME}.onnx")
        adapter.export(network, "model.onnx", path)
        logits[adapter.NAME] = adapter.load("model.onnx", path, spec, SETTINGS)(X)
    for got in logits.values():
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits["pytorch"], logits["keras"], rtol=1e-5, atol=1e-5)


def test_pytorch_exported_in_training_mode_would_use_batch_statistics(tmp_path):
    """Pitfall: a module exported in train() mode normalises with each batch's statistics; export() sets eval()."""
    import torch

    from frameworks import pytorch as torch_adapter

    spec, weights, X = _weights("cnn", None)
    network = torch_adapter.create(spec, SETTINGS)
    network.build(weights)
    expected = reference.forward(spec.model, weights, X)
    network.model.train()
    program = torch.export.export(network.model, (network._inputs(X),)).module()
    with torch.no_grad():
        assert np.max(np.abs(program(network._inputs(X)).numpy() - expected)) > 1e-2  # batch statistics, not running ones
    network = torch_adapter.create(spec, SETTINGS)  # that call also moved the shared running statistics
    network.build(weights)
    network.model.train()  # export() must switch to eval itself
    torch_adapter.export(network, "model.pt2", str(tmp_path / "m.pt2"))
    got = torch_adapter.load("model.pt2", str(tmp_path / "m.pt2"), spec, SETTINGS)(X)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["mlp", "rnn"])
def test_the_exported_program_takes_batch_1_and_batch_1000(name, tmp_path):
    """Pitfall: an example batch of 1 is specialised to a constant; export() traces a batch of 2 with a dynamic dim.
    (nn.LSTM also warns that its _flat_weights "were assigned during export"; the program is still exact.)"""
    from frameworks import pytorch as torch_adapter

    spec, weights, _ = _weights(name, None)
    network = torch_adapter.create(spec, SETTINGS)
    network.build(weights)
    torch_adapter.export(network, "model.pt2", str(tmp_path / "m.pt2"))
    predict = torch_adapter.load("model.pt2", str(tmp_path / "m.pt2"), spec, SETTINGS)
    for n in (1, 1000):
        rng = np.random.default_rng(n)
        X = rng.integers(0, 11, (n, 7)) if name == "rnn" else rng.standard_normal((n, 12)).astype(np.float32)
        np.testing.assert_allclose(predict(X), reference.forward(spec.model, weights, X), rtol=1e-5, atol=1e-5)


def test_a_batch_1_example_cannot_give_a_dynamic_batch():
    """The pitfall behind export()'s batch-of-2 example: torch.export specialises a size-1 dimension to 1."""
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    with pytest.raises(Exception, match="specialized it to be a constant"):
        torch.export.export(model, (torch.zeros(1, 4),), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    static = torch.export.export(model, (torch.zeros(1, 4),)).module()
    with pytest.raises(Exception, match="Guard failed"):
        static(torch.zeros(5, 4))


def test_torchscript_is_deprecated_in_favour_of_torch_export():
    """docs/deployment.md: what the installed torch says to a tutorial that still teaches TorchScript."""
    import warnings

    import torch

    model = torch.nn.Linear(2, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.script(model)
        torch.jit.trace(model, torch.zeros(1, 2))
    messages = {str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)}
    for api in ("torch.jit.script", "torch.jit.trace"):
        assert f"`{api}` is deprecated. Please switch to `torch.compile` or `torch.export`." in messages


KERAS_JAX_EXPORT = """
import sys, tempfile
from frameworks.base import RunSettings, load_adapter_module
keras_jax = load_adapter_module("keras-jax")
from tasks.init import init_weights
sys.path.insert(0, "tests")
from tiny_specs import MODELS, tiny_task
import numpy as np
spec = tiny_task(MODELS["mlp"])
network = keras_jax.create(spec, RunSettings(progress=False))
network.build(init_weights(spec.model, spec.init, 0))
network.predict(np.zeros((3, 12), np.float32))
print("called after predict:", network.model._called)
try:
    keras_jax.export(network, "model.onnx", tempfile.mkdtemp() + "/m.onnx")
    print("exported")
except Exception as exc:
    print("export:", type(exc).__name__, exc)
"""


def test_keras_on_jax_predict_leaves_the_model_uncalled_for_export():
    """Pitfall: on JAX, predict() runs stateless_call, so model.export(format="onnx") would say "never called";
    export() calls the model once. The conversion itself then needs jax2onnx (skipped where it is missing)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", KERAS_JAX_EXPORT], cwd=TESTS.parent, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "JAX_PLATFORMS": "cpu"})  # fmt: skip
    assert "called after predict: False" in proc.stdout, proc.stderr
    assert "never called" not in proc.stdout
    assert "exported" in proc.stdout or "requires the jax2onnx module" in proc.stdout, proc.stdout


def test_export_table_golden():
    """The table is a pure function of the results: a long failure reason is cut in its cell, never lost in the JSON."""
    from workbench.deploy.table import export_table
    from workbench.run.result import ArtifactRecord, RunResult

    records = [
        ArtifactRecord("model.onnx", route="export()", form="ONNX Runtime", size_bytes=2048, export_s=1.5, max_abs=3e-6,
                       max_rel=2e-7, atol=1e-5, rtol=1e-5, latency_ms_p50=0.0123, latency_ms_p95=0.02, infer_throughput=12345.6),
        ArtifactRecord("broken.bin", status="export failed: RuntimeError: " + "x" * 120),
        ArtifactRecord("needs.pkg", status="skipped: not installed: onnx", form="ONNX Runtime"),
    ]  # fmt: skip
    lines = export_table([RunResult(task="t", framework="fw", model="m", exports=records)], "plain").splitlines()
    cells = [line.split() for line in lines]
    assert cells[0][:6] == ["framework", "model", "artifact", "route", "size", "export"]
    assert cells[1][:7] == ["fw", "m", "model.onnx", "export()", "2.0", "KB", "1.5"]
    assert "ok (max abs 3e-06, rel 2e-07; tol 1e-05 + 1e-05|x|)" in lines[1] and lines[1].split()[-3:] == ["0.0123", "0.02", "12,346"]
    assert "export failed: RuntimeError: " + "x" * 68 + "..." in lines[2]
    assert "skipped: not installed: onnx" in lines[3]
