"""Tests for tasks.datasets on tiny generated files in the real formats, then on the real data if present."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import pickletools
import struct
import urllib.request
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest_data import cifar_batch, make_aclimdb, make_cifar_folder, make_tar, py2_pickle, real_data_dir, write_idx

from tasks import datasets
from tasks.datasets import (DataError, load_cifar10, load_imdb_npz, load_imdb_reviews, load_mnist,
                            read_idx)


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path) -> Path:
    """Own cache, offline, no network. FRAMEBENCH_DATA is kept only for real_data_dir() to read."""
    monkeypatch.setenv("FRAMEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FRAMEBENCH_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path / "cache"


@pytest.fixture
def data(monkeypatch, tmp_path) -> Path:
    """An empty data dir, the only one searched besides the test's cache."""
    monkeypatch.delenv("FRAMEBENCH_DATA", raising=False)
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


class Evil:
    """Unpickling this runs a shell command: a loader must refuse it before anything runs."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# ------------------------------------------------------------------ IDX / MNIST


def test_read_idx_good(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write_idx(tmp_path / "x.gz", arr))
    assert out.dtype == np.uint8 and np.array_equal(out, arr) and out.flags.writeable


@pytest.mark.parametrize("kind, match", [
    ("magic", r"bad IDX magic 0x00000703"),
    ("short", r"has 23 data bytes but its header \(2, 3, 4\) needs 24"),
    ("truncated", r"is not a complete gzip file"),
    ("not_gzip", r"is not a complete gzip file"),
])
def test_read_idx_bad(tmp_path, kind, match):
    arr = np.zeros((2, 3, 4), np.uint8)
    path = tmp_path / "x.gz"
    if kind == "magic":
        write_idx(path, arr, magic=bytes([0, 0, 7, 3]))  # 7: no such IDX type
    elif kind == "short":
        path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 4) + bytes(23)))
    elif kind == "truncated":
        write_idx(path, np.arange(5000, dtype=np.uint8).reshape(50, 100), truncate=30)
    else:
        path.write_bytes(b"\x00\x00\x08\x01" + bytes(10))
    with pytest.raises(DataError, match=match) as e:
        read_idx(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_mnist_checksum_mismatch_names_the_file(data):
    write_idx(data / "mnist" / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"mnist/train-images-idx3-ubyte\.gz has \d+ bytes, expected 9,912,422"):
        load_mnist(data)


def test_mnist_missing_offline(data, env):
    with pytest.raises(DataError) as e:
        load_mnist(data)
    assert "train-images-idx3-ubyte.gz not found" in str(e.value)
    assert "also unavailable: train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels" in str(e.value)
    assert str(data / "mnist") in str(e.value) and str(env / "mnist") in str(e.value)


# ------------------------------------------------------------------ CIFAR-10


def test_cifar_tiny_folder_layout_and_warnings(data):
    folder = make_cifar_folder(data, n_train=4, n_test=3)
    d = load_cifar10(data)
    assert d.X_train.shape == (20, 32, 32, 3) and d.X_test.shape == (3, 32, 32, 3)
    assert d.X_train.dtype == np.uint8 and d.y_train.dtype == np.int64 and d.X_train.flags.c_contiguous
    raw = cifar_batch(4, seed=1)
    h, w = 5, 7  # pixel (h, w) of channel c sits at c*1024 + h*32 + w in a row
    assert [d.X_train[1, h, w, c] for c in range(3)] == [raw[b"data"][1, c * 1024 + h * 32 + w] for c in range(3)]
    assert d.y_train[:4].tolist() == raw[b"labels"]
    assert not d.canonical and d.source == str(folder)
    assert "training set has 20 images, not 50000" in d.warnings[0]
    assert d.warnings[1].startswith("CIFAR-10 test set has 3 images, not 10000 (partial copy)")


@pytest.mark.parametrize("change, match", [
    (lambda b: {b"fine_labels" if k == b"labels" else k: v for k, v in b.items()}, r"keys b'data' and b'labels'"),
    (lambda b: {k.decode(): v for k, v in b.items()}, r"found 'batch_label', 'data', 'filenames', 'labels'"),
    (lambda b: {**b, b"data": b[b"data"].astype(np.int64)}, r"b'data' is int64, expected uint8"),
    (lambda b: {**b, b"data": b[b"data"][:, :1024]}, r"shape \(4, 1024\), expected \(N, 3072\)"),
    (lambda b: {**b, b"labels": b[b"labels"][:3]}, r"expected 4 integers"),
    (lambda b: {**b, b"labels": [10, 0, 0, 0]}, r"labels range 0..10"),
])
def test_cifar_bad_batches(data, change, match):
    folder = make_cifar_folder(data)
    (folder / "data_batch_3").write_bytes(py2_pickle(change(cifar_batch(4))))
    with pytest.raises(DataError, match=match) as e:
        load_cifar10(data)
    assert "data_batch_3" in str(e.value)


def test_cifar_python3_pickle_and_missing_batch(data):
    folder = make_cifar_folder(data)
    (folder / "data_batch_2").write_bytes(pickle.dumps(cifar_batch(4), protocol=4))  # re-saved by Python 3
    assert load_cifar10(data).X_train.shape == (20, 32, 32, 3)
    (folder / "data_batch_5").unlink()
    with pytest.raises(DataError, match=r"data_batch_5 is missing: the CIFAR-10 copy .* is incomplete"):
        load_cifar10(data)


@pytest.mark.parametrize("payload", ["os.system", "eval", "object_dtype"])
def test_cifar_malicious_pickle_is_refused_before_running(data, tmp_path, payload):
    folder = make_cifar_folder(data)
    marker = tmp_path / "pwned"
    batch = cifar_batch(4)
    if payload == "os.system":
        blob = py2_pickle({**batch, b"data": Evil(marker)})
    elif payload == "eval":
        blob = py2_pickle(batch).replace(b"cnumpy\ndtype\n", b"cbuiltins\neval\n")
    else:  # an object array would let lists, not bytes, through; it is not part of the format
        blob = py2_pickle({**batch, b"data": np.array([Evil(marker)], dtype=object)})
    (folder / "test_batch").write_bytes(blob)
    with pytest.raises(DataError, match=r"test_batch: refused to load: the pickle tries to build") as e:
        load_cifar10(data)
    built = {"os.system": "system", "eval": "builtins.eval", "object_dtype": "numpy.dtype('O8')"}[payload]
    assert built in str(e.value)
    assert not marker.exists()


def cifar_archive(data: Path, tmp_path: Path) -> Path:
    """A tiny canonical-style DIR/cifar10/cifar-10-python.tar.gz holding cifar-10-batches-py/."""
    folder = make_cifar_folder(tmp_path / "src")
    return make_tar(data / "cifar10" / "cifar-10-python.tar.gz", folder, "cifar-10-batches-py")


def test_cifar_archive_is_verified_and_extracted_once(data, tmp_path, monkeypatch):
    archive = cifar_archive(data, tmp_path)
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz has .*expected 170,498,071"):
        load_cifar10(data)  # the real table entry: a tiny archive is refused
    monkeypatch.setattr(datasets, "CIFAR10_ARCHIVE", replace(
        datasets.CIFAR10_ARCHIVE, size=None, md5=hashlib.md5(archive.read_bytes()).hexdigest()))
    d = load_cifar10(data)
    assert d.X_train.shape == (20, 32, 32, 3) and d.source == str(data / "cifar10" / "cifar-10-batches-py")
    archive.write_bytes(b"corrupt")  # the extracted folder is used from now on
    assert load_cifar10(data).X_test.shape == (3, 32, 32, 3)


def test_cifar_archive_in_read_only_dir_extracts_into_cache(data, tmp_path, monkeypatch, env):
    archive = cifar_archive(data, tmp_path)
    monkeypatch.setattr(datasets, "CIFAR10_ARCHIVE", replace(
        datasets.CIFAR10_ARCHIVE, size=None, md5=hashlib.md5(archive.read_bytes()).hexdigest()))
    monkeypatch.setattr(datasets.os, "access", lambda path, mode: False)
    assert load_cifar10(data).source == str(env / "cifar10" / "cifar-10-batches-py")


def test_cifar_missing_offline_mentions_folder_and_archive(data):
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz \(or its extracted folder cifar-10-batches-py/\)"):
        load_cifar10(data)


# ------------------------------------------------------------------ IMDB


def test_imdb_tiny_folder_order_labels_and_warnings(data):
    make_aclimdb(data, n=3)
    d = load_imdb_reviews(data)
    assert d.train_texts == [f"train {k} {i} caf\u00e9<br />" for k in ("neg", "pos") for i in (0, 1, 10)]
    assert d.test_texts[0] == "test neg 0 caf\u00e9<br />"
    assert d.y_train.tolist() == [0, 0, 0, 1, 1, 1] and d.y_test.dtype == np.int64
    assert not d.canonical and len(d.warnings) == 4 and "IMDB train/neg has 3 reviews, not 12500" in d.warnings[0]


def test_imdb_from_archive(data, tmp_path, monkeypatch):
    make_aclimdb(tmp_path / "src", n=2)
    archive = make_tar(data / "imdb" / "aclImdb_v1.tar.gz", tmp_path / "src" / "imdb" / "aclImdb", "aclImdb")
    monkeypatch.setattr(datasets, "IMDB_ARCHIVE", replace(
        datasets.IMDB_ARCHIVE, size=None, sha256=hashlib.sha256(archive.read_bytes()).hexdigest()))
    d = load_imdb_reviews(data)
    assert len(d.train_texts) == 4 and d.source == str(data / "imdb" / "aclImdb")


def test_imdb_downloaded_into_cache_and_extracted(data, tmp_path, monkeypatch, env):
    make_aclimdb(tmp_path / "src", n=1)
    blob = make_tar(tmp_path / "served.tar.gz", tmp_path / "src" / "imdb" / "aclImdb", "aclImdb").read_bytes()
    monkeypatch.setattr(datasets, "IMDB_ARCHIVE", replace(
        datasets.IMDB_ARCHIVE, size=len(blob), sha256=hashlib.sha256(blob).hexdigest()))
    monkeypatch.delenv("FRAMEBENCH_OFFLINE")
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(blob))
    d = load_imdb_reviews(data)
    assert d.source == str(env / "imdb" / "aclImdb") and d.y_train.tolist() == [0, 1]
    assert sorted(p.name for p in (env / "imdb").iterdir()) == ["aclImdb", "aclImdb_v1.tar.gz"]


@pytest.mark.parametrize("name, content, match", [
    ("5_9.txt", b"", r"5_9\.txt is an empty review"),
    ("5_9.txt", b"caf\xe9", r"5_9\.txt is not valid UTF-8 \(byte 3\)"),
    ("5_3.txt", b"fine", r"5_3\.txt: rating 3 is outside 7\.\.10 for pos"),
    ("review5.txt", b"fine", r"review5\.txt: unexpected entry"),
    ("1_8.txt", b"duplicate id", r"review id 1 also used by"),
])
def test_imdb_bad_files(data, name, content, match):
    folder = make_aclimdb(data, n=2)
    (folder / "train" / "pos" / name).write_bytes(content)
    with pytest.raises(DataError, match=match) as e:
        load_imdb_reviews(data)
    assert "\n" not in str(e.value)


def test_imdb_missing_class_folder(data):
    folder = make_aclimdb(data, n=1)
    for p in (folder / "test" / "neg").iterdir():
        p.unlink()
    (folder / "test" / "neg").rmdir()
    with pytest.raises(DataError, match=r"aclImdb/test/neg is missing"):
        load_imdb_reviews(data)


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "oops").write_text("")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_imdb_reviews(tmp_path / "oops")


# ------------------------------------------------------------------ Keras imdb.npz


def ragged(rows: list) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def test_imdb_npz_good_and_bad(tmp_path):
    path = tmp_path / "imdb.npz"
    x = ragged([[1, 14, 22], [1, 5]])
    np.savez(path, x_train=x, y_train=np.array([1, 0]), x_test=ragged([[1], [1, 2, 3]]), y_test=np.array([0, 1]))
    x_train, y_train, x_test, y_test = load_imdb_npz(path)
    assert x_train.dtype == object and x_train[0] == [1, 14, 22] and y_test.tolist() == [0, 1]
    assert y_train.dtype == np.int64
    np.savez(path, x_train=x, y_train=np.array([1, 0]), x_test=x)
    with pytest.raises(DataError, match=r"no array 'y_test'"):
        load_imdb_npz(path)
    np.savez(path, x_train=x, y_train=np.array([1, 7]), x_test=x, y_test=np.array([0, 1]))
    with pytest.raises(DataError, match=r"labels in \{0, 1\}"):
        load_imdb_npz(path)
    np.savez(path, x_train=ragged([[1, -2], [3]]), y_train=np.array([1, 0]), x_test=x, y_test=np.array([0, 1]))
    with pytest.raises(DataError, match=r"not non-negative ints"):
        load_imdb_npz(path)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"imdb\.npz is not a readable \.npz archive"):
        load_imdb_npz(path)


def test_imdb_npz_malicious_object_is_refused(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "imdb.npz"
    evil = ragged([[1, 2], Evil(marker)])
    buf = io.BytesIO()
    np.save(buf, evil, allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x_train.npy", buf.getvalue())
    with pytest.raises(DataError, match=r"refused to load: the pickle tries to build posix\.system|nt\.system"):
        load_imdb_npz(path)
    assert not marker.exists()


# ------------------------------------------------------------------ real data (FRAMEBENCH_DATA)


def test_real_data_dir_skips_or_fails(monkeypatch, tmp_path):
    monkeypatch.delenv("FRAMEBENCH_DATA", raising=False)
    monkeypatch.delenv("FRAMEBENCH_REQUIRE_DATA", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        real_data_dir()
    message = str(skipped.value)
    assert "FRAMEBENCH_DATA" in message and "README" in message and "DIR/mnist/" in message
    assert "/work/" not in message and "unpack.sh" not in message  # what a user needs, not one machine's path
    monkeypatch.setenv("FRAMEBENCH_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="FRAMEBENCH_REQUIRE_DATA=1"):
        real_data_dir()
    monkeypatch.setenv("FRAMEBENCH_DATA", str(tmp_path))
    assert real_data_dir() == tmp_path


@pytest.fixture(scope="module")
def real_imdb():
    """The real IMDB reviews, loaded once per session."""
    root = real_data_dir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FRAMEBENCH_OFFLINE", "1")
        return load_imdb_reviews(root)


def test_real_mnist():
    d = load_mnist(real_data_dir())
    assert d.canonical and d.warnings == ()
    assert d.X_train.shape == (60000, 28, 28, 1) and d.X_test.shape == (10000, 28, 28, 1)
    assert np.bincount(d.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(d.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_cifar():
    """The shared copy is partial (1,000 test images); a full canonical copy is accepted too."""
    d = load_cifar10(real_data_dir())
    assert d.X_train.shape == (50000, 32, 32, 3) and d.X_train.dtype == np.uint8
    assert np.bincount(d.y_train).tolist() == [5000] * 10
    assert np.bincount(d.y_train[:10000]).tolist() == [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]
    np.testing.assert_allclose(d.X_train.mean(axis=(0, 1, 2)) / 255, [0.4914, 0.4822, 0.4465], rtol=0, atol=5e-4)
    if len(d.y_test) == 10000:
        assert d.canonical and d.warnings == () and np.bincount(d.y_test).tolist() == [1000] * 10
        return
    assert d.X_test.shape == (1000, 32, 32, 3)
    assert np.bincount(d.y_test).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    assert not d.canonical and d.warnings == (
        "CIFAR-10 test set has 1000 images, not 10000 (partial copy): accuracy has a larger standard error",)


def test_real_cifar_pickles_reference_only_numpy_array_globals():
    path = real_data_dir() / "cifar10" / "cifar-10-batches-py" / "test_batch"
    globs = {arg for op, arg, _ in pickletools.genops(path.read_bytes()) if op.name == "GLOBAL"}
    assert globs == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}


def test_real_imdb(real_imdb):
    assert real_imdb.canonical and real_imdb.warnings == ()
    assert len(real_imdb.train_texts) == len(real_imdb.test_texts) == 25000
    assert np.bincount(real_imdb.y_train).tolist() == np.bincount(real_imdb.y_test).tolist() == [12500, 12500]
    assert real_imdb.train_texts[12500].startswith("Bromwell High is a cartoon comedy.")  # train/pos/0_9.txt
