"""The prepared-data cache (tasks/prepared_cache.py): the same arrays as preparing them, from real files; a changed,
damaged or unwritable cache prepares again and is never an error."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tasks.pipeline import Dataset
from tasks.prepared_cache import cached_dataset

ARRAYS = ("X_train", "y_train", "X_test", "y_test")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FRAMEBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "prepared"


def _source(tmp_path: Path, content: bytes = b"raw pixels") -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    (folder / "batch").write_bytes(content)
    return folder / "batch"


class Preparer:
    """A prepare() that counts its calls and reads its source file, as the real ones do."""

    def __init__(self, source: Path):
        self.source, self.calls = source, 0

    def __call__(self) -> Dataset:
        self.calls += 1
        seed = len(self.source.read_bytes())
        rng = np.random.default_rng(seed)
        return Dataset(X_train=rng.normal(size=(6, 2, 3)).astype(np.float32), y_train=np.arange(6, dtype=np.int64),
                       X_test=rng.normal(size=(2, 2, 3)).astype(np.float32), y_test=np.arange(2, dtype=np.int64),
                       name="toy", source=str(self.source.parent), canonical=False, warnings=("partial copy",))  # fmt: skip


def _same(a: Dataset, b: Dataset) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert type(x) is np.ndarray and x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    assert (a.name, a.source, a.canonical, a.warnings) == (b.name, b.source, b.canonical, b.warnings)


def test_second_load_maps_the_first_ones_arrays_and_writes_stay_private(tmp_path, cache):
    prepare = Preparer(_source(tmp_path))
    first = cached_dataset("toy", [prepare.source], prepare)
    second = cached_dataset("toy", [prepare.source], prepare)
    assert prepare.calls == 1
    _same(first, second)
    second.X_train[0] = 99.0  # copy on write: this process only
    third = cached_dataset("toy", [prepare.source], prepare)
    assert prepare.calls == 1 and not np.any(third.X_train[0] == 99.0)
    _same(first, third)


def test_a_changed_source_prepares_again_and_removes_the_old_entry(tmp_path, cache):
    prepare = Preparer(_source(tmp_path))
    cached_dataset("toy", [prepare.source], prepare)
    (entry,) = cache.iterdir()
    old = sorted(p.name for p in entry.iterdir())
    _source(tmp_path, b"other raw pixels, longer")  # another size: another key
    changed = cached_dataset("toy", [prepare.source], prepare)
    assert prepare.calls == 2
    _same(changed, prepare())
    new = sorted(p.name for p in entry.iterdir())
    assert len(new) == len(old) == 5 and not set(new) & set(old)
    stat = prepare.source.stat()  # the same size, a new modification time: prepared again too
    os.utime(prepare.source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    cached_dataset("toy", [prepare.source], prepare)
    assert prepare.calls == 4  # (one more above, to compare)


@pytest.mark.parametrize("damage", ["truncated array", "missing array", "bad json", "wrong shape", "a FIFO", "a link"])
def test_a_damaged_entry_is_prepared_again_without_an_error(tmp_path, cache, damage):
    prepare = Preparer(_source(tmp_path))
    good = cached_dataset("toy", [prepare.source], prepare)
    (entry,) = cache.iterdir()
    array = next(entry.glob("*.X_train.npy"))
    meta = next(entry.glob("*.json"))
    if damage == "truncated array":
        array.write_bytes(array.read_bytes()[:-40])
    elif damage == "missing array":
        array.unlink()
    elif damage == "bad json":
        meta.write_text("{not json")
    elif damage == "wrong shape":
        np.save(array, np.zeros((5, 2, 3), np.float32))
    elif damage == "a FIFO":  # would block a reader that opened it
        array.unlink()
        os.mkfifo(array)
    else:
        array.unlink()
        array.symlink_to("/dev/zero")
    again = cached_dataset("toy", [prepare.source], prepare)
    assert prepare.calls == 2
    _same(good, again)
    assert cached_dataset("toy", [prepare.source], prepare) is not None and prepare.calls == 2  # written anew


def test_an_unwritable_cache_and_a_missing_source_are_not_errors_of_the_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FRAMEBENCH_CACHE", str(blocker))  # the cache folder cannot be created
    prepare = Preparer(_source(tmp_path))
    _same(cached_dataset("toy", [prepare.source], prepare), prepare())

    def fails() -> Dataset:
        raise FileNotFoundError("the loader's own message")

    with pytest.raises(FileNotFoundError, match="the loader's own message"):
        cached_dataset("toy", [tmp_path / "absent"], fails)


@pytest.mark.parametrize("task", ["mnist", "cifar10"])
def test_real_data_from_the_cache_equals_preparing_it(task, cache):
    """The arrays every engine trains on are bit for bit the ones prepared from the raw files."""
    from tasks import cifar10, mnist
    from tasks.datasets import load_cifar10, load_mnist

    module, raw = {"mnist": (mnist, load_mnist), "cifar10": (cifar10, load_cifar10)}[task]
    try:
        direct = module._prepared(raw())
    except Exception as exc:  # noqa: BLE001 - the data is optional outside CI
        if os.environ.get("FRAMEBENCH_REQUIRE_DATA"):
            raise
        pytest.skip(f"no {task} data: {exc}")
    first, second = module.load(), module.load()
    _same(first, direct)
    _same(second, direct)
    assert len(list(cache.glob(f"{task}-*/*.npy"))) == 4
