"""A trivial adapter that works: constant zero logits, loss log(10). The faulty ones override one step."""

from __future__ import annotations

import math

import numpy as np

from typing import Callable

from frameworks.base import OnBatch, RunSettings, Weights
from tasks.pipeline import batch_slices
from tasks.spec import TaskSpec


def version() -> str:
    """The framework's version string."""
    return "0.0-fault"


def configure(settings: RunSettings) -> str:
    """Nothing to set up; runs on the CPU."""
    return "cpu"


DTYPES = {"float32": "float32", "float64": "float64"}


def peak_gpu_mb() -> float | None:
    """No GPU."""
    return None


def unsupported(spec: TaskSpec) -> str | None:
    """Nothing to refuse: it computes nothing real, whatever the network, optimizer or loss."""
    return None


class Network:
    """Predicts every class equally likely; trains nothing."""

    kind = "network"
    model_label = "fault adapter"

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str):
        self.spec, self.num_classes, self.epoch = spec, spec.model.layers[-1].units, 0

    def build(self, weights: Weights) -> None:
        """Keeps nothing: the model has no weights."""

    def num_params(self) -> int:
        """No trainable parameters."""
        return 0

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Nothing to convert."""

    def epoch_loss(self) -> float:
        """The mean loss this epoch reports: uniform predictions over the classes."""
        return math.log(self.num_classes)

    def set_learning_rate(self, lr: float) -> None:
        """Nothing to change: this adapter does not learn."""

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """Counts the batches and returns `epoch_loss()`."""
        self.epoch += 1
        for batch in batch_slices(len(order), self.spec.train.batch_size):
            on_batch(len(order[batch]))
        return self.epoch_loss()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Zero logits for every class."""
        return np.zeros((len(X), self.num_classes), dtype=np.float32)


def creator(cls: type) -> Callable[[TaskSpec, RunSettings, str], Network]:
    """The module's `create`: every row is a `cls`."""
    return lambda spec, settings, model: cls(spec, settings, model)


create = creator(Network)
