"""IMDB LSTM the way a Flax user writes it: nnx.Embed -> nnx.RNN(OptimizedLSTMCell) -> Linear, optax.adam, @nnx.jit."""

from __future__ import annotations

from common import arrays, parse, report

args = parse(__doc__)
from flax_common import setup, train  # noqa: E402

setup(args.threads)
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

X_np, y_np = arrays("sentiment", args.data_dir, args.subset)
X, y = X_np.astype(np.int32), y_np.astype(np.float32)


class SentimentLSTM(nnx.Module):
    """Embed(20000, 128) -> LSTM(64), last hidden state -> Linear(64, 1) logit."""

    def __init__(self, rngs: nnx.Rngs):
        self.embed = nnx.Embed(20000, 128, rngs=rngs)
        self.lstm = nnx.RNN(nnx.OptimizedLSTMCell(128, 64, rngs=rngs), return_carry=True)
        self.out = nnx.Linear(64, 1, rngs=rngs)

    def __call__(self, x):
        (_, h), _ = self.lstm(self.embed(x))  # carry (c, h)
        return self.out(h)[:, 0]


model = SentimentLSTM(nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)


@nnx.jit
def train_step(model, optimizer, X, y):
    def loss_fn(model):
        return optax.sigmoid_binary_cross_entropy(model(X), y).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


report(train(train_step, model, optimizer, X, y, batch_size=64, epochs=args.epochs), len(X))
