"""How much of a training step is data handling? Measured for the workbench's adapters.

    python benchmarks/data_overhead.py --task mnist [--subset N] [--epochs 3]

PyTorch: the per-batch gathers X[idx], y[idx] from the in-memory tensors (the adapter's only data work).
Keras: the tf.data pipeline that gathers each batch from the in-memory tensors (it runs ahead of
the step, so this is an upper bound of what it adds). Each is timed alone over one epoch's order
and compared with the median steady-state epoch time (epochs after the first) of the same adapter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from frameworks.base import SPEC_MODEL, RunSettings, load_adapter_module  # noqa: E402
from tasks import registry  # noqa: E402
from tasks.init import init_weights  # noqa: E402
from tasks.pipeline import batch_slices, epoch_order, subset  # noqa: E402


def data_seconds(framework: str, adapter, order, batch_size: int) -> float:  # noqa: ANN001
    """Time of the adapter's data handling for one epoch, alone."""
    start = time.perf_counter()
    if framework == "pytorch":
        import torch

        order_t = torch.as_tensor(order)
        for batch in batch_slices(len(order), batch_size):
            idx = order_t[batch]
            adapter.X[idx], adapter.y[idx]
    else:
        for _ in adapter.epoch_data(order):  # the tf.data gathers, consumed without a model
            pass
    return time.perf_counter() - start


def main() -> None:
    """Print data time, epoch time and their ratio per framework."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="mnist", help="task (default: mnist)")
    p.add_argument("--frameworks", default="pytorch,keras", help="default: pytorch,keras")
    p.add_argument("--subset", type=int, default=None, help="first N training samples (default: all)")
    p.add_argument("--epochs", type=int, default=3, help="epochs; the first is warm-up (default: 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads (default: all cores)")
    args = p.parse_args()
    task = registry.get(args.task)
    data = task.load(None)
    data = subset(data, args.subset) if args.subset else data
    spec, settings = task.spec, RunSettings(threads=args.threads, progress=False)
    for framework in args.frameworks.split(","):
        module = load_adapter_module(framework)
        module.configure(settings)
        adapter = module.Adapter(spec, settings, SPEC_MODEL)
        adapter.build(init_weights(spec.model, spec.init, 0))
        adapter.set_train_data(data.X_train, data.y_train)
        epoch_times, data_times = [], []
        for epoch in range(1, args.epochs + 1):
            order = epoch_order(0, epoch, len(data.y_train))
            start = time.perf_counter()
            adapter.fit_epoch(order, lambda n: None)
            epoch_times.append(time.perf_counter() - start)
            data_times.append(data_seconds(framework, adapter, order, spec.train.batch_size))
        epoch_s, data_s = statistics.median(epoch_times[1:]), statistics.median(data_times[1:])
        print(f"{args.task} {framework}: data handling {data_s * 1e3:.1f} ms per epoch, steady epoch {epoch_s:.2f} s "
              f"-> {100 * data_s / epoch_s:.2f} % of step time")  # fmt: skip


if __name__ == "__main__":
    main()
