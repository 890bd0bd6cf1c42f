"""A spec file's data (tasks/spec_source.py's DataSource): read, shaped and checked before any engine starts.

A data file is an .npz holding X_train, y_train, X_test, y_test: images NHWC as floats, token ids as integers,
labels as integers. It is read with allow_pickle=False, only as a regular file, and each member's declared size is
checked before it is read. Then every sample must have the network's input shape, every feature must be finite,
every token id must fit the Embedding, and every label must lie in 0 .. num_classes - 1.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from tasks.download import DataError
from tasks.pipeline import Dataset, subset
from tasks.spec import Embedding, TaskSpec

MEMBERS = ("X_train", "y_train", "X_test", "y_test")
MAX_DATA_BYTES = 8 << 30  # the arrays of a data file, uncompressed: larger is refused before anything is read


class UserDataError(DataError):
    """A spec file's data that cannot be used as stated: one line naming the file and what is wrong (a data error)."""


def load_task_data(task: str, spec: TaskSpec, data_dir: str | None) -> Dataset:
    """A row's data: a spec file's (its DataSource), else the registered task's own prepared arrays."""
    if spec.data.source.given:
        return load_spec_data(spec, data_dir)
    from tasks import registry

    return registry.get(task).load(data_dir)


def load_spec_data(spec: TaskSpec, data_dir: str | None) -> Dataset:
    """The data of a spec file's network, shaped as its input and checked (UserDataError on anything wrong)."""
    source = spec.data.source
    if source.file:
        data = _read_file(Path(source.file))
    else:
        from tasks import registry  # a built-in task's prepared arrays

        data = registry.get(source.task).load(data_dir)
    data = _shaped(data, spec)
    if source.max_train or source.max_test:
        data = subset(data, min(source.max_train or len(data.y_train), len(data.y_train)),
                      min(source.max_test or len(data.y_test), len(data.y_test)))  # fmt: skip
    check_data(data, spec)
    return as_model_input(data, spec)


def _read_file(path: Path) -> Dataset:
    """X_train, y_train, X_test, y_test of an .npz, each member's size checked before it is read."""
    where = f"data.file {path}"
    if not path.is_file():
        raise UserDataError(f"{where}: {'not a regular file' if path.exists() else 'no such file'}")
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename.removesuffix(".npy"): info.file_size for info in archive.infolist()}
    except (OSError, zipfile.BadZipFile) as exc:
        raise UserDataError(f"{where}: not an .npz archive ({exc})") from None
    missing = [name for name in MEMBERS if name not in sizes]
    extra = sorted(set(sizes) - set(MEMBERS))
    if missing or extra:
        raise UserDataError(f"{where}: expected exactly the arrays {', '.join(MEMBERS)}"
                            + (f"; missing {', '.join(missing)}" if missing else "") + (f"; unexpected {', '.join(extra)}" if extra else ""))
    if sum(sizes.values()) > MAX_DATA_BYTES:
        raise UserDataError(f"{where}: its arrays hold {sum(sizes.values())} bytes, more than {MAX_DATA_BYTES}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in MEMBERS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise UserDataError(f"{where}: cannot be read as arrays ({str(exc).splitlines()[0]})") from None
    return Dataset(X_train=arrays["X_train"], y_train=arrays["y_train"], X_test=arrays["X_test"], y_test=arrays["y_test"],
                   name=path.name, source=str(path), canonical=True)  # fmt: skip


def _shaped(data: Dataset, spec: TaskSpec) -> Dataset:
    """Each sample reshaped and zero-padded as the spec file's [data] says."""
    source = spec.data.source
    X_train, X_test = data.X_train, data.X_test
    if source.reshape:
        size = int(np.prod(source.reshape))
        if int(np.prod(X_train.shape[1:])) != size:
            raise UserDataError(f"data.reshape {list(source.reshape)}: a sample of shape {X_train.shape[1:]} has "
                                f"{int(np.prod(X_train.shape[1:]))} values, not {size}")  # fmt: skip
        X_train, X_test = (X.reshape(len(X), *source.reshape) for X in (X_train, X_test))
    if source.pad:
        if X_train.ndim != 4:
            raise UserDataError(f"data.pad pads images (H, W, C); the samples have shape {X_train.shape[1:]}: add data.reshape")
        width = ((0, 0), (source.pad, source.pad), (source.pad, source.pad), (0, 0))
        X_train, X_test = (np.pad(X, width) for X in (X_train, X_test))
    described = f"{data.name}" + (f", reshaped to {list(source.reshape)}" if source.reshape else "")
    described += f", padded by {source.pad}" if source.pad else ""
    return replace(data, X_train=X_train, X_test=X_test, name=described)


def check_data(data: Dataset, spec: TaskSpec) -> None:
    """Shapes, dtypes, finite values, token ids and label range of the data against the spec's network."""
    model, classes = spec.model, spec.data.num_classes
    where = f"data.file {spec.data.source.file}" if spec.data.source.file else f"data.task {spec.data.source.task}"
    for part in ("train", "test"):
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        if len(X) != len(y) or len(y) == 0:
            raise UserDataError(f"{where}: X_{part} has {len(X)} samples and y_{part} {len(y)}: they must match and be > 0")
        if tuple(X.shape[1:]) != tuple(model.input_shape):
            raise UserDataError(f"{where}: X_{part} samples have shape {tuple(X.shape[1:])}, but model.input_shape is "
                                f"{list(model.input_shape)}")  # fmt: skip
        if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
            raise UserDataError(f"{where}: y_{part} must be one integer label per sample, got {y.dtype} of shape {y.shape}")
        if y.min() < 0 or y.max() >= classes:
            raise UserDataError(f"{where}: y_{part} holds labels {int(y.min())}..{int(y.max())}, outside 0..{classes - 1} "
                                f"(data.num_classes = {classes})")  # fmt: skip
        _check_features(X, f"{where}: X_{part}", model.input_dtype, _vocab_size(spec))


def _check_features(X: np.ndarray, where: str, input_dtype: str, vocab: int | None) -> None:
    if input_dtype == "int":
        if not np.issubdtype(X.dtype, np.integer):
            raise UserDataError(f"{where}: token ids must be integers, got {X.dtype}")
        if vocab is not None and (X.min() < 0 or X.max() >= vocab):
            raise UserDataError(f"{where}: token ids {int(X.min())}..{int(X.max())} do not fit the Embedding's "
                                f"vocab_size {vocab}")  # fmt: skip
        return
    if not np.issubdtype(X.dtype, np.floating):
        raise UserDataError(f"{where}: features must be floats (model.input_dtype = \"float\"), got {X.dtype}")
    if not np.isfinite(X).all():
        raise UserDataError(f"{where}: holds NaN or infinite values")


def _vocab_size(spec: TaskSpec) -> int | None:
    return next((layer.vocab_size for layer in spec.model.layers if isinstance(layer, Embedding)), None)


def as_model_input(data: Dataset, spec: TaskSpec) -> Dataset:
    """float32 features or int32 token ids, int64 labels: the dtypes every engine receives."""
    dtype = np.int32 if spec.model.input_dtype == "int" else np.float32
    return replace(data, X_train=data.X_train.astype(dtype, copy=False), X_test=data.X_test.astype(dtype, copy=False),
                   y_train=data.y_train.astype(np.int64, copy=False), y_test=data.y_test.astype(np.int64, copy=False))  # fmt: skip
