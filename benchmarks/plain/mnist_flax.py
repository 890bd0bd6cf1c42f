"""MNIST MLP the way a Flax user writes it: an nnx.Module, optax.adam, an @nnx.jit train step."""

from __future__ import annotations

from common import arrays, parse, report

args = parse(__doc__)
from flax_common import setup, train  # noqa: E402

setup(args.threads)
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

X_np, y_np = arrays("mnist", args.data_dir, args.subset)
X, y = X_np, y_np.astype(np.int32)


class MLP(nnx.Module):
    """784 -> 256 -> 128 -> 10 logits."""

    def __init__(self, rngs: nnx.Rngs):
        self.linear1 = nnx.Linear(784, 256, rngs=rngs)
        self.linear2 = nnx.Linear(256, 128, rngs=rngs)
        self.out = nnx.Linear(128, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.linear2(nnx.relu(self.linear1(x)))))


model = MLP(nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)


@nnx.jit
def train_step(model, optimizer, X, y):
    def loss_fn(model):
        return optax.softmax_cross_entropy_with_integer_labels(model(X), y).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


cached_step = nnx.cached_partial(train_step, model, optimizer)
report(train(lambda m, o, X, y: cached_step(X, y), model, optimizer, X, y, batch_size=128, epochs=args.epochs), len(X))
