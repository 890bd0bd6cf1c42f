"""How much PyTorch's unbiased running variance differs from Keras' biased one after one epoch.

Trains the cifar10 spec in PyTorch for one epoch on the shared batches. A hook on every
BatchNorm keeps a second running variance, updated from the same batches but with the biased
batch variance (Keras' convention), so the two differ only in that convention. Prints, per
layer, the relative difference and the prediction 1/(n-1), n = values per channel in a batch.

    python benchmarks/bn_running_variance.py [--subset N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from frameworks import pytorch  # noqa: E402 - after the path line
from frameworks.base import RunSettings  # noqa: E402
from tasks import registry  # noqa: E402
from tasks.init import init_weights  # noqa: E402
from tasks.pipeline import epoch_order, subset  # noqa: E402


def main() -> None:
    """Train one epoch with a biased shadow running variance and print the differences."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subset", type=int, default=None, help="first N training images (default: all)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $FRAMEBENCH_DATA)")
    args = parser.parse_args()

    task = registry.get("cifar10")
    spec, settings = task.spec, RunSettings(device="cpu", threads=2, progress=False)
    data = task.load(args.data_dir)
    data = subset(data, args.subset) if args.subset else data
    pytorch.configure(settings)
    adapter = pytorch.Adapter(spec, settings)
    adapter.build(init_weights(spec.model, spec.init, spec.train.seed))
    adapter.set_train_data(data.X_train, data.y_train)

    shadows: dict[int, torch.Tensor] = {}
    sizes: dict[int, list[int]] = {}

    def hook(index: int, module: nn.BatchNorm2d):  # noqa: ANN202
        def update(_module: nn.Module, inputs: tuple[torch.Tensor]) -> None:
            if not module.training:
                return
            x = inputs[0].detach()
            biased = x.var(dim=(0, 2, 3), unbiased=False)  # what Keras adds to its moving variance
            shadow = shadows.setdefault(index, module.running_var.clone())
            shadow.mul_(1 - module.momentum).add_(biased, alpha=module.momentum)
            sizes.setdefault(index, []).append(x.numel() // x.shape[1])

        return update

    for i, module in enumerate(adapter.model):
        if isinstance(module, nn.BatchNorm2d):
            module.register_forward_pre_hook(hook(i, module))
    adapter.fit_epoch(epoch_order(spec.train.seed, 1, len(data.y_train)), lambda n: None)

    print(f"cifar10, PyTorch, one epoch on {len(data.y_train)} images, batch {spec.train.batch_size}")
    print("layer            n per channel   mean rel. diff   max rel. diff   1/(n-1)")
    for i, shadow in shadows.items():
        torch_var = adapter.model[i].running_var.double()
        rel = ((torch_var - shadow.double()) / shadow.double()).numpy()
        n = int(np.median(sizes[i]))
        print(f"batchnorm_{i:<7d} {n:>13d}   {rel.mean():>14.2e}   {rel.max():>13.2e}   {1 / (n - 1):.2e}")


if __name__ == "__main__":
    main()
