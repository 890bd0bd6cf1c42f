"""What every plain script shares: flags, the task's arrays, and the JSON line it prints."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse(description: str):  # noqa: ANN201 - argparse.Namespace
    """--epochs, --subset, --threads, --data-dir."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=3, help="epochs (default: 3)")
    p.add_argument("--subset", type=int, default=None, help="first N training samples (default: all)")
    p.add_argument("--threads", type=int, default=2, help="framework threads (default: 2)")
    p.add_argument("--data-dir", default=None, help="data folder (default: $FRAMEBENCH_DATA or cache)")
    return p.parse_args()


def arrays(task: str, data_dir: str | None, subset: int | None):  # noqa: ANN201
    """The task's training arrays, as any user would get them from a loader: (X, y)."""
    from tasks import registry

    data = registry.get(task).load(data_dir)
    n = subset or len(data.y_train)
    return data.X_train[:n], data.y_train[:n]


def report(epoch_seconds: list[float], num_samples: int) -> None:
    """Print one JSON line: per-epoch times and the steady-state throughput (epochs after the first)."""
    steady = statistics.median(epoch_seconds[1:]) if len(epoch_seconds) > 1 else epoch_seconds[0]
    print(json.dumps({"epoch_seconds": epoch_seconds, "throughput": num_samples / steady}))
