"""--augment native for the three Keras adapters: Keras' own preprocessing layers, on whichever backend is set.

keras.layers.RandomCrop crops every image of a batch at the same corner (its docstring says so:
"The layer will crop all the images in the same batch to the same cropping location"); RandomFlip
draws one flip per image. Keras has no padding option in RandomCrop: ZeroPadding2D comes first.
Import this module after the backend is chosen (frameworks/keras.py does).
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from frameworks.base import RunSettings
from tasks.pipeline import batch_slices
from tasks.spec import TaskSpec

Augment = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (X NHWC, the epoch's order, epoch) -> augmented X


def make_pipeline(spec: TaskSpec) -> keras.Sequential:
    """ZeroPadding2D + RandomCrop + RandomFlip('horizontal') for the spec's augmentation, seeded from the spec seed."""
    aug, (H, W, _) = spec.data.augment, spec.model.input_shape
    layers = []
    if aug.crop_padding:
        layers += [keras.layers.ZeroPadding2D(aug.crop_padding), keras.layers.RandomCrop(H, W, seed=spec.train.seed)]
    if aug.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=spec.train.seed + 1))
    return keras.Sequential(layers)


def augment_native(spec: TaskSpec, settings: RunSettings) -> tuple[Augment, str]:
    """The epoch's images through the Keras layers, one training batch per call (training=True)."""
    pipeline, batch_size = make_pipeline(spec), spec.train.batch_size

    def augment(X: np.ndarray, order: np.ndarray, epoch: int) -> np.ndarray:
        out = np.empty_like(X)
        for batch in batch_slices(len(order), batch_size):
            idx = order[batch]
            out[idx] = keras.ops.convert_to_numpy(pipeline(X[idx], training=True))
        return out

    return augment, "keras.layers ZeroPadding2D + RandomCrop + RandomFlip, per batch (RandomCrop: one corner per batch)"
