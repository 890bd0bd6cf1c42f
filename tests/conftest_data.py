"""Shared test helpers for data: the real-data switch and writers of tiny files in the real formats.

Import from test files with `from conftest_data import real_data_dir` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest


def real_data_dir() -> Path:
    """The unpacked real data ($FRAMEBENCH_DATA); skip if unset, fail instead if FRAMEBENCH_REQUIRE_DATA=1."""
    value = os.environ.get("FRAMEBENCH_DATA", "")
    if not value:
        message = ("real data not available: set FRAMEBENCH_DATA to a folder laid out as the README's Data section says "
                   "(DIR/mnist/*-ubyte.gz, DIR/cifar10/cifar-10-batches-py/, DIR/imdb/aclImdb/)")
        if os.environ.get("FRAMEBENCH_REQUIRE_DATA") == "1":
            pytest.fail(message + " (FRAMEBENCH_REQUIRE_DATA=1)")
        pytest.skip(message)
    path = Path(value.split(os.pathsep)[0]).expanduser()
    if not path.is_dir():
        pytest.fail(f"FRAMEBENCH_DATA={value} is not a folder")
    return path


def write_idx(path: Path, arr: np.ndarray, *, magic: bytes | None = None, truncate: int = 0) -> Path:
    """Write arr as a gzip IDX file (uint8 only); override the magic or cut `truncate` gzip bytes."""
    header = magic if magic is not None else bytes([0, 0, 0x08, arr.ndim])
    raw = header + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    data = gzip.compress(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) - truncate])
    return path


class _Py2Pickler(pickle._Pickler):
    """Writes pickles as the real CIFAR-10 files are: protocol 2, bytes as Python 2 str, numpy.core globals."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str

    def save_global(self, obj, name=None):
        name = name or obj.__qualname__
        module = pickle.whichmodule(obj, name).replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)


def py2_pickle(obj) -> bytes:
    """Pickle obj in the byte format of the original CIFAR-10 python batches."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_batch(n: int, seed: int = 0) -> dict:
    """A CIFAR-10 batch dict with n random images in the real key/dtype layout."""
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"test batch", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def make_cifar_folder(root: Path, n_train: int = 4, n_test: int = 3) -> Path:
    """DIR/cifar10/cifar-10-batches-py with five train batches of n_train and a test batch of n_test."""
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(py2_pickle(cifar_batch(n_train, seed=i)))
    (folder / "test_batch").write_bytes(py2_pickle(cifar_batch(n_test, seed=99)))
    (folder / "batches.meta").write_bytes(py2_pickle({b"label_names": [b"airplane"] * 10}))
    return folder


def make_aclimdb(root: Path, n: int = 3) -> Path:
    """DIR/imdb/aclImdb with n reviews in each of train/test x neg/pos, ids written out of order."""
    folder = root / "imdb" / "aclImdb"
    for split in ("train", "test"):
        for kind, rating in (("neg", 2), ("pos", 9)):
            sub = folder / split / kind
            sub.mkdir(parents=True)
            for i in reversed(range(n)):  # ids 0..n-1; 10 sorts before 2 as text, not as a number
                i = 10 if i == 2 else i
                (sub / f"{i}_{rating}.txt").write_text(f"{split} {kind} {i} caf\u00e9<br />", encoding="utf-8")
    return folder


def make_tar(path: Path, src: Path, arcname: str) -> Path:
    """Write src (a folder) into the gzip tar path under arcname."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src, arcname=arcname)
    return path
