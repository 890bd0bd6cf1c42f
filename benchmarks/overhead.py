"""Workbench adapters vs the plain scripts a user would write: steady-state training throughput.

    python benchmarks/overhead.py --task mnist --runs 5 --epochs 3

Runs plain script and workbench adapter alternately, each in a fresh process with the same thread
count, for each framework, and prints every run's throughput, the medians and their ratio
(workbench / plain; >= 0.95 means the workbench adds at most 5 % overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAIN = ROOT / "benchmarks" / "plain"
# engine -> (the plain script's suffix, its environment): one plain Keras script per task serves the three
# Keras backends, as it would a Keras 3 user, who changes only KERAS_BACKEND; the jax engine's is Flax NNX.
PLAIN_SCRIPTS = {
    "pytorch": ("pytorch", {}),
    "keras": ("keras", {"KERAS_BACKEND": "tensorflow"}),
    "keras-jax": ("keras", {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}),
    "keras-torch": ("keras", {"KERAS_BACKEND": "torch"}),
    "jax": ("flax", {"JAX_PLATFORMS": "cpu"}),
}


def plain_run(task: str, framework: str, args: argparse.Namespace) -> float:
    """Steady-state samples/s of the plain script."""
    suffix, extra_env = PLAIN_SCRIPTS[framework]
    cmd = [sys.executable, str(PLAIN / f"{task}_{suffix}.py"), "--epochs", str(args.epochs), "--threads", str(args.threads)]
    cmd += ["--subset", str(args.subset)] if args.subset else []
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**_env(args.threads), **extra_env}).stdout
    return json.loads(out.strip().splitlines()[-1])["throughput"]


def workbench_run(task: str, framework: str, args: argparse.Namespace) -> float:
    """Steady-state samples/s of the workbench's adapter, through compare.py."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "r.json")
        cmd = [sys.executable, str(ROOT / "compare.py"), "--task", task, "--frameworks", framework, "--quiet",
               "--epochs", str(args.epochs), "--threads", str(args.threads), "--output", str(out)]  # fmt: skip
        cmd += ["--subset", str(args.subset)] if args.subset else []
        subprocess.run(cmd, capture_output=True, text=True, env=_env(args.threads))
        return json.loads(out.read_text())["results"][0]["throughput"]


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def main() -> None:
    """Alternate plain and workbench runs; print throughputs and ratios."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="mnist", help="task (default: mnist)")
    p.add_argument("--frameworks", default="pytorch,keras", help="default: pytorch,keras")
    p.add_argument("--runs", type=int, default=5, help="alternating runs per side (default: 5)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is warm-up (default: 3)")
    p.add_argument("--subset", type=int, default=None, help="first N training samples (default: all)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads (default: all cores)")
    args = p.parse_args()
    unknown = [f for f in args.frameworks.split(",") if f not in PLAIN_SCRIPTS]
    if unknown:
        p.error(f"no plain script for {', '.join(unknown)}; engines with one: {', '.join(PLAIN_SCRIPTS)}")
    for framework in args.frameworks.split(","):
        plain, bench = [], []
        for run in range(args.runs):
            plain.append(plain_run(args.task, framework, args))
            bench.append(workbench_run(args.task, framework, args))
            print(f"{args.task} {framework} run {run + 1}: plain {plain[-1]:,.0f} samples/s, workbench {bench[-1]:,.0f}", flush=True)
        ratio = statistics.median(bench) / statistics.median(plain)
        print(f"{args.task} {framework}: median plain {statistics.median(plain):,.0f}, workbench {statistics.median(bench):,.0f} "
              f"samples/s, ratio {ratio:.3f} over {args.runs} alternating runs")  # fmt: skip


if __name__ == "__main__":
    main()
