"""Where PyTorch's steady training epoch goes, eager against torch.compile (`--mode compiled`): torch.profiler.

Builds the task's spec network with the workbench's own PyTorch adapter, in each mode, on random inputs of the task's
shape; runs one warm-up epoch (compilation), times `--repeats` epochs, profiles one more, and prints the steady epoch
(median) and the operators that took the most CPU time. Run it on a quiet machine (the numbers are the machine's).

    python benchmarks/compile_profile.py [--task mnist] [--samples 12000] [--threads 1] [--repeats 3] [--rows 14]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from frameworks import pytorch  # noqa: E402 - after the path line
from frameworks.base import RunSettings  # noqa: E402
from tasks import registry  # noqa: E402
from tasks.init import init_weights  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist", choices=registry.names())
    parser.add_argument("--samples", type=int, default=12000, help="random training samples (default 12000)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per mode (default 3)")
    parser.add_argument("--rows", type=int, default=14, help="operators shown per mode (default 14)")
    args = parser.parse_args()
    spec = registry.get(args.task).spec
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.samples, *spec.model.input_shape)).astype("float32")
    y = rng.integers(0, spec.model.layers[-1].units, args.samples)
    order = np.arange(args.samples)
    for mode in ("eager", "compiled"):
        settings = RunSettings(dtype="float32", threads=args.threads, progress=False, mode=mode)
        pytorch.configure(settings)
        network = pytorch.create(spec, settings)
        network.build(init_weights(spec.model, spec.init, spec.train.seed))
        network.set_train_data(X, y)
        network.fit_epoch(order, lambda n: None)  # warm-up: compilation, allocator
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            network.fit_epoch(order, lambda n: None)
            times.append(time.perf_counter() - start)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            network.fit_epoch(order, lambda n: None)
        steady = statistics.median(times)
        print(f"=== {args.task} {mode}: steady epoch {steady:.3f} s (median of {args.repeats}), {args.samples / steady:,.0f} samples/s")
        print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=60))


if __name__ == "__main__":
    main()
