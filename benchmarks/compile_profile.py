"""Where PyTorch's steady training epoch goes, eager against torch.compile (`--mode compiled`): torch.profiler.

Builds the task's spec network with the workbench's own PyTorch adapter, in each mode, on random inputs of the task's
shape; runs one warm-up epoch (compilation), times `--repeats` epochs, profiles one more, and prints the steady epoch
(median) and the operators that took the most CPU time. Run it on a quiet machine (the numbers are the machine's).

    python benchmarks/compile_profile.py [--task mnist] [--samples 12000] [--threads 1] [--repeats 3] [--rows 14]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapter_epochs import random_training_set, timed_network  # noqa: E402 - beside this script
from frameworks import pytorch  # noqa: E402 - after the path line
from tasks import registry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist", choices=registry.names())
    parser.add_argument("--samples", type=int, default=12000, help="random training samples (default 12000)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per mode (default 3)")
    parser.add_argument("--rows", type=int, default=14, help="operators shown per mode (default 14)")
    args = parser.parse_args()
    spec = registry.get(args.task).spec
    data = random_training_set(spec, args.samples)
    for mode in ("eager", "compiled"):
        network, steady = timed_network(pytorch, spec, mode, args.threads, data, args.repeats)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            network.fit_epoch(data[2], lambda n: None)
        print(f"=== {args.task} {mode}: steady epoch {steady:.3f} s (median of {args.repeats}), {args.samples / steady:,.0f} samples/s")
        print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=60))


if __name__ == "__main__":
    main()
