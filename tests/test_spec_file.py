"""A user's spec file: every example reads, and every bad file gives one line naming the key path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tasks.spec import Conv2D, Dense, count_params
from tasks.spec_file import VOCABULARY, SpecFileError, read_spec_file
from tasks.user_data import UserDataError, load_spec_data

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))
MLP = """
name = "mlp"
[data]
file = "data.npz"
num_classes = 3
[model]
input_shape = [4]
[[model.layers]]
type = "Dense"
units = 5
[[model.layers]]
type = "ReLU"
[[model.layers]]
type = "Dense"
units = 3
"""


def _data(folder: Path, **changes: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    arrays = {"X_train": rng.standard_normal((20, 4)).astype(np.float32), "y_train": rng.integers(0, 3, 20),
              "X_test": rng.standard_normal((6, 4)).astype(np.float32), "y_test": rng.integers(0, 3, 6)}  # fmt: skip
    np.savez(folder / "data.npz", **{**arrays, **changes})


def _spec(folder: Path, text: str, suffix: str = ".toml") -> Path:
    path = folder / f"net{suffix}"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_read(path):
    spec = read_spec_file(path)
    assert spec.name and count_params(spec.model) > 0


def test_a_file_and_its_data(tmp_path):
    _data(tmp_path)
    spec = read_spec_file(_spec(tmp_path, MLP))
    assert spec.model.layers[0] == Dense(5) and spec.data.source.file == str(tmp_path / "data.npz")
    assert spec.train.epochs == 5 and spec.optimizer.name == "adam"  # omitted: the dataclasses' defaults
    data = load_spec_data(spec, None)
    assert data.X_train.dtype == np.float32 and data.y_train.dtype == np.int64 and data.X_test.shape == (6, 4)


def test_json_is_the_same_spec(tmp_path):
    import tomllib

    _data(tmp_path)
    assert read_spec_file(_spec(tmp_path, json.dumps(tomllib.loads(MLP)), ".json")) == read_spec_file(_spec(tmp_path, MLP))


def test_graph_form_with_residual_adds():
    spec = read_spec_file(next(p for p in EXAMPLES if p.stem == "residual_mlp_digits"))
    assert spec.model.inputs and any(len(sources) == 2 for sources in spec.model.inputs)


BAD = [
    (MLP.replace('type = "ReLU"', 'type = "Relu"'), r"model\.layers\[1\]\.type: unknown type 'Relu'; valid: Dense, ReLU, Conv2D"),
    (MLP.replace("units = 5", "units = 5\nunit = 6"), r"model\.layers\[0\]\.unit: unknown key; valid: units"),
    (MLP.replace("units = 5", 'units = "five"'), r"model\.layers\[0\]\.units: expected an int, got 'five'"),
    (MLP.replace("units = 5", "units = true"), r"model\.layers\[0\]\.units: expected an int, got True"),
    (MLP.replace("[model]", "[model]\ninput_dtype = \"text\""), r"model\.input_dtype 'text'"),
    (MLP.replace("input_shape = [4]", "input_shape = [2, 2, 1]").replace('type = "Dense"\nunits = 5',
                                                                         'type = "Conv2D"\nfilters = 2'),
     r"model\.layers\[2\] \(Dense\) takes features \(n,\) or a sequence \(L, n\), not the shape \(2, 2, 2\) of "
     r"model\.layers\[1\] \(ReLU\): put a Flatten"),
    (MLP + "[train]\nloss = \"binary_cross_entropy\"\n", r"train\.loss 'binary_cross_entropy' needs labels 0/1, but the data has 3 classes"),
    (MLP.replace("units = 3", "units = 4"), r"model\.layers\[2\] \(Dense\) outputs \(4,\), but train\.loss \"cross_entropy\" needs"),
    (MLP + "[optimizer]\nname = \"adagrad\"\n", r"optimizer: unknown optimizer 'adagrad'"),
    (MLP + "[trian]\nepochs = 1\n", r"trian: unknown key; valid: name, title"),
    (MLP.replace('file = "data.npz"', 'file = "data.npz"\ntask = "digits"'), r"data: give either file"),
    (MLP.replace('name = "mlp"', 'name = "../x"'), r"name '\.\./x': use letters"),
    ("name = 'x'\n[model\n", r"not valid TOML"),
    (MLP.replace('type = "ReLU"', 'type = "__import__(\'os\').system(\'touch pwned\')"'), r"unknown type"),
]


@pytest.mark.parametrize("text, message", BAD, ids=range(len(BAD)))
def test_bad_spec_files_are_one_line_errors(tmp_path, text, message):
    _data(tmp_path)
    with pytest.raises(SpecFileError) as caught:
        read_spec_file(_spec(tmp_path, text))
    assert re.search(message, str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(tmp_path))
    assert not (tmp_path / "pwned").exists()


BAD_DATA = [
    ({"X_train": np.zeros((20, 5), np.float32)}, r"X_train samples have shape \(5,\), but model\.input_shape is \[4\]"),
    ({"y_test": np.array([0, 1, 2, 3, 0, 1])}, r"y_test holds labels 0\.\.3, outside 0\.\.2"),
    ({"X_test": np.full((6, 4), np.nan, np.float32)}, r"X_test: holds NaN"),
    ({"X_train": np.zeros((20, 4), np.int64)}, r"features must be floats"),
    ({"y_train": np.zeros(19, np.int64)}, r"X_train has 20 samples and y_train 19"),
    ({"extra": np.zeros(1)}, r"unexpected extra"),
    ({"y_train": np.array([{"a": 1}] * 20, dtype=object)}, r"cannot be read as arrays"),
]


@pytest.mark.parametrize("changes, message", BAD_DATA, ids=range(len(BAD_DATA)))
def test_bad_data_files_are_one_line_errors(tmp_path, changes, message):
    _data(tmp_path, **changes)
    spec = read_spec_file(_spec(tmp_path, MLP))
    with pytest.raises(UserDataError, match=message):
        load_spec_data(spec, None)


def test_special_files_are_refused_unopened(tmp_path):
    import os

    fifo = tmp_path / "net.toml"
    os.mkfifo(fifo)
    with pytest.raises(SpecFileError, match="not a regular file"):
        read_spec_file(fifo)  # would block forever if it were opened


def test_every_layer_type_is_in_the_vocabulary():
    assert VOCABULARY["Conv2D"] is Conv2D and "MultiHeadSelfAttention" in VOCABULARY and "LSTM" in VOCABULARY


def test_the_docs_page_shows_the_schema_of_today():
    from tasks.spec_file import with_schema

    page = Path(__file__).resolve().parent.parent / "docs" / "own-network.md"
    assert page.read_text() == with_schema(page.read_text()), "run: python -m tasks.spec_file docs/own-network.md"
