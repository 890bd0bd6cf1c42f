"""IMDB LSTM the way a PyTorch user writes it: Embedding -> LSTM -> Linear, in-memory tensors, Adam."""

from __future__ import annotations

import time

from common import arrays, parse, report

args = parse(__doc__)
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
X_np, y_np = arrays("sentiment", args.data_dir, args.subset)
X, y = torch.from_numpy(X_np).long(), torch.from_numpy(y_np).float().reshape(-1, 1)


class SentimentLSTM(nn.Module):
    """Embedding(20000, 128) -> LSTM(64), last hidden state -> Linear(64, 1) logit."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20000, 128)
        self.lstm = nn.LSTM(128, 64, batch_first=True)
        self.out = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embedding(x))
        return self.out(h[-1])


model = SentimentLSTM()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.BCEWithLogitsLoss()
batch_size = 64

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
