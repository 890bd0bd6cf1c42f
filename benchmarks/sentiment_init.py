"""What initialisation alone does to the sentiment LSTM: canonical (Keras-style) vs PyTorch's defaults.

    FRAMEBENCH_DATA=/tmp/fbdata python benchmarks/sentiment_init.py --init native --epochs 2

Trains the PyTorch adapter on the shared batches and prints test accuracy after each epoch.
"canonical" loads the spec's NumPy weights (embedding U(-0.05, 0.05), Glorot, orthogonal,
forget bias 1). "native" keeps what `nn.Embedding`/`nn.LSTM`/`nn.Linear` draw by
themselves (embedding N(0, 1), LSTM U(+-1/sqrt(64)) incl. both biases, both trained).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from frameworks import pytorch as torch_adapter  # noqa: E402
from frameworks.base import RunSettings  # noqa: E402
from tasks.init import init_weights  # noqa: E402
from tasks.pipeline import accuracy, epoch_order, subset  # noqa: E402
from tasks.sentiment import SPEC, load  # noqa: E402


def main() -> None:
    """Train once with the chosen init and print accuracy per epoch."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--init", default="canonical", choices=("canonical", "native"),
                   help="initial weights: the spec's, or PyTorch's own draw (default: canonical)")
    p.add_argument("--epochs", type=int, default=SPEC.train.epochs, help="epochs (default: the spec's)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and batch order (default: 0)")
    p.add_argument("--subset", type=int, default=None, help="first N training samples (default: all)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    args = p.parse_args()

    data = load()
    data = subset(data, args.subset) if args.subset else data
    settings = RunSettings(threads=args.threads, seed=args.seed, progress=False)
    torch_adapter.configure(settings)
    adapter = torch_adapter.Adapter(SPEC, settings)
    adapter.build(init_weights(SPEC.model, SPEC.init, args.seed))
    if args.init == "native":
        torch.manual_seed(args.seed)
        for module in adapter.model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()  # the framework's own default draw
        for param in adapter.model.parameters():
            param.requires_grad_(True)  # plain nn.LSTM trains both of its biases
        adapter.optimizer = torch_adapter.make_optimizer(SPEC.optimizer, adapter.model.parameters())
    adapter.set_train_data(data.X_train, data.y_train)
    print(f"init={args.init} seed={args.seed} train={len(data.y_train)} test={len(data.y_test)}")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss = adapter.fit_epoch(epoch_order(args.seed, epoch, len(data.y_train)), lambda n: None)
        acc = accuracy(adapter.predict(data.X_test), data.y_test)
        print(f"epoch {epoch}: train loss {loss:.4f}  test acc {100 * acc:.2f}%  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
