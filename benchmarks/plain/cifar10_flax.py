"""CIFAR-10 CNN the way a Flax user writes it: NHWC arrays, nnx.Conv + BatchNorm, optax.adam, @nnx.jit."""

from __future__ import annotations

from common import arrays, parse, report

args = parse(__doc__)
from flax_common import setup, train  # noqa: E402

setup(args.threads)
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

X_np, y_np = arrays("cifar10", args.data_dir, args.subset)
X, y = X_np, y_np.astype(np.int32)  # NHWC: Flax's own layout


class Block(nnx.Module):
    """conv3x3 -> BatchNorm -> ReLU."""

    def __init__(self, c_in: int, c_out: int, rngs: nnx.Rngs):
        self.conv = nnx.Conv(c_in, c_out, (3, 3), padding="SAME", rngs=rngs)
        self.norm = nnx.BatchNorm(c_out, momentum=0.9, rngs=rngs)

    def __call__(self, x):
        return nnx.relu(self.norm(self.conv(x)))


class CNN(nnx.Module):
    """3 conv blocks 32-64-64 with 2x2 max pooling, Dense 64, Dense 10 logits."""

    def __init__(self, rngs: nnx.Rngs):
        self.block1, self.block2, self.block3 = Block(3, 32, rngs), Block(32, 64, rngs), Block(64, 64, rngs)
        self.dense = nnx.Linear(8 * 8 * 64, 64, rngs=rngs)
        self.out = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        pool = lambda x: nnx.max_pool(x, (2, 2), strides=(2, 2))  # noqa: E731
        x = self.block3(pool(self.block2(pool(self.block1(x)))))
        return self.out(nnx.relu(self.dense(x.reshape(x.shape[0], -1))))


model = CNN(nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(2e-3), wrt=nnx.Param)


@nnx.jit
def train_step(model, optimizer, X, y):
    def loss_fn(model):
        return optax.softmax_cross_entropy_with_integer_labels(model(X), y).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


report(train(train_step, model, optimizer, X, y, batch_size=256, epochs=args.epochs), len(X))
