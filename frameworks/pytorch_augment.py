"""--augment native for the PyTorch adapter: torchvision.transforms.v2 where it imports, else the same ops in torch.

torchvision is an optional companion of torch: its wheels are built for one torch version each, and
where none imports (this project's pinned CPU torch has none installed) the adapter runs the same
semantics with plain torch ops, and its row says so. Both draw from torch's random numbers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from frameworks.base import RunSettings
from tasks.pipeline import batch_slices
from tasks.spec import TaskSpec

Augment = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (X NHWC, the epoch's order, epoch) -> augmented X


def torch_crop_flip(X: torch.Tensor, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """torchvision's RandomCrop(size, padding) + RandomHorizontalFlip() per image of an NHWC batch, in torch ops.

    One corner per image, uniform in [0, 2 * padding] as torchvision draws it, over the zero-padded image.
    """
    n, H, W, _ = X.shape
    padded = torch.nn.functional.pad(X, (0, 0, padding, padding, padding, padding))  # (C), W, H: last dims first
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(H))[:, :, None]  # (n, H, 1)
    cols = (dx[:, None] + torch.arange(W))[:, None, :]  # (n, 1, W)
    out = padded[torch.arange(n)[:, None, None], rows, cols]  # (n, H, W, C)
    if flip:
        flips = torch.rand(n, generator=generator) < 0.5
        out = torch.where(flips[:, None, None, None], out.flip(2), out)
    return out


def _torchvision_transform(spec: TaskSpec):  # noqa: ANN202 - a v2.Compose, or the reason there is none
    """torchvision.transforms.v2 for the spec's augmentation, or (None, why it cannot be imported)."""
    try:
        from torchvision.transforms import v2
    except Exception as exc:  # noqa: BLE001 - missing, or built for another torch (an ImportError or a RuntimeError)
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    aug, (H, W, _) = spec.data.augment, spec.model.input_shape
    steps = [v2.RandomCrop((H, W), padding=aug.crop_padding)] if aug.crop_padding else []
    return v2.Compose(steps + ([v2.RandomHorizontalFlip(p=0.5)] if aug.flip else [])), None


def augment_native(spec: TaskSpec, settings: RunSettings) -> tuple[Augment, str]:
    """The epoch's images augmented by torchvision per image (as a Dataset would), or by torch_crop_flip per batch."""
    aug, batch_size = spec.data.augment, spec.train.batch_size
    transform, why = _torchvision_transform(spec)
    generator = torch.Generator().manual_seed(spec.train.seed)

    def with_torchvision(X: np.ndarray, order: np.ndarray, epoch: int) -> np.ndarray:
        torch.manual_seed(spec.train.seed * 100_003 + epoch)  # v2 transforms draw from torch's global generator
        images = torch.from_numpy(np.ascontiguousarray(X)).permute(0, 3, 1, 2)  # v2 wants CHW images
        return np.stack([transform(images[i]).permute(1, 2, 0).numpy() for i in range(len(X))])

    def with_torch(X: np.ndarray, order: np.ndarray, epoch: int) -> np.ndarray:
        out = np.empty_like(X)
        for batch in batch_slices(len(order), batch_size):
            idx = order[batch]
            out[idx] = torch_crop_flip(torch.from_numpy(X[idx]), aug.crop_padding, aug.flip, generator).numpy()
        return out

    if transform is not None:
        return with_torchvision, "torchvision.transforms.v2 RandomCrop + RandomHorizontalFlip, per image"
    return with_torch, f"torch ops with torchvision's semantics (per-image corner and flip); torchvision not importable: {why}"
