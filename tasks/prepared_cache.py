"""Prepared image datasets kept on disk, so that each run's process maps them instead of preparing them again.

Preparing CIFAR-10 (unpickling the five batches, the per-channel statistics, normalising 50,000 images) costs about
4 s of CPU in every process that trains, checks or explains a row, and MNIST about 1 s. The first process writes
the prepared arrays (exactly the arrays it trains on) to the user cache; later ones map them read-only, copy on
write (numpy.load(mmap_mode="c")), in milliseconds.

An entry is valid while its source files are unchanged: their paths, sizes and modification times (nanoseconds)
and PREPARED_VERSION are its key, the rule Python uses for its own .pyc files. Bump PREPARED_VERSION whenever the
preparation of a task changes. Layout: CACHE/prepared/<task>-<hash of the source folder>/<key>.<array>.npy and
<key>.json, the JSON written last; a newer key for the same folder removes the older files. A cache that cannot be
written or read is never an error: the data is prepared in memory, as without a cache. Deleting the folder is safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tasks.download import cache_dir, write_atomically
from tasks.pipeline import Dataset

PREPARED_VERSION = 1  # bump whenever a task's preparation (scaling, normalisation, layout) changes
ARRAYS = ("X_train", "y_train", "X_test", "y_test")


def cached_dataset(task: str, sources: Sequence[Path], prepare: Callable[[], Dataset]) -> Dataset:
    """prepare(), or the same arrays from the cache while `sources` (the raw files prepare() reads) are unchanged."""
    try:
        key = _key(task, sources)
    except OSError:  # a source is missing or unreadable: prepare() says which, in its own words
        return prepare()
    folder = cache_dir() / "prepared" / f"{task}-{_digest(str(Path(sources[0]).resolve().parent))[:12]}"
    found = _read(folder, key)
    if found is not None:
        return found
    data = prepare()
    _write(folder, key, data)
    return data


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _key(task: str, sources: Sequence[Path]) -> str:
    stats = []
    for path in sources:
        st = os.stat(path)
        stats.append((str(Path(path).resolve()), st.st_size, st.st_mtime_ns))
    return _digest(json.dumps({"version": PREPARED_VERSION, "task": task, "sources": stats}))[:32]


def _read(folder: Path, key: str) -> Dataset | None:
    """The entry's arrays, mapped copy-on-write, and its metadata; None if absent, incomplete or unreadable."""
    try:
        meta = json.loads(_regular(folder / f"{key}.json").read_text())
        arrays = {}
        for name in ARRAYS:
            mapped = np.load(_regular(folder / f"{key}.{name}.npy"), mmap_mode="c", allow_pickle=False)
            if list(mapped.shape) != meta["shapes"][name] or mapped.dtype.str != meta["dtypes"][name]:
                return None
            arrays[name] = np.asarray(mapped)  # a plain ndarray over the mapping; writes stay in this process
        return Dataset(**arrays, name=meta["name"], source=meta["source"], canonical=bool(meta["canonical"]),
                       warnings=tuple(meta["warnings"]))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _regular(path: Path) -> Path:
    """path, if it is a regular file itself (not a link, a FIFO or a device, which would block or never end)."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise ValueError(f"{path} is not a regular file")
    return path


def _write(folder: Path, key: str, data: Dataset) -> None:
    """Each array to a temporary file renamed into place, then the JSON (readers look for it first); then the other
    keys' files of this folder are removed. Any failure leaves no entry and no error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            write_atomically(folder / f"{key}.{name}.npy", lambda f, name=name: np.save(f, getattr(data, name), allow_pickle=False))
        meta = {"name": data.name, "source": data.source, "canonical": data.canonical, "warnings": list(data.warnings),
                "shapes": {n: list(getattr(data, n).shape) for n in ARRAYS},
                "dtypes": {n: getattr(data, n).dtype.str for n in ARRAYS}}  # fmt: skip
        write_atomically(folder / f"{key}.json", lambda f: f.write(json.dumps(meta).encode()))
        for old in folder.iterdir():
            if not old.name.startswith(f"{key}.") and not old.name.endswith(".tmp"):
                old.unlink(missing_ok=True)  # a process that maps an old entry keeps it until it exits
    except OSError:
        return
