"""CIFAR-10 CNN the way a PyTorch user writes it: NCHW tensors in memory, randperm, slicing, Adam."""

from __future__ import annotations

import time

from common import arrays, parse, report

args = parse(__doc__)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
X_np, y_np = arrays("cifar10", args.data_dir, args.subset)
X = torch.from_numpy(np.ascontiguousarray(X_np.transpose(0, 3, 1, 2)))  # NHWC -> NCHW once
y = torch.from_numpy(y_np)


def block(c_in: int, c_out: int) -> list[nn.Module]:
    """conv3x3 -> BatchNorm -> ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


model = nn.Sequential(
    *block(3, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2), *block(64, 64),
    nn.Flatten(), nn.Linear(8 * 8 * 64, 64), nn.ReLU(), nn.Linear(64, 10),
)  # fmt: skip
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
loss_fn = nn.CrossEntropyLoss()
batch_size = 256

epoch_seconds = []
for epoch in range(args.epochs):
    start = time.perf_counter()
    model.train()
    perm = torch.randperm(len(X))
    for i in range(0, len(X), batch_size):
        idx = perm[i : i + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        optimizer.step()
    epoch_seconds.append(time.perf_counter() - start)
report(epoch_seconds, len(X))
