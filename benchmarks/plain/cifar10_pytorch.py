"""CIFAR-10 CNN the way a PyTorch user writes it: torchvision.datasets.CIFAR10 + DataLoader where torchvision imports
(the GPU profile), else NCHW tensors in memory, randperm and slicing; Adam."""

from __future__ import annotations

import time

from common import arrays, parse, report, torchvision_loader

args = parse(__doc__)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
batch_size = 256
loaded = None if args.loader == "numpy" else torchvision_loader("cifar10", args.data_dir, args.subset, batch_size,
                                                                 args.workers, pin_memory=device.type == "cuda")  # fmt: skip
if loaded is None:
    if args.loader == "torchvision":
        raise SystemExit("cifar10_pytorch.py: --loader torchvision, but torchvision cannot be imported")
    X_np, y_np = arrays("cifar10", args.data_dir, args.subset)
    X = torch.from_numpy(np.ascontiguousarray(X_np.transpose(0, 3, 1, 2))).to(device)  # NHWC -> NCHW once
    y = torch.from_numpy(y_np).to(device)
    num_samples = len(X)
else:
    loader, num_samples = loaded  # ToTensor gives NCHW already


def block(c_in: int, c_out: int) -> list[nn.Module]:
    """conv3x3 -> BatchNorm -> ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


model = nn.Sequential(
    *block(3, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2), *block(64, 64),
    nn.Flatten(), nn.Linear(8 * 8 * 64, 64), nn.ReLU(), nn.Linear(64, 10),
).to(device)  # fmt: skip
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
loss_fn = nn.CrossEntropyLoss()


def batches():  # noqa: ANN201 - an iterator of (X, y) on the device
    """The epoch's batches: from the DataLoader (workers decode, normalise and batch), or slices of the tensors."""
    if loaded is not None:
        for X_batch, y_batch in loader:
            yield X_batch.to(device, non_blocking=True), y_batch.to(device, non_blocking=True)
        return
    perm = torch.randperm(len(X), device=device)
    for i in range(0, len(X), batch_size):
        idx = perm[i : i + batch_size]
        yield X[idx], y[idx]


epoch_seconds = []
for epoch in range(args.epochs):
    start = time.perf_counter()
    model.train()
    for X_batch, y_batch in batches():
        optimizer.zero_grad()
        loss = loss_fn(model(X_batch), y_batch)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()  # the clock is read after the GPU has finished
    epoch_seconds.append(time.perf_counter() - start)
report(epoch_seconds, num_samples)
