"""Where Keras-on-TensorFlow's steady training epoch goes, graph (`--mode eager`) against XLA (`--mode compiled`):
TensorFlow's own profiler.

Builds the task's spec network with the workbench's own Keras adapter on TensorFlow, in each mode, on random inputs
of the task's shape; runs one warm-up epoch (tracing, XLA compilation), times `--repeats` epochs, then traces one
more with `tf.profiler.experimental` and prints, from the trace's host events (its XSpace file), the events that
took the most time: TensorFlow's kernels in graph mode, XLA's launch and its compiled program with XLA. Run it on a
quiet machine (the numbers are the machine's).

    python benchmarks/keras_xla_profile.py [--task digits] [--samples N] [--threads 2] [--repeats 3] [--rows 14]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402 - after the backend is named
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from adapter_epochs import random_training_set, timed_network  # noqa: E402 - beside this script
from frameworks import keras as keras_adapter  # noqa: E402
from tasks import registry  # noqa: E402


def host_events(logdir: str) -> tuple[collections.Counter, collections.Counter]:
    """(total microseconds, calls) per event name over the trace's host threads (the /host:CPU plane)."""
    total, calls = collections.Counter(), collections.Counter()
    for path in Path(logdir).rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace.FromString(path.read_bytes())
        for plane in space.planes:
            if plane.name != "/host:CPU":
                continue
            names = {i: m.name for i, m in plane.event_metadata.items()}
            for line in plane.lines:
                for event in line.events:
                    total[names[event.metadata_id]] += event.duration_ps / 1e6
                    calls[names[event.metadata_id]] += 1
    return total, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits", choices=registry.names())
    parser.add_argument("--samples", type=int, default=None, help="random training samples (default: the task's training set size)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per mode (default 3)")
    parser.add_argument("--rows", type=int, default=14, help="events shown per mode (default 14)")
    args = parser.parse_args()
    spec = registry.get(args.task).spec
    samples = args.samples or {"digits": 1437}.get(args.task, 12000)
    data = random_training_set(spec, samples)
    steps = -(-samples // spec.train.batch_size)
    for mode in ("eager", "compiled"):
        network, steady = timed_network(keras_adapter, spec, mode, args.threads, data, args.repeats)
        with tempfile.TemporaryDirectory() as logdir:
            tf.profiler.experimental.start(logdir)
            network.fit_epoch(data[2], lambda n: None)
            tf.profiler.experimental.stop()
            total, calls = host_events(logdir)
        print(f"=== {args.task} keras {mode} ({keras_adapter.MODES[mode].split(':')[0]}): steady epoch {steady:.4f} s "
              f"(median of {args.repeats}), {steps} steps, {steady / steps * 1e3:.3f} ms per step")  # fmt: skip
        print(f"{'host event':60} {'ms':>9} {'calls':>7} {'us/call':>9}")
        for name, us in total.most_common(args.rows):
            print(f"{name[:60]:60} {us / 1e3:9.2f} {calls[name]:7d} {us / calls[name]:9.1f}")


if __name__ == "__main__":
    main()
