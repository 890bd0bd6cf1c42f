"""--verify-export against a folder someone else could edit (issue 22 #1, #6, #8): real exports, real child processes,
real ONNX Runtime and TensorFlow.

One digits export of PyTorch, Keras and scikit-learn (one epoch), signed with a key, is shared with test_export. Each case
edits a copy as an attacker (or an accident) would, and is verified with and without the key.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, run_cli
from shared_runs import digits_export

from workbench.deploy.manifest import MANIFEST, file_hash
from workbench.deploy.signing import SIGNATURE

HANG_TIMEOUT_S = 120  # a FIFO or /dev/zero read blocks forever: the CLI must answer long before this


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """(export folder, key file, unsigned export folder): the signed rows of the shared digits export run
    (shared_runs.digits_export: PyTorch, Keras and scikit-learn), and a copy of the MLPClassifier row without signature."""
    proc, signed, key, _ = digits_export(tmp_path_factory)
    assert proc.returncode == 0, proc.stderr
    [sklearn] = signed.glob("digits-sklearn-*")  # the MLPClassifier row
    unsigned = shutil.copytree(sklearn, tmp_path_factory.mktemp("security") / "unsigned" / sklearn.name)
    manifest = json.loads((unsigned / MANIFEST).read_text())
    del manifest[SIGNATURE]
    (unsigned / MANIFEST).write_text(json.dumps(manifest))
    return signed, key, unsigned.parent


def _row(export, name: str) -> Path:
    """The signed export folder of this framework's row."""
    [folder] = export[0].glob(f"digits-{name}-*")
    return folder


def _copy(export, name: str, tmp_path: Path) -> Path:
    return shutil.copytree(_row(export, name), tmp_path / name)


def _edit(folder: Path, change) -> None:  # noqa: ANN001 - change(manifest dict) edits it in place
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def _rehash(folder: Path, *names: str) -> None:
    """What a forger does after replacing files: recompute their sha256 in export.json (the signature stays stale)."""
    _edit(folder, lambda m: m["files"].update({name: file_hash(folder / name) for name in names}))


def _verify(folder: Path, key: Path | None, *extra: str, timeout: float = 600):  # noqa: ANN202
    return run_cli("--verify-export", str(folder), *(["--signing-key", str(key)] if key else []), *extra, timeout=timeout)


def test_a_signed_export_verifies_with_its_key_and_loads_the_saved_model(export):
    proc = _verify(_row(export, "keras"), export[1])
    assert proc.returncode == 0, proc.stderr
    assert "saved_model" in proc.stdout and "refused" not in proc.stdout
    assert proc.stderr.strip() == ""  # signed: no caveat line


def test_a_wrong_key_is_refused(export, tmp_path):
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    assert_one_line_error(_verify(export[0], other), 3, "signature does not match")


def test_a_short_key_file_is_refused(export, tmp_path):
    (tmp_path / "short.key").write_bytes(b"secret")
    assert_one_line_error(_verify(export[0], tmp_path / "short.key"), 3, "fewer than 16", "/dev/urandom")


def test_swapped_onnx_with_a_rehashed_manifest(export, tmp_path):
    """Another model's model.onnx: the key refuses the edit; without it, only check.npz's logits catch it (FAIL)."""
    folder = _copy(export, "pytorch", tmp_path)
    shutil.copy(_row(export, "keras") / "model.onnx", folder / "model.onnx")
    _rehash(folder, "model.onnx")
    assert_one_line_error(_verify(folder, export[1]), 3, "signature does not match")
    proc = _verify(folder, None, "--trust-artifacts")
    assert proc.returncode == 4, proc.stderr
    assert "FAIL" in next(line for line in proc.stdout.splitlines() if " model.onnx " in line)


def test_swapped_onnx_and_check_file_is_a_forgery_only_the_key_catches(export, tmp_path):
    """A consistent forgery (model.onnx and check.npz of another model, the others dropped): without a key it passes,
    and the one-line note says that hashes cannot catch forgery."""
    folder = _copy(export, "pytorch", tmp_path)
    for name in ("model.onnx", "check.npz"):
        shutil.copy(_row(export, "keras") / name, folder / name)
    _rehash(folder, "model.onnx", "check.npz")
    _edit(folder, lambda m: m.update(artifacts=[a for a in m["artifacts"] if a["artifact"] == "model.onnx"]))
    assert_one_line_error(_verify(folder, export[1]), 3, "signature does not match")
    proc = _verify(folder, None)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "accidental corruption" in lines[0] and "not forgery" in lines[0], proc.stderr


def test_an_artifact_without_a_hash_entry_is_refused(export, tmp_path):
    folder = _copy(export, "pytorch", tmp_path)
    shutil.copy(_row(export, "keras") / "model.onnx", folder / "model.onnx")
    _edit(folder, lambda m: m["files"].pop("model.onnx"))
    assert_one_line_error(_verify(folder, None), 3, "model.onnx: no sha256 for it")
    assert_one_line_error(_verify(folder, export[1]), 3, "signature does not match")


def _file_writing_saved_model(path: Path, weights: Path, marker: Path) -> None:
    """A SavedModel whose serving function writes `marker`, then returns the right logits (from weights.npz)."""
    tf = pytest.importorskip("tensorflow")
    w = np.load(weights)

    class Writer(tf.Module):
        def __init__(self):
            super().__init__()
            self.k0, self.b0 = tf.Variable(w["dense_0.kernel"]), tf.Variable(w["dense_0.bias"])
            self.k2, self.b2 = tf.Variable(w["dense_2.kernel"]), tf.Variable(w["dense_2.bias"])

        @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(marker), "written by a SavedModel graph")
            return tf.matmul(tf.nn.relu(tf.matmul(x, self.k0) + self.b0), self.k2) + self.b2

    tf.saved_model.save(Writer(), str(path))


def test_a_saved_model_that_writes_a_file_never_runs(export, tmp_path):
    folder = _copy(export, "keras", tmp_path)
    marker = tmp_path / "pwned"
    shutil.rmtree(folder / "saved_model")
    _file_writing_saved_model(folder / "saved_model", folder / "weights.npz", marker)
    _rehash(folder, "saved_model")
    assert_one_line_error(_verify(folder, export[1]), 3, "signature does not match")
    assert not marker.exists()
    assert_one_line_error(_verify(folder, None), 3, "saved_model: refused", "tf.saved_model.load", "--trust-artifacts")
    assert not marker.exists()


def test_an_unsigned_export_is_refused_under_a_key_and_notes_its_limits_without(export):
    [folder] = export[2].iterdir()
    assert_one_line_error(_verify(folder, export[1]), 3, "not signed")
    proc = _verify(folder, None)
    assert proc.returncode == 0, proc.stderr
    assert "mlp_coefficients.npz" in proc.stdout and "ok (max abs" in proc.stdout
    assert "not forgery" in proc.stderr


def test_an_unsigned_pickle_is_refused_unread_and_with_trust_its_loader_refuses_it(export, tmp_path):
    """state_dict.pt is unpickled (torch.load(weights_only=True)): unsigned, it is not loaded at all."""
    folder = _copy(export, "pytorch", tmp_path)
    marker = tmp_path / "pwned"
    (folder / "state_dict.pt").write_bytes(pickle.dumps(Payload(str(marker))))
    _rehash(folder, "state_dict.pt")
    _edit(folder, lambda m: m.update(artifacts=[a for a in m["artifacts"] if a["artifact"] == "state_dict.pt"]))
    assert_one_line_error(_verify(folder, None), 3, "state_dict.pt: refused", "--trust-artifacts")
    assert_one_line_error(_verify(folder, None, "--trust-artifacts"), 3, "state_dict.pt: reload failed")
    assert not marker.exists()


class Payload:
    """Unpickling this creates a file: the proof that a loader executed code from the file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):  # noqa: ANN204
        return (Path(self.path).touch, ())


# ---------------------------------------------------------------- special files: no hang (#6)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.unlink()
    os.symlink("/dev/zero", path)


@pytest.mark.parametrize("make", [_fifo, _dev_zero], ids=["fifo", "dev-zero"])
@pytest.mark.parametrize("name", ["model.onnx", MANIFEST])
@pytest.mark.parametrize("given", ["folder", "parent"])
def test_a_special_file_is_refused_without_hanging(export, tmp_path, make, name, given):
    folder = _copy(export, "pytorch", tmp_path / "exports")
    make(folder / name)
    target = folder if given == "folder" else folder.parent
    proc = _verify(target, None, timeout=HANG_TIMEOUT_S)
    kind = "a FIFO" if make is _fifo else "a symbolic link"
    assert_one_line_error(proc, 3, f"{name}: {kind}", "refused")


def test_a_special_file_inside_the_saved_model_folder_is_refused(export, tmp_path):
    folder = _copy(export, "keras", tmp_path)
    os.mkfifo(folder / "saved_model" / "extra")
    assert_one_line_error(_verify(folder, export[1], timeout=HANG_TIMEOUT_S), 3, "a FIFO inside", "saved_model")


# ---------------------------------------------------------------- malformed manifests: a data error, never exit 1 (#8)


def _object_check(folder: Path) -> None:
    np.savez(folder / "check.npz", X=np.array([{"a": 1}], dtype=object), logits=np.zeros((1, 10)))
    _rehash(folder, "check.npz")


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda f: _edit(f, lambda m: m.pop("artifacts")), "no 'artifacts' field"),
    (lambda f: _edit(f, lambda m: m.pop("framework")), "no 'framework' field"),
    (lambda f: _edit(f, lambda m: m.update(artifacts="model.onnx")), "'artifacts' is str, not list"),
    (lambda f: _edit(f, lambda m: m["artifacts"][0].update(extra=1)), "unknown field 'extra'"),
    (lambda f: _edit(f, lambda m: m["artifacts"][0].update(size_bytes="big")), "'size_bytes' is str"),
    (lambda f: _edit(f, lambda m: m.update(framework="nonesuch")), "framework 'nonesuch' is not one of"),
    (lambda f: _edit(f, lambda m: m["files"].update({"../x": "0" * 64})), "'../x' is not a file name"),
    (lambda f: _edit(f, lambda m: m["request"].update(spec="{}")), "spec is not a task spec"),
    (lambda f: (f / MANIFEST).write_text("[" * 100_000), "not a readable export manifest"),
    (_object_check, "object array"),
], ids=["no-artifacts", "no-framework", "artifacts-string", "extra-field", "field-type", "framework", "path",
        "spec", "deep-json", "object-check"])  # fmt: skip
def test_a_malformed_manifest_is_a_one_line_data_error(export, tmp_path, change, fragment):
    folder = _copy(export, "pytorch", tmp_path)
    change(folder)
    assert_one_line_error(_verify(folder, None), 3, fragment)
