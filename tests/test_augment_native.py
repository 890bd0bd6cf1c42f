"""--augment native: each adapter's own crop + flip gives valid crops, and where it draws one corner per batch.

The difference measured here (docs/differences.md): keras.layers.RandomCrop crops every image of a
batch at the same corner, while torchvision's RandomCrop (per image, in a Dataset), the PyTorch
adapter's torch ops and the JAX adapter's jax.random crop draw one corner per image.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from frameworks.base import RunSettings
from tasks import cifar10
from tasks.augment import reference_crop_flip, with_augment

SPEC = with_augment(cifar10.SPEC, "native")
PADDING = SPEC.data.augment.crop_padding
CANDIDATES = [(c, f) for c in itertools.product(range(2 * PADDING + 1), repeat=2) for f in (False, True)]
# framework -> (needs, one corner per batch)
NATIVE = {"pytorch": ("torch", False), "jax": ("jax", False), "keras": ("tensorflow", True)}


def identify(image: np.ndarray, augmented: np.ndarray) -> tuple[tuple[int, int], bool]:
    """The (corner, flip) of the shared reference that turns image into augmented; fails if there is none."""
    matches = [(c, f) for c, f in CANDIDATES if np.array_equal(reference_crop_flip(image, c, f, PADDING), augmented)]
    assert len(matches) == 1, f"{len(matches)} crops match"
    return matches[0]


@pytest.mark.parametrize("framework", sorted(NATIVE))
def test_native_augmentation_is_a_padded_crop_and_flip(framework):
    needs, one_corner_per_batch = NATIVE[framework]
    pytest.importorskip(needs)
    from frameworks.base import load_adapter_module

    module = load_adapter_module(framework)
    settings = RunSettings(threads=1, progress=False)
    module.configure(settings)
    augment, label = module.augment_native(SPEC, settings)
    rng = np.random.default_rng(0)
    X = (rng.random((64, 32, 32, 3)) + 0.5).astype(np.float32)  # no zeros: the padding is recognisable
    order = rng.permutation(64)
    batch = SPEC.train.batch_size  # 256: the 64 images are one batch
    out = augment(X, order, 1)
    assert out.shape == X.shape and out.dtype == X.dtype and batch >= 64
    found = [identify(X[i], out[i]) for i in range(64)]
    corners = {c for c, _ in found}
    flips = [f for _, f in found]
    assert 10 < sum(flips) < 54  # flips are drawn per image in every framework
    if one_corner_per_batch:
        assert len(corners) == 1, label  # keras.layers.RandomCrop: the whole batch at one corner
        assert "one corner per batch" in label
    else:
        assert len(corners) > 20, label  # one corner per image
    assert not np.array_equal(augment(X, order, 2), out)  # the next epoch draws again
