"""IMDB transformer the way a PyTorch user writes it: nn.TransformerEncoder (pre-LN), a padding mask, mean pooling, Adam."""

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


class SentimentTransformer(nn.Module):
    """Token + learned position embeddings (64) -> 2 pre-LN encoder layers (4 heads, FFN 128, GELU) -> masked mean -> logit."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = nn.Embedding(20000, 64)
        self.positions = nn.Embedding(200, 64)
        layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.out = nn.Linear(64, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        padding = ids == 0  # True = ignore, torch's key_padding_mask convention
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        x = self.encoder(x, src_key_padding_mask=padding)
        keep = (~padding).unsqueeze(-1).float()
        return self.out((x * keep).sum(1) / keep.sum(1).clamp(min=1.0))


model = SentimentTransformer()
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
