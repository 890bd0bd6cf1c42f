"""Shared image augmentation in NumPy: a random crop of the zero-padded image and a random left-right flip.

`--augment` (mode "shared") draws every crop offset and flip from the spec seed and the epoch, in
NumPy, before any framework sees the data: every framework trains on byte-identical augmented
batches, so the equivalence of the rows still holds. The draw for training sample i in epoch e is a
pure function of (seed, e, i): it does not depend on the batch order or on the framework.

Semantics (those of the usual CIFAR-10 recipe, random crop with padding 4 and a horizontal flip):
the image is padded with `crop_padding` zeros on each side, a window of the original size is taken
at a uniformly drawn top-left corner (dy, dx) in [0, 2 * crop_padding], then the window is flipped
left-right with probability 1/2. The images here are already normalised, so a zero is the
training set's mean colour, not black (a pipeline that pads raw pixels pads black).

`--augment native` leaves the arrays alone here and asks each adapter for its own augmentation
ops and random numbers (`augment_native` in frameworks/*.py): the batches then differ by framework.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tasks.spec import AugmentSpec, TaskSpec

MODES = ("shared", "native")  # the values of --augment
AUGMENT_STREAM = 1  # third word of the seed sequence: [seed, epoch] alone is the batch order's (tasks/pipeline.py)


class AugmentError(ValueError):
    """--augment on a task whose spec states no augmentation, or an unknown mode."""


def has_augmentation(spec: TaskSpec) -> bool:
    """True if the task's spec states an augmentation for image inputs (crop padding or flip)."""
    aug = spec.data.augment
    return len(spec.model.input_shape) == 3 and (aug.crop_padding > 0 or aug.flip)


def with_augment(spec: TaskSpec, mode: str | None) -> TaskSpec:
    """The spec with its stated augmentation switched to `mode` ("shared" or "native"; None leaves it off)."""
    if mode is None:
        return spec
    if mode not in MODES:
        raise AugmentError(f"unknown --augment mode {mode!r}: use {' or '.join(MODES)}")
    if not has_augmentation(spec):
        raise AugmentError(f"task {spec.name} has no augmentation (its spec states none): --augment applies to image "
                           "tasks that state one, e.g. cifar10")  # fmt: skip
    return replace(spec, data=replace(spec.data, augment=replace(spec.data.augment, mode=mode)))


def describe(aug: AugmentSpec) -> str:
    """One line for the table header, e.g. 'shared NumPy random crop after padding 4 + flip, ...'."""
    parts = ([f"random crop after padding {aug.crop_padding}"] if aug.crop_padding else []) + (["flip"] if aug.flip else [])
    what = " + ".join(parts)
    if aug.mode == "shared":
        return f"shared NumPy {what}, drawn per epoch from the row's seed: identical batches in every framework"
    if aug.mode == "native":
        return f"native {what}: each framework's own ops and random numbers, so the batches differ by framework"
    return "off"


def draw(aug: AugmentSpec, seed: int, epoch: int, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Crop corners (num_samples, 2) in [0, 2 * crop_padding] and flips (num_samples,) for one epoch, from the seed."""
    rng = np.random.default_rng([seed, epoch, AUGMENT_STREAM])
    corners = rng.integers(0, 2 * aug.crop_padding + 1, size=(num_samples, 2))
    flips = rng.random(num_samples) < 0.5 if aug.flip else np.zeros(num_samples, dtype=bool)
    return corners, flips


def crop_flip(X: np.ndarray, corners: np.ndarray, flips: np.ndarray, padding: int) -> np.ndarray:
    """Each NHWC image cropped at its corner of the `padding`-zero-padded image, then flipped where `flips`.

    The same as np.pad + slice per image (reference_crop_flip), without the padded copy: one shifted
    copy per distinct corner, at most (2 * padding + 1) ** 2 of them.
    """
    out = np.zeros_like(X)
    _, H, W, _ = X.shape
    for dy, dx in np.unique(corners, axis=0):
        idx = np.flatnonzero((corners[:, 0] == dy) & (corners[:, 1] == dx))
        sy, sx = int(dy) - padding, int(dx) - padding  # output pixel (y, x) reads input pixel (y + sy, x + sx)
        y0, y1, x0, x1 = max(0, -sy), min(H, H - sy), max(0, -sx), min(W, W - sx)
        out[idx, y0:y1, x0:x1] = X[idx, y0 + sy : y1 + sy, x0 + sx : x1 + sx]
    out[flips] = out[flips, :, ::-1]
    return out


def reference_crop_flip(image: np.ndarray, corner: tuple[int, int], flip: bool, padding: int) -> np.ndarray:
    """One HWC image the plain way: pad with zeros, slice the window, flip (the tests' reference)."""
    H, W, _ = image.shape
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    window = padded[corner[0] : corner[0] + H, corner[1] : corner[1] + W]
    return window[:, ::-1] if flip else window


def augment_epoch(X: np.ndarray, aug: AugmentSpec, seed: int, epoch: int) -> np.ndarray:
    """The training images of one epoch, augmented: sample i's crop and flip depend on (seed, epoch, i) only."""
    corners, flips = draw(aug, seed, epoch, len(X))
    return crop_flip(X, corners, flips, aug.crop_padding)
