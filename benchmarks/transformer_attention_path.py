"""Where the PyTorch transformer's training time goes: nn.MultiheadAttention's fused path against its weights path.

nn.MultiheadAttention with need_weights=False calls torch's fused F.scaled_dot_product_attention, as
nn.TransformerEncoderLayer (benchmarks/plain/sentiment_transformer_pytorch.py) does and the workbench's PyTorch adapter
does; with need_weights=True, torch's default, it computes the attention explicitly and returns the weights (the
adapter takes that path only for the attention maps: `keep_weights`). This builds `--task sentiment --model
transformer` with the adapter, trains on the first `--samples` real reviews, times `--repeats` steady epochs after a
warm-up epoch on each path, profiles one more epoch of each, and prints the medians and the operators that took the
most CPU time. Run it on a quiet machine (the numbers are the machine's).

    python benchmarks/transformer_attention_path.py [--samples 1024] [--threads 2] [--repeats 3] [--rows 12]
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
from frameworks.pytorch_layers import PaddingMaskedAttention  # noqa: E402
from tasks import registry  # noqa: E402
from tasks.init import init_weights  # noqa: E402

PATHS = {"need_weights=False (fused; the adapter)": False, "need_weights=True (torch's default)": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024, help="the first N real training reviews (default 1024)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per path (default 3)")
    parser.add_argument("--rows", type=int, default=12, help="operators shown per path (default 12)")
    parser.add_argument("--data-dir", default=None, help="data folder (else $FRAMEBENCH_DATA, else the user cache)")
    args = parser.parse_args()
    task = registry.get("sentiment")
    spec = task.variant("transformer")
    data = task.load(args.data_dir)
    n = min(args.samples, len(data.y_train))
    order = np.arange(n)
    settings = RunSettings(dtype="float32", threads=args.threads, progress=False, mode="eager")
    pytorch.configure(settings)
    for name, keep_weights in PATHS.items():
        network = pytorch.create(spec, settings)
        network.build(init_weights(spec.model, spec.init, spec.train.seed))
        for layer in network.model:
            if isinstance(layer, PaddingMaskedAttention):
                layer.keep_weights = keep_weights
        network.set_train_data(data.X_train[:n], data.y_train[:n])
        network.fit_epoch(order, lambda done: None)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            network.fit_epoch(order, lambda done: None)
            times.append(time.perf_counter() - start)
        steady = statistics.median(times)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            network.fit_epoch(order, lambda done: None)
        print(f"=== {name}: steady epoch {steady:.3f} s (median of {args.repeats}), {n / steady:,.0f} samples/s")
        print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=50))


if __name__ == "__main__":
    main()
