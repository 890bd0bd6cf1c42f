"""MNIST MLP: 784 -> Dense 256 -> ReLU -> Dense 128 -> ReLU -> Dense 10 (logits).

Pixels are scaled to [0, 1] and each 28x28 image is flattened to 784 features. Softmax
cross-entropy on the logits, Adam (lr 1e-3), batch 128, 5 epochs. Glorot-uniform kernels
and zero biases, drawn once in NumPy.
"""

from __future__ import annotations

import numpy as np

from tasks.datasets import ImageData, load_mnist, mnist_files
from tasks.pipeline import Dataset
from tasks.prepared_cache import cached_dataset
from tasks.spec import SPEC_MODEL, BaselineSpec, Dense, DataSpec, InitSpec, ModelSpec, OptimizerSpec, ReLU, TaskSpec, Tolerances, TrainSpec

SPEC = TaskSpec(
    name="mnist",
    title="MNIST MLP 784-256-128-10",
    data=DataSpec(name="mnist", num_classes=10, preprocessing="pixels / 255 in [0, 1], flattened to 784"),
    model=ModelSpec(
        input_shape=(784,),
        layers=(Dense(256), ReLU(), Dense(128), ReLU(), Dense(10)),
        loss="cross_entropy",
    ),
    init=InitSpec(kernel="glorot_uniform", bias="zeros"),
    optimizer=OptimizerSpec(name="adam", lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-8, eps_style="corrected"),
    train=TrainSpec(batch_size=128, epochs=5, seed=0),
    baselines=(
        BaselineSpec("logistic_regression", "multinomial logistic regression on the raw [0, 1] pixels"),
        BaselineSpec(SPEC_MODEL, "the spec's own MLP, trained by the baseline library on the shared batches"),
    ),
    target_accuracy=0.97,
    tolerances=Tolerances(),
)


def load(data_dir: str | None = None) -> Dataset:
    """Real MNIST, scaled to [0, 1] and flattened (float32); prepared once, then mapped from the cache."""
    paths = mnist_files(data_dir)
    return cached_dataset("mnist", list(paths.values()), lambda: _prepared(load_mnist(paths=paths)))


def _prepared(raw: ImageData) -> Dataset:
    def prepare(images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1) / np.float32(255.0)).astype(np.float32)

    return Dataset(
        X_train=prepare(raw.X_train),
        y_train=raw.y_train.astype(np.int64),
        X_test=prepare(raw.X_test),
        y_test=raw.y_test.astype(np.int64),
        name="MNIST",
        source=raw.source,
        canonical=raw.canonical,
        warnings=raw.warnings,
    )
