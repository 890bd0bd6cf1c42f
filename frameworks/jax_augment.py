"""--augment native for the JAX adapter: crop and flip with jax.random, jitted, one key per epoch and batch."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from frameworks.base import RunSettings
from tasks.pipeline import batch_slices
from tasks.spec import TaskSpec

Augment = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (X NHWC, the epoch's order, epoch) -> augmented X


def crop_flip(key: jax.Array, X: jax.Array, padding: int, flip: bool) -> jax.Array:
    """A random crop of each zero-padded NHWC image (one corner per image) and a flip with probability 1/2."""
    n, H, W, C = X.shape
    corner_key, flip_key = jax.random.split(key)
    corners = jax.random.randint(corner_key, (n, 2), 0, 2 * padding + 1)
    padded = jnp.pad(X, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    out = jax.vmap(lambda image, c: jax.lax.dynamic_slice(image, (c[0], c[1], 0), (H, W, C)))(padded, corners)
    if not flip:
        return out
    flips = jax.random.bernoulli(flip_key, 0.5, (n,))
    return jnp.where(flips[:, None, None, None], out[:, :, ::-1], out)


def augment_native(spec: TaskSpec, settings: RunSettings) -> tuple[Augment, str]:
    """The epoch's images augmented batch by batch with jax.random (key: seed, then epoch, then batch)."""
    aug, batch_size = spec.data.augment, spec.train.batch_size
    step = jax.jit(crop_flip, static_argnames=("padding", "flip"))
    key = jax.random.key(spec.train.seed)

    def augment(X: np.ndarray, order: np.ndarray, epoch: int) -> np.ndarray:
        epoch_key, out = jax.random.fold_in(key, epoch), np.empty_like(X)
        for i, batch in enumerate(batch_slices(len(order), batch_size)):
            idx = order[batch]
            out[idx] = np.asarray(step(jax.random.fold_in(epoch_key, i), X[idx], padding=aug.crop_padding, flip=aug.flip))
        return out

    return augment, "jax.random crop + flip, jitted, per-image corner and flip"
