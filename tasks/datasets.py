"""Raw dataset loaders: MNIST (IDX), CIFAR-10 (python batches), IMDB (aclImdb text, Keras npz).

Each loader searches `data_dirs()` in order for an extracted folder, then for the canonical
archive or files, and only then downloads (see `tasks.download`). Loaders return raw data:
uint8 NHWC images with int64 labels, or review texts with int64 labels. Scaling and
tokenisation belong to the shared preprocessing code, not here.

Layout of a data dir DIR (what `unpack.sh DIR` produces):
    DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    DIR/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch}  or  DIR/cifar10/cifar-10-python.tar.gz
    DIR/imdb/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt      or  DIR/imdb/aclImdb_v1.tar.gz
"""

from __future__ import annotations

import gzip
import itertools
import math
import os
import pickle
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.download import DataError, RemoteFile, cache_dir, data_dirs, fetch, safe_extract_tar

_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_MNIST_TABLE = {  # file name: (bytes, sha256), from SOURCES.md
    "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
MNIST_FILES: dict[str, RemoteFile] = {
    name: RemoteFile(name, tuple(m + name for m in _MNIST_MIRRORS), sha256=sha, size=size)
    for name, (size, sha) in _MNIST_TABLE.items()
}
CIFAR10_ARCHIVE = RemoteFile(
    "cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    md5="c58f30108f718f92721af3b95e74349a", size=170498071)
CIFAR10_FOLDER = "cifar-10-batches-py"
IMDB_ARCHIVE = RemoteFile(
    "aclImdb_v1.tar.gz", ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", size=84125825)
IMDB_FOLDER = "aclImdb"
_IMDB_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"  # where Keras' datasets module reads it
IMDB_NPZ = RemoteFile(  # IMDB as word ids; not in the shared copy: fetch(IMDB_NPZ, "imdb") downloads it
    "imdb.npz", (_IMDB_NPZ_URL + "imdb.npz",),
    sha256="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f", size=17464789)
IMDB_WORD_INDEX = RemoteFile(
    "imdb_word_index.json", (_IMDB_NPZ_URL + "imdb_word_index.json",),
    sha256="027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6", size=1641221)


@dataclass(frozen=True)
class ImageData:
    """Raw images (uint8, NHWC) and int64 labels; canonical=False for a partial or altered copy."""

    X_train: np.ndarray  # (N, H, W, C) uint8
    y_train: np.ndarray  # (N,) int64
    X_test: np.ndarray  # (M, H, W, C) uint8
    y_test: np.ndarray  # (M,) int64
    source: str  # where the data was read from
    canonical: bool  # True when the split sizes are the published ones
    warnings: tuple[str, ...]  # user-facing notes, e.g. a partial test set


@dataclass(frozen=True)
class TextData:
    """Raw review texts and int64 labels (0 = negative, 1 = positive)."""

    train_texts: list[str]
    y_train: np.ndarray  # (N,) int64
    test_texts: list[str]
    y_test: np.ndarray  # (M,) int64
    source: str  # where the data was read from
    canonical: bool  # True when every split and class has the published count
    warnings: tuple[str, ...]  # user-facing notes, e.g. missing reviews


# ------------------------------------------------------------------ MNIST

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Parse a gzip-compressed IDX file (big-endian header) into a native-endian array."""
    path = Path(path)
    redo = "delete it and download it again"
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError as e:
        raise DataError(f"{path} does not exist: put the file there or pass the right --data-dir") from e
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataError(f"{path} is not a complete gzip file ({e}): {redo}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        magic = int.from_bytes(raw[:4].ljust(4, b"\0"), "big")
        raise DataError(f"{path} has bad IDX magic 0x{magic:08x} (expected 0x0000080N, N = number "
                        f"of dimensions): it is not an IDX file, {redo}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} ends inside its IDX header: {redo}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path} has {len(raw) - header:,} data bytes but its header {dims} needs "
                        f"{expected:,}: {redo}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _mnist_split(images: Path, labels: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = read_idx(images), read_idx(labels)
    redo = "delete it and download it again"
    if X.dtype != np.uint8 or X.shape != (n, 28, 28):
        raise DataError(f"{images} holds {X.dtype} {X.shape}, expected uint8 ({n}, 28, 28): {redo}")
    if y.dtype != np.uint8 or y.shape != (n,) or y.max(initial=0) > 9:
        raise DataError(f"{labels} holds {y.dtype} {y.shape} (max {y.max(initial=0)}), "
                        f"expected {n} uint8 labels 0..9: {redo}")
    return X[..., None], y.astype(np.int64)


def load_mnist(data_dir: str | os.PathLike | None = None, paths: dict[str, Path] | None = None) -> ImageData:
    """MNIST as uint8 (N, 28, 28, 1) images: 60,000 train and 10,000 test, each file sha256-checked (`paths`: what
    mnist_files() found)."""
    paths = paths or mnist_files(data_dir)
    X_train, y_train = _mnist_split(paths["train-images-idx3-ubyte.gz"], paths["train-labels-idx1-ubyte.gz"], 60000)
    X_test, y_test = _mnist_split(paths["t10k-images-idx3-ubyte.gz"], paths["t10k-labels-idx1-ubyte.gz"], 10000)
    return ImageData(X_train, y_train, X_test, y_test, source=str(paths["train-images-idx3-ubyte.gz"].parent),
                     canonical=True, warnings=())


def mnist_files(data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The four MNIST files (found, else downloaded), each sha256-checked: file name -> path."""
    paths, errors = {}, []
    for name, remote in MNIST_FILES.items():
        try:
            paths[name] = fetch(remote, "mnist", data_dir)
        except DataError as e:  # report every unavailable file at once, not one per run
            errors.append((name, e))
    if errors:
        also = f"; also unavailable: {', '.join(n for n, _ in errors[1:])}" if len(errors) > 1 else ""
        raise DataError(f"{errors[0][1]}{also}") from errors[0][1]
    return paths


# ------------------------------------------------------------------ restricted pickles

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's _reconstruct, whatever its module
_DTYPES_OK = frozenset({"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"})
_NDARRAY = object()  # stands for numpy.ndarray: usable as _reconstruct's subtype, but not callable itself


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that builds only plain containers, numbers, strings and plain numpy arrays.

    The real CIFAR-10 batches reference exactly numpy.core.multiarray._reconstruct, numpy.ndarray
    and numpy.dtype (for the uint8 `data` array); everything else is refused.
    """

    def __init__(self, file, *, path: Path, encoding: str, allow_object: bool = False) -> None:
        super().__init__(file, encoding=encoding)
        self.path, self.allow_object = path, allow_object

    def _refuse(self, what: str) -> DataError:
        return DataError(f"{self.path}: refused to load: the pickle tries to build {what}, which this "
                         "data format never needs; the file is not what it claims, delete it and get a clean copy")

    def find_class(self, module: str, name: str):
        if (module, name) in (("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")):
            return self._reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        if (module, name) == ("numpy", "dtype"):
            return self._dtype
        raise self._refuse(f"{module}.{name}")

    def _reconstruct(self, subtype, shape, dtype):
        if subtype is not _NDARRAY:
            raise self._refuse(f"an array of type {subtype!r}")
        return _RECONSTRUCT(np.ndarray, shape, dtype)

    def _dtype(self, spec, align=False, copy=False):
        code = spec.decode("latin1") if isinstance(spec, bytes) else spec
        if code not in _DTYPES_OK and not (self.allow_object and code == "O8"):
            raise self._refuse(f"numpy.dtype({code!r})")
        return np.dtype(code, align=bool(align), copy=bool(copy))

    def persistent_load(self, pid):
        raise self._refuse(f"persistent object {pid!r}")


def _load_pickle(path: Path, f, *, encoding: str, allow_object: bool = False, what: str):
    try:
        return _RestrictedUnpickler(f, path=path, encoding=encoding, allow_object=allow_object).load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a valid {what} (truncated or corrupt: {type(e).__name__}: {e}): "
                        "delete it and get a clean copy".replace("\n", " ")) from e


# ------------------------------------------------------------------ CIFAR-10


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One python batch: dict with b'data' (uint8 N x 3072, R/G/B planes) and b'labels' (N ints 0..9)."""
    redo = "delete it and extract the CIFAR-10 archive again"
    try:
        with open(path, "rb") as f:
            d = _load_pickle(path, f, encoding="bytes", what="CIFAR-10 python batch")
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e.strerror or e}): {redo}") from e
    if not isinstance(d, dict) or not {b"data", b"labels"} <= d.keys():
        keys = ", ".join(sorted(map(repr, d.keys()))) if isinstance(d, dict) else type(d).__name__
        raise DataError(f"{path} is not a CIFAR-10 batch: expected a dict with keys b'data' and "
                        f"b'labels', found {keys}: {redo}")
    X, labels = d[b"data"], d[b"labels"]
    if not isinstance(X, np.ndarray) or X.dtype != np.uint8:
        raise DataError(f"{path}: b'data' is {getattr(X, 'dtype', type(X).__name__)}, expected uint8: {redo}")
    if X.ndim != 2 or X.shape[1] != 3072 or X.shape[0] == 0:
        raise DataError(f"{path}: b'data' has shape {X.shape}, expected (N, 3072) with N > 0: {redo}")
    y = np.asarray(labels)
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iu":
        raise DataError(f"{path}: b'labels' has {y.dtype} shape {y.shape}, expected {X.shape[0]} integers: {redo}")
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"{path}: labels range {y.min()}..{y.max()}, expected 0..9: {redo}")
    X = np.ascontiguousarray(X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # R, G, B planes -> NHWC
    return X, y.astype(np.int64)


def cifar10_files(folder: Path) -> list[Path]:
    """The six python batches of an extracted CIFAR-10 folder: data_batch_1..5, then test_batch."""
    return [folder / f"data_batch_{i}" for i in range(1, 6)] + [folder / "test_batch"]


def _load_cifar_folder(folder: Path) -> ImageData:
    *batches, test = cifar10_files(folder)
    for path in [*batches, test]:
        if not path.is_file():
            raise DataError(f"{path} is missing: the CIFAR-10 copy in {folder} is incomplete, "
                            "delete the folder so that the archive is extracted or downloaded again")
    parts = [_read_cifar_batch(p) for p in batches]
    X_train = np.concatenate([X for X, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    X_test, y_test = _read_cifar_batch(test)
    warnings = []
    if len(y_train) != 50000:
        warnings.append(f"CIFAR-10 training set has {len(y_train)} images, not 50000 (partial copy in {folder})")
    if len(y_test) != 10000:
        warnings.append(f"CIFAR-10 test set has {len(y_test)} images, not 10000 (partial copy): "
                        "accuracy has a larger standard error")
    return ImageData(X_train, y_train, X_test, y_test, source=str(folder),
                     canonical=not warnings, warnings=tuple(warnings))


def _find_or_extract(subdir: str, folder_name: str, archive: RemoteFile,
                     data_dir: str | os.PathLike | None) -> Path:
    """An extracted folder from data_dirs(), else the archive (found or downloaded) extracted safely."""
    for d in data_dirs(data_dir):
        if (d / subdir / folder_name).is_dir():
            return d / subdir / folder_name
    path = fetch(archive, subdir, data_dir, hint=f"(or its extracted folder {folder_name}/)")
    dest = path.parent if os.access(path.parent, os.W_OK) else cache_dir() / subdir
    if not (dest / folder_name).is_dir():
        safe_extract_tar(path, dest)
    if not (dest / folder_name).is_dir():
        raise DataError(f"{path} holds no {folder_name}/ folder, so it is not the expected archive: "
                        "delete it and download it again")
    return dest / folder_name


def load_cifar10(data_dir: str | os.PathLike | None = None, folder: Path | None = None) -> ImageData:
    """CIFAR-10 as uint8 (N, 32, 32, 3) images (from `folder`, else cifar10_folder()); a partial copy is accepted
    with a warning."""
    return _load_cifar_folder(folder or cifar10_folder(data_dir))


def cifar10_folder(data_dir: str | os.PathLike | None = None) -> Path:
    """The extracted cifar-10-batches-py folder (found, else extracted from the archive, found or downloaded)."""
    return _find_or_extract("cifar10", CIFAR10_FOLDER, CIFAR10_ARCHIVE, data_dir)


# ------------------------------------------------------------------ IMDB (aclImdb text)

_REVIEW_NAME = re.compile(r"(\d+)_(\d+)\.txt")
_RATINGS = {"neg": range(1, 5), "pos": range(7, 11)}


def _read_reviews(folder: Path, kind: str) -> list[str]:
    """Reviews of one split/class folder, ordered by numeric id; names and ratings validated."""
    redo = "fix or remove it, or extract the aclImdb archive again"
    if not folder.is_dir():
        raise DataError(f"{folder} is missing: the aclImdb copy is incomplete, extract the archive again")
    entries = []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith("."):
                continue  # editor and OS droppings (.DS_Store) are not reviews
            m = _REVIEW_NAME.fullmatch(e.name)
            if not m or not e.is_file():
                raise DataError(f"{e.path}: unexpected entry, reviews are files named <id>_<rating>.txt: {redo}")
            if int(m[2]) not in _RATINGS[kind]:
                r = _RATINGS[kind]
                raise DataError(f"{e.path}: rating {m[2]} is outside {r.start}..{r.stop - 1} for {kind}: {redo}")
            entries.append((int(m[1]), e.path))
    entries.sort()
    for (a, p), (b, q) in zip(entries, entries[1:]):
        if a == b:
            raise DataError(f"{q}: review id {b} also used by {p}: {redo}")
    texts = []
    for _, path in entries:
        with open(path, "rb") as f:
            raw = f.read()
        if not raw.strip():
            raise DataError(f"{path} is an empty review: {redo}")
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise DataError(f"{path} is not valid UTF-8 (byte {err.start}): {redo}") from err
    return texts


def _load_imdb_folder(root: Path) -> TextData:
    splits, warnings = {}, []
    for split in ("train", "test"):
        neg = _read_reviews(root / split / "neg", "neg")
        pos = _read_reviews(root / split / "pos", "pos")
        for kind, texts in (("neg", neg), ("pos", pos)):
            if len(texts) != 12500:
                warnings.append(f"IMDB {split}/{kind} has {len(texts)} reviews, not 12500 (partial copy in {root})")
        y = np.concatenate([np.zeros(len(neg), np.int64), np.ones(len(pos), np.int64)])
        splits[split] = (neg + pos, y)
    return TextData(*splits["train"], *splits["test"], source=str(root), canonical=not warnings,
                    warnings=tuple(warnings))


def load_imdb_reviews(data_dir: str | os.PathLike | None = None) -> TextData:
    """IMDB reviews from aclImdb/{train,test}/{neg,pos}: order split, then neg (0) before pos (1), then id."""
    return _load_imdb_folder(_find_or_extract("imdb", IMDB_FOLDER, IMDB_ARCHIVE, data_dir))


# ------------------------------------------------------------------ IMDB (Keras npz)

_NOT_IMDB_NPZ = "it is not an imdb.npz of word ids"


def _read_npy_member(zf: zipfile.ZipFile, npz: Path, key: str) -> np.ndarray:
    name = f"{key}.npy"
    if name not in zf.namelist():
        raise DataError(f"{npz} has no array {key!r} (found {sorted(zf.namelist())}): {_NOT_IMDB_NPZ}")
    with zf.open(name) as f:
        try:
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
        except ValueError as e:
            raise DataError(f"{npz}: {name} is not a valid .npy array ({e}): delete it and download it again") from e
        if dtype.hasobject:  # ragged lists are pickled; build them with the restricted unpickler
            arr = _load_pickle(npz, f, encoding="latin1", allow_object=True, what="imdb.npz")
        else:
            raw = f.read()
            if len(raw) != math.prod(shape) * dtype.itemsize:
                raise DataError(f"{npz}: {name} is truncated: delete it and download it again")
            arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{npz}: {name} holds {type(arr).__name__}, not an array: delete it and download it again")
    return arr


def load_imdb_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keras' imdb.npz (IMDB as word ids) as (x_train, y_train, x_test, y_test); x are object arrays of int lists."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            x_train, y_train, x_test, y_test = (_read_npy_member(zf, path, k)
                                                for k in ("x_train", "y_train", "x_test", "y_test"))
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path} is not a readable .npz archive ({e}): delete it and download it again") from e
    for xname, x, yname, y in (("x_train", x_train, "y_train", y_train), ("x_test", x_test, "y_test", y_test)):
        if x.ndim != 1 or y.shape != x.shape or y.dtype.kind not in "iu" or not np.isin(y, (0, 1)).all():
            raise DataError(f"{path}: {xname} {x.shape} / {yname} {y.dtype} {y.shape} are not N sequences "
                            f"with N labels in {{0, 1}}: {_NOT_IMDB_NPZ}")
        if not all(type(s) is list for s in x):
            raise DataError(f"{path}: {xname} holds non-list entries: {_NOT_IMDB_NPZ}")
        flat = np.array(list(itertools.chain.from_iterable(x)))
        if flat.size and (flat.dtype.kind not in "iu" or flat.min() < 0):
            raise DataError(f"{path}: {xname} holds values that are not non-negative ints: {_NOT_IMDB_NPZ}")
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)
