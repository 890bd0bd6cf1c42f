"""Digits MLP: 64 -> Dense 64 -> ReLU -> Dense 10 (logits), on scikit-learn's bundled 8x8 digits.

The data ships inside scikit-learn (1,797 images, `sklearn/datasets/data/digits.csv.gz`, the file
`sklearn.datasets.load_digits` reads), so this task needs no data folder and no network. It is
read here without importing scikit-learn, so the PyTorch and Keras rows do not carry its memory.
Pixels are counts 0..16, scaled by /16 to [0, 1]. A fixed split, the same for every seed and
framework: a permutation drawn from `SPLIT_SEED` puts 1,437 images in the training set and the
other 360 in the test set. Softmax cross-entropy on the logits, Adam (lr 1e-2), batch 64 (so that the dry run's one
batch holds every class), 10 epochs. Glorot-uniform kernels and zero biases, drawn once in NumPy.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from tasks.download import DataError
from tasks.pipeline import Dataset
from tasks.spec import SPEC_MODEL, BaselineSpec, Dense, DataSpec, InitSpec, ModelSpec, OptimizerSpec, ReLU, TaskSpec, Tolerances, TrainSpec

NUM_IMAGES, NUM_TEST = 1797, 360  # the bundled file's size; 360 (20%) held out for testing
SPLIT_SEED = 20  # fixes the train/test split; independent of the training seed

SPEC = TaskSpec(
    name="digits",
    title="Digits MLP 64-64-10 (8x8, offline)",
    data=DataSpec(name="digits", num_classes=10, preprocessing="pixel counts / 16 in [0, 1], 64 features"),
    model=ModelSpec(input_shape=(64,), layers=(Dense(64), ReLU(), Dense(10)), loss="cross_entropy"),
    init=InitSpec(kernel="glorot_uniform", bias="zeros"),
    optimizer=OptimizerSpec(name="adam", lr=1e-2, beta_1=0.9, beta_2=0.999, eps=1e-8, eps_style="corrected"),
    train=TrainSpec(batch_size=64, epochs=10, seed=0),
    baselines=(
        BaselineSpec("logistic_regression", "multinomial logistic regression on the [0, 1] pixels"),
        BaselineSpec(SPEC_MODEL, "the spec's own MLP, trained by the baseline library on the shared batches"),
    ),
    target_accuracy=0.95,
    tolerances=Tolerances(),
)


def bundled_file() -> Path:
    """scikit-learn's digits.csv.gz, found without importing scikit-learn."""
    # the one place tasks/ names a library: it reads a data file that library ships (tests/test_adapters.py allows it)
    found = importlib.util.find_spec("sklearn")
    if found is None or not found.submodule_search_locations:
        raise DataError("the digits task reads scikit-learn's bundled digits.csv.gz: install scikit-learn")
    path = Path(list(found.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
    if not path.is_file():
        raise DataError(f"{path} is missing: reinstall scikit-learn, which ships it")
    return path


def split(num_images: int = NUM_IMAGES) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and test images: a permutation from SPLIT_SEED, the last NUM_TEST for testing."""
    order = np.random.default_rng(SPLIT_SEED).permutation(num_images)
    return order[: num_images - NUM_TEST], order[num_images - NUM_TEST :]


def load(data_dir: str | None = None) -> Dataset:
    """The bundled digits, scaled to [0, 1] (float32), split 1,437 / 360; `data_dir` is not needed."""
    path = bundled_file()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    if table.shape != (NUM_IMAGES, 65):
        raise DataError(f"{path} holds a {table.shape} table, not the {NUM_IMAGES} x 65 of scikit-learn's digits")
    X, y = (table[:, :64] / 16.0).astype(np.float32), table[:, 64].astype(np.int64)
    train, test = split(len(y))
    return Dataset(
        X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test],
        name="Digits", source=str(path), canonical=True,
    )  # fmt: skip
