"""MNIST MLP the way a PyTorch user writes it: torchvision.datasets.MNIST + DataLoader where torchvision imports
(the GPU profile), else in-memory tensors, randperm and slicing; Adam."""

from __future__ import annotations

import time

from common import arrays, parse, report, torchvision_loader

args = parse(__doc__)
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
batch_size = 128
loaded = None if args.loader == "numpy" else torchvision_loader("mnist", args.data_dir, args.subset, batch_size, args.workers,
                                                                 pin_memory=device.type == "cuda")  # fmt: skip
if loaded is None:
    if args.loader == "torchvision":
        raise SystemExit("mnist_pytorch.py: --loader torchvision, but torchvision cannot be imported")
    X_np, y_np = arrays("mnist", args.data_dir, args.subset)
    X, y = torch.from_numpy(X_np).to(device), torch.from_numpy(y_np).to(device)
    num_samples = len(X)
else:
    loader, num_samples = loaded

model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()


def batches():  # noqa: ANN201 - an iterator of (X, y) on the device
    """The epoch's batches: from the DataLoader (workers decode and batch), or slices of the in-memory tensors."""
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
