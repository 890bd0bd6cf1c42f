"""--augment in a row: the images of each epoch, made by the shared NumPy code or by the adapter's own ops.

The driver calls the function returned here at the start of every epoch, inside the epoch's time, and
hands its result to the network with `set_train_data`: the epoch times of an augmented row include
making its augmented images and handing them over, the whole cost of augmenting.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from frameworks.base import RunSettings
from tasks.augment import augment_epoch
from tasks.pipeline import Dataset
from tasks.spec import TaskSpec

EpochImages = Callable[[int, np.ndarray], np.ndarray]  # (epoch, the epoch's order) -> augmented X_train, sample order


def epoch_images(module, spec: TaskSpec, settings: RunSettings, data: Dataset) -> tuple[EpochImages | None, str]:  # noqa: ANN001
    """(the per-epoch function or None, a note for the row); None with a note means the row is skipped.

    Off: (None, ""). Shared: the NumPy augmentation of tasks/augment.py. Native: the adapter module's
    `augment_native(spec, settings)`, which returns its function and a label naming the ops it uses.
    """
    aug = spec.data.augment
    if aug.mode == "shared":
        return (lambda epoch, order: augment_epoch(data.X_train, aug, spec.train.seed, epoch)), ""
    if aug.mode == "native":
        native = getattr(module, "augment_native", None)
        if native is None:
            return None, f"{module.NAME} has no native augmentation (--augment native)"
        function, label = native(spec, settings)
        X = data.X_train
        return (lambda epoch, order: function(X, order, epoch)), f"native augmentation: {label}"
    return None, ""
