"""The encoded-text cache is checked against what the caller (the spec) asks for, not its own claims (issue 22 #10).

A cache entry whose key matches (the key is a hash of public data, anyone can compute it) but whose ids reach past
the spec's vocabulary must be rebuilt, never returned: an id >= num_words indexes past the Embedding's rows.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tasks import text
from tasks.text import encode_dataset

TRAIN = ["the cat sat on the mat", "a dog ate my homework", "the dog and the cat"]
TEST = ["the bird sat", "my cat"]
Y_TRAIN, Y_TEST = np.array([0, 1, 0]), np.array([1, 0])
SETTINGS = {"num_words": 8, "maxlen": 5}


def _cache_file(tmp_path) -> tuple:  # noqa: ANN001
    first = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, **SETTINGS, cache_dir=tmp_path)
    [path] = tmp_path.glob("text-*.npz")
    with np.load(path, allow_pickle=False) as data:
        return first, path, {name: data[name] for name in data.files}


def _rewrite(path, arrays: dict) -> None:  # noqa: ANN001
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("change", [
    lambda a: {**a, "X_train": np.full_like(a["X_train"], 20_000), "vocab_size": np.array(30_000)},  # ids past the spec
    lambda a: {**a, "X_train": np.full_like(a["X_train"], 9), "vocab_size": np.array(10)},  # 10 > num_words 8
    lambda a: {**a, "X_test": np.full_like(a["X_test"], -1)},
    lambda a: {**a, "X_train": a["X_train"].astype(np.int64)},
    lambda a: {**a, "y_train": 1 - a["y_train"]},  # labels that are not the given ones
    lambda a: {**a, "X_train": a["X_train"][:, :3]},
    lambda a: {**a, "extra": np.zeros(1)},
    lambda a: {**a, "vocab_size": np.array([8, 8])},
], ids=["ids-past-spec", "vocab-over-spec", "negative", "int64", "labels", "shape", "extra", "vocab-array"])  # fmt: skip
def test_a_cache_that_does_not_fit_the_spec_is_rebuilt(tmp_path, change):
    first, path, arrays = _cache_file(tmp_path)
    _rewrite(path, change(arrays))
    rebuilt = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, **SETTINGS, cache_dir=tmp_path)
    assert not rebuilt.from_cache
    assert rebuilt.X_train.max() < SETTINGS["num_words"] and np.array_equal(rebuilt.X_train, first.X_train)
    assert encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, **SETTINGS, cache_dir=tmp_path).from_cache  # rewritten


def test_a_valid_cache_is_used(tmp_path):
    first, _, _ = _cache_file(tmp_path)
    again = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, **SETTINGS, cache_dir=tmp_path)
    assert again.from_cache and again.vocab_size == first.vocab_size and np.array_equal(again.X_test, first.X_test)


@pytest.mark.parametrize("make", ["fifo", "dev-zero"])
def test_a_special_file_in_place_of_the_cache_is_not_read(tmp_path, make):
    key = text.cache_key(TRAIN, Y_TRAIN, TEST, Y_TEST, {**SETTINGS, "padding": "pre", "truncating": "pre"})
    path = tmp_path / f"text-{key[:32]}.npz"
    os.mkfifo(path) if make == "fifo" else os.symlink("/dev/zero", path)
    encoded = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, **SETTINGS, cache_dir=tmp_path)  # no hang, no /dev/zero read
    assert not encoded.from_cache and path.is_file() and not path.is_symlink()  # replaced by a real cache file
