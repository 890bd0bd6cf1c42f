"""The shared NumPy data pipeline: prepared arrays, subsets, and the seeded batch order.

Every adapter receives the same arrays and, each epoch, the same permutation, so the
frameworks see identical batches in identical order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Preprocessed arrays shared by every framework, plus where they came from."""

    X_train: np.ndarray  # float32 features (canonical layout) or int32 token ids
    y_train: np.ndarray  # int64 labels
    X_test: np.ndarray
    y_test: np.ndarray
    name: str  # e.g. "MNIST"
    source: str  # folder or archive the raw data was read from
    canonical: bool  # the complete, canonical dataset
    warnings: tuple[str, ...] = ()  # shown in the table header
    train_texts: tuple[str, ...] | None = None  # raw reviews, for text baselines
    test_texts: tuple[str, ...] | None = None

    def describe(self) -> str:
        """One line for the table header."""
        kind = "canonical" if self.canonical else "NOT canonical"
        return f"{self.name} ({kind}): {len(self.y_train)} train / {len(self.y_test)} test, from {self.source}"


class SubsetError(ValueError):
    """--subset or --test-subset asks for more samples than the data has."""


def subset(data: Dataset, num_train: int | None = None, num_test: int | None = None) -> Dataset:
    """The first `num_train` training and `num_test` test samples (None keeps all)."""
    if num_train is not None and num_train > len(data.y_train):
        raise SubsetError(f"--subset {num_train} is larger than the {len(data.y_train)} training samples of {data.name}")
    if num_test is not None and num_test > len(data.y_test):
        raise SubsetError(f"--test-subset {num_test} is larger than the {len(data.y_test)} test samples of {data.name}")
    tr, te = slice(num_train), slice(num_test)
    return replace(
        data,
        X_train=data.X_train[tr],
        y_train=data.y_train[tr],
        X_test=data.X_test[te],
        y_test=data.y_test[te],
        train_texts=None if data.train_texts is None else data.train_texts[tr],
        test_texts=None if data.test_texts is None else data.test_texts[te],
    )


def epoch_order(seed: int, epoch: int, num_samples: int) -> np.ndarray:
    """The permutation of training samples for one epoch; a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(num_samples)


def batch_slices(num_samples: int, batch_size: int) -> list[slice]:
    """Consecutive batches over an epoch's order; the last one may be smaller (as in Keras' fit)."""
    return [slice(start, min(start + batch_size, num_samples)) for start in range(0, num_samples, batch_size)]


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Share of correct predictions from logits: argmax for classes, logit > 0 for one output."""
    if logits.shape[-1] == 1:
        predicted = (logits[:, 0] > 0).astype(y.dtype)
    else:
        predicted = logits.argmax(axis=-1)
    return float(np.mean(predicted == y))


def mean_loss(logits: np.ndarray, y: np.ndarray, kind: str | None = None) -> float:
    """The spec loss `kind` (default: cross-entropy, softmax for classes, sigmoid for one output), float64: the reference's."""
    from tasks.reference import loss

    return loss(logits, y, kind or ("binary_cross_entropy" if logits.shape[-1] == 1 else "cross_entropy"))
