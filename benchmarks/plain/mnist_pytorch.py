"""MNIST MLP the way a PyTorch user writes it: in-memory tensors, randperm, slicing, Adam."""

from __future__ import annotations

import time

from common import arrays, parse, report

args = parse(__doc__)
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
X_np, y_np = arrays("mnist", args.data_dir, args.subset)
X, y = torch.from_numpy(X_np), torch.from_numpy(y_np)

model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
batch_size = 128

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
