"""Why Keras on torch with jit_compile=True (`--mode compiled`) takes minutes on the sentiment LSTM: its first step
(the compilation) against the sequence length.

Keras' torch backend runs a recurrent layer as a Python loop over the time steps (keras/src/backend/torch/rnn.py;
cuDNN only on a GPU), and torch.compile traces that loop step by step, so the graph, and its compilation, grow with the
sequence. Builds the sentiment LSTM with the workbench's own Keras adapter at each length, in one fresh process per
length and mode (a Keras backend is per process), each with an empty inductor cache of its own (a cache left by an
earlier run makes a compile a cache read), and prints the first three steps' times. Run it on a quiet machine.

    python benchmarks/keras_torch_rnn_compile.py [--lengths 5,20,50,100] [--modes compiled,eager] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def first_steps(length: int, mode: str, threads: int) -> list[float]:
    """Seconds of the first three training steps of the sentiment LSTM cut to `length` tokens (in this process)."""
    os.environ["KERAS_BACKEND"] = "torch"
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from frameworks import keras as adapter
    from frameworks.base import RunSettings
    from tasks import registry
    from tasks.init import init_weights

    spec = registry.get("sentiment").variant("lstm")
    spec = replace(spec, model=replace(spec.model, input_shape=(length,)))
    settings = RunSettings(dtype="float32", threads=threads, progress=False, mode=mode)
    adapter.configure(settings)
    network = adapter.create(spec, settings)
    network.build(init_weights(spec.model, spec.init, 0))
    b, rng = spec.train.batch_size, np.random.default_rng(0)
    X, y = rng.integers(1, spec.model.layers[0].vocab_size, size=(3 * b, length)).astype(np.int32), rng.integers(0, 2, 3 * b)
    network.set_train_data(X, y)
    times = []
    for i in range(3):
        start = time.perf_counter()
        network.train_step(X[i * b : (i + 1) * b], y[i * b : (i + 1) * b])
        times.append(time.perf_counter() - start)
    return times


def _lengths(text: str) -> list[int]:
    """--lengths: positive integers, comma-separated (argparse turns the ValueError into a one-line error)."""
    values = [int(part) for part in text.split(",")]
    if not values or min(values) < 1:
        raise ValueError(text)
    return values


def _modes(text: str) -> list[str]:
    modes = text.split(",")
    if not set(modes) <= {"compiled", "eager"}:
        raise ValueError(text)
    return modes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=_lengths, default="5,20,50,100", help="sequence lengths, comma-separated (the task's: 200)")
    parser.add_argument("--modes", type=_modes, default="compiled,eager", help="compiled and/or eager, comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", nargs=2, metavar=("LENGTH", "MODE"), help=argparse.SUPPRESS)  # the child's own run
    args = parser.parse_args()
    if args.one:
        print(" ".join(f"{t:.3f}" for t in first_steps(int(args.one[0]), args.one[1], args.threads)))
        return
    print(f"{'length':>6} {'mode':>9} {'step 1 s':>9} {'step 2 s':>9} {'step 3 s':>9}")
    for mode in args.modes:
        for length in args.lengths:
            with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
                env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
                done = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--one", str(length), mode],
                                      capture_output=True, text=True, env=env)  # fmt: skip
            last = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
            if not last:
                reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
                print(f"{length:>6} {mode:>9} failed: {reason}")
                continue
            steps = last[0].split()
            print(f"{length:>6} {mode:>9} {steps[0]:>9} {steps[1]:>9} {steps[2]:>9}", flush=True)


if __name__ == "__main__":
    main()
