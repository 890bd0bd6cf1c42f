"""weights.npz as untrusted data (issue 22 #6, #7): special files, lying headers, zip bombs, byte order, NaN.

Real files written with NumPy and zipfile; the CLI cases run compare.py in a subprocess.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, run_cli

from tasks import registry
from tasks.init import init_weights
from tasks.spec import param_shapes
from workbench.deploy.weights_file import META_KEY, WeightsFileError, checksum, load_weights, max_file_bytes, save_weights

DIGITS = registry.get("digits").spec
HANG_TIMEOUT_S = 120


@pytest.fixture
def weights():
    """The canonical digits weights (float32)."""
    return {k: v.astype(np.float32) for k, v in init_weights(DIGITS.model, DIGITS.init, 0).items()}


def _meta(weights: dict) -> np.ndarray:
    return np.array(json.dumps({"format": "framebench-weights/1", "spec": "digits", "framework": "test", "sha256": checksum(weights)}))


def _member(zf: zipfile.ZipFile, key: str, header: dict, chunks) -> None:  # noqa: ANN001 - an iterable of bytes
    """One .npy member with this header and these data bytes, whatever the header declares."""
    with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, header)
        for chunk in chunks:
            f.write(chunk)


def _archive(path: Path, weights: dict, replace: str, header: dict, chunks, compression: int = zipfile.ZIP_STORED) -> Path:  # noqa: ANN001
    """weights.npz with member `replace` written by hand (lying header or bomb), the others as np.save writes them."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for key, value in {**weights, META_KEY: _meta(weights)}.items():
            if key == replace:
                _member(zf, key, header, chunks)
            else:
                with zf.open(f"{key}.npy", "w") as f:
                    np.lib.format.write_array(f, value)
    return path


def test_a_valid_file_loads(weights, tmp_path):
    save_weights(tmp_path / "w.npz", weights, "digits", "test")
    loaded = load_weights(tmp_path / "w.npz", DIGITS.model, "digits")
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights)


def test_a_header_declaring_1e12_floats_is_refused_unread(weights, tmp_path):
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
    path = _archive(tmp_path / "w.npz", weights, "dense_0.kernel", header, [weights["dense_0.kernel"].tobytes()])
    assert path.stat().st_size < 30_000
    with pytest.raises(WeightsFileError, match="declares \\(1000000000000,\\) float32 .* refused unread"):
        load_weights(path, DIGITS.model, "digits")


def test_a_zip_bomb_is_refused_before_it_is_inflated(weights, tmp_path):
    """256 MiB of zeros in ~250 KB: the declared size is above what the spec's shapes allow."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (1 << 26,)}
    chunks = (bytes(1 << 22) for _ in range(64))
    path = _archive(tmp_path / "w.npz", weights, "dense_0.kernel", header, chunks, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < max_file_bytes(param_shapes(DIGITS.model))  # small enough to be opened
    with pytest.raises(WeightsFileError, match="refused before inflating"):
        load_weights(path, DIGITS.model, "digits")


def test_a_member_whose_declared_size_lies_is_refused(weights, tmp_path):
    """The npy header says (64, 64) float32 but the entry holds half of that: refused before reading it."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (64, 64)}
    path = _archive(tmp_path / "w.npz", weights, "dense_0.kernel", header, [weights["dense_0.kernel"].tobytes()[:8192]])
    with pytest.raises(WeightsFileError, match="refused unread"):
        load_weights(path, DIGITS.model, "digits")


def test_a_wrong_shape_is_refused_from_its_header(weights, tmp_path):
    bad = {**weights, "dense_2.bias": np.zeros(11, np.float32)}
    np.savez(tmp_path / "w.npz", **bad, **{META_KEY: _meta(bad)})
    with pytest.raises(WeightsFileError, match=r"dense_2.bias has shape \(11,\), spec 'digits' needs \(10,\)"):
        load_weights(tmp_path / "w.npz", DIGITS.model, "digits")


def test_big_endian_arrays_are_converted_to_native_order(weights, tmp_path):
    big = {k: v.astype(">f4") for k, v in weights.items()}
    np.savez(tmp_path / "w.npz", **big, **{META_KEY: _meta(weights)})
    loaded = load_weights(tmp_path / "w.npz", DIGITS.model, "digits")
    assert all(loaded[k].dtype.isnative and np.array_equal(loaded[k], weights[k]) for k in weights)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(weights, tmp_path, value):
    weights["dense_0.kernel"][3, 5] = value
    np.savez(tmp_path / "w.npz", **weights, **{META_KEY: _meta(weights)})  # a checksum that matches
    with pytest.raises(WeightsFileError, match="dense_0.kernel holds NaN or infinite values"):
        load_weights(tmp_path / "w.npz", DIGITS.model, "digits")


def test_an_object_meta_member_is_refused_unread(weights, tmp_path):
    np.savez(tmp_path / "w.npz", **weights, **{META_KEY: np.array([{"format": 1}], dtype=object)})
    with pytest.raises(WeightsFileError, match="object array"):
        load_weights(tmp_path / "w.npz", DIGITS.model, "digits")


@pytest.mark.parametrize("make", ["fifo", "dev-zero", "folder"])
def test_a_special_file_is_refused(tmp_path, make):
    path = tmp_path / "w.npz"
    {"fifo": lambda: os.mkfifo(path), "dev-zero": lambda: os.symlink("/dev/zero", path), "folder": path.mkdir}[make]()
    with pytest.raises(WeightsFileError, match="not a regular file"):
        load_weights(path, DIGITS.model, "digits")


def test_import_weights_of_a_fifo_exits_3_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "w.npz")
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--epochs", "0", "--import-weights", str(tmp_path / "w.npz"),
                   timeout=HANG_TIMEOUT_S)  # fmt: skip
    assert_one_line_error(proc, 3, "w.npz: a FIFO, not a regular file")


def test_import_weights_with_nan_exits_3(weights, tmp_path):
    weights["dense_2.bias"][0] = np.nan
    np.savez(tmp_path / "w.npz", **weights, **{META_KEY: _meta(weights)})
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--epochs", "0", "--import-weights", str(tmp_path / "w.npz"))
    assert_one_line_error(proc, 3, "dense_2.bias holds NaN or infinite values")


def test_big_endian_weights_evaluate_in_pytorch(weights, tmp_path):
    """Before: the check passed and the PyTorch row failed on the big-endian tensor; now it is converted up front."""
    big = {k: v.astype(">f4") for k, v in weights.items()}
    np.savez(tmp_path / "w.npz", **big, **{META_KEY: _meta(weights)})
    out = tmp_path / "r.json"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--epochs", "0", "--quiet", "--output", str(out),
                   "--import-weights", str(tmp_path / "w.npz"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(out.read_text())["results"]
    assert row["status"] == "ok" and np.isfinite(row["test_loss"])
