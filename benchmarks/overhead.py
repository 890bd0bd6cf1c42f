"""Workbench adapters vs the plain scripts a user would write: steady-state training throughput.

    python benchmarks/overhead.py --task mnist --runs 5 --epochs 3
    python benchmarks/overhead.py --task sentiment --model transformer --runs 5 --epochs 2

A --model variant has plain scripts of its own, benchmarks/plain/TASK_MODEL_<engine>.py (e.g.
sentiment_transformer_pytorch.py, nn.TransformerEncoder; sentiment_transformer_keras.py, keras-io style).

Runs plain script and workbench adapter alternately, each in a fresh process with the same thread
count, for each framework, and prints every run's throughput, the medians and their ratio
(workbench / plain; >= 0.95 means the workbench adds at most 5 % overhead).

Ratios are only worth printing from a quiet machine: each run records what other processes used meanwhile (the
busy-machine guard, workbench/run/machine_load.py), and where any run was noisy the ratio is refused, with the reason,
in one line and exit 6, unless --allow-noisy (then it is printed, marked noisy).

The plain scripts run on in-memory tensors (--loader numpy), as the workbench does. Where torchvision imports (the GPU
profile), the plain PyTorch script also runs the PyTorch user's input pipeline (torchvision.datasets + DataLoader with
--workers processes), alternately, and its cost against the in-memory tensors is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from workbench.run import machine_load  # noqa: E402 - after the path line

NOISY_EXIT = 6
PLAIN = ROOT / "benchmarks" / "plain"
# engine -> (the plain script's suffix, its environment): one plain Keras script per task serves the three
# Keras backends, as it would a Keras 3 user, who changes only KERAS_BACKEND; the jax engine's is Flax NNX.
PLAIN_SCRIPTS = {
    "pytorch": ("pytorch", {}),
    "keras": ("keras", {"KERAS_BACKEND": "tensorflow"}),
    "keras-jax": ("keras", {"KERAS_BACKEND": "jax"}),
    "keras-torch": ("keras", {"KERAS_BACKEND": "torch"}),
    "jax": ("flax", {}),
}
# --device cpu on a machine with a GPU: the plain scripts (which take the GPU when they see one) are kept off it too
CPU_ONLY_ENV = {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}


def plain_run(task: str, framework: str, args: argparse.Namespace, loader: str = "numpy") -> float | None:
    """Steady-state samples/s of the plain script (None: it could not use the torchvision loader and said why)."""
    suffix, extra_env = PLAIN_SCRIPTS[framework]
    cmd = [sys.executable, str(plain_script(task, args.model, framework)), "--epochs", str(args.epochs), "--threads", str(args.threads),
           "--loader", loader, "--workers", str(args.workers)]  # fmt: skip
    cmd += ["--subset", str(args.subset)] if args.subset else []
    device_env = CPU_ONLY_ENV if args.device == "cpu" else {}
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**_env(args.threads), **extra_env, **device_env})
    if proc.returncode != 0 and loader == "torchvision":
        print(f"{task} {framework}: no torchvision pipeline: {(proc.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
        return None
    if proc.returncode != 0:
        raise SystemExit(f"overhead.py: {cmd[1]} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["throughput"]


def plain_script(task: str, model: str | None, framework: str) -> Path:
    """benchmarks/plain/TASK[_MODEL]_<suffix>.py of the engine."""
    return PLAIN / f"{task}{'_' + model if model else ''}_{PLAIN_SCRIPTS[framework][0]}.py"


def workbench_run(task: str, framework: str, args: argparse.Namespace) -> float:
    """Steady-state samples/s of the workbench's adapter, through compare.py."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "r.json")
        cmd = [sys.executable, str(ROOT / "compare.py"), "--task", task, "--frameworks", framework, "--quiet",
               "--epochs", str(args.epochs), "--threads", str(args.threads), "--device", args.device,
               "--output", str(out)]  # fmt: skip
        cmd += ["--subset", str(args.subset)] if args.subset else []
        cmd += ["--test-subset", str(args.test_subset)] if args.test_subset else []
        cmd += ["--model", args.model] if args.model else []
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(args.threads))
        row = json.loads(out.read_text())["results"][0] if out.is_file() else None
        if proc.returncode != 0 or row is None or row.get("throughput") is None:
            why = row["message"] if row and row.get("message") else (proc.stderr.strip().splitlines() or ["?"])[-1]
            raise SystemExit(f"overhead.py: the workbench's {framework} run failed (exit {proc.returncode}): {why}")
        return row["throughput"]


def guarded(run: Callable[[], float | None], noisy: list[str]) -> float | None:
    """run(), and the busy-machine guard's reason appended to `noisy` where others used the CPU meanwhile."""
    before = machine_load.sample()
    value = run()
    load = machine_load.between(before, machine_load.sample())
    if load.noisy:
        noisy.append(load.reason)
    return value


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def main() -> None:
    """Alternate plain and workbench runs; print throughputs and ratios."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="mnist", help="task (default: mnist)")
    p.add_argument("--model", default=None, help="the task's --model variant (default: the task's own network)")
    p.add_argument("--frameworks", default="pytorch,keras", help="default: pytorch,keras")
    p.add_argument("--runs", type=int, default=5, help="alternating runs per side (default: 5)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is warm-up (default: 3)")
    p.add_argument("--subset", type=int, default=None, help="first N training samples (default: all)")
    p.add_argument("--test-subset", type=int, default=None, metavar="N",
                   help="the workbench side evaluates the first N test samples each epoch (default: all); the plain "
                        "scripts evaluate nothing, and only training samples/s are compared")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads (default: all cores)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the torchvision pipeline (default: 2)")
    p.add_argument("--allow-noisy", action="store_true", help="print ratios even from runs timed on a busy machine")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="where both sides run (default: cuda if this machine has a GPU device, else cpu)")
    args = p.parse_args()
    if args.device is None:
        from workbench.run.devices import gpu_device_files

        args.device = "cuda" if gpu_device_files() else "cpu"
    unknown = [f for f in args.frameworks.split(",") if f not in PLAIN_SCRIPTS or not plain_script(args.task, args.model, f).is_file()]
    if unknown:
        have = [f for f in PLAIN_SCRIPTS if plain_script(args.task, args.model, f).is_file()]
        p.error(f"no plain script of {args.task}{' --model ' + args.model if args.model else ''} for {', '.join(unknown)}; "
                f"engines with one: {', '.join(have) or 'none'}")
    label = f"{args.task}{'/' + args.model if args.model else ''}"
    for framework in args.frameworks.split(","):
        plain, bench, noisy = [], [], []
        for run in range(args.runs):
            plain.append(guarded(lambda: plain_run(args.task, framework, args), noisy))
            bench.append(guarded(lambda: workbench_run(args.task, framework, args), noisy))
            print(f"{label} {framework} run {run + 1}: plain {plain[-1]:,.0f} samples/s, workbench {bench[-1]:,.0f}", flush=True)
        if noisy and not args.allow_noisy:
            print(f"overhead.py: no ratio for {label} {framework}: {len(noisy)} of {2 * args.runs} runs were timed on a busy "
                  f"machine ({noisy[0]}); rerun on a quiet machine, or pass --allow-noisy", file=sys.stderr)  # fmt: skip
            raise SystemExit(NOISY_EXIT)
        ratio = statistics.median(bench) / statistics.median(plain)
        print(f"{label} {framework}: median plain {statistics.median(plain):,.0f}, workbench {statistics.median(bench):,.0f} "
              f"samples/s, ratio {ratio:.3f} over {args.runs} alternating runs" + (" (NOISY: timed on a busy machine)" if noisy else ""))  # fmt: skip
        if framework == "pytorch" and args.task in ("mnist", "cifar10") and importlib.util.find_spec("torchvision"):
            input_pipeline(args, plain)


def input_pipeline(args: argparse.Namespace, in_memory: list[float]) -> None:
    """The plain PyTorch script with torchvision.datasets + DataLoader, against its in-memory runs above."""
    piped = []
    for run in range(args.runs):
        piped.append(plain_run(args.task, "pytorch", args, loader="torchvision"))
        if piped[-1] is None:
            return
        print(f"{args.task} pytorch run {run + 1}: torchvision DataLoader ({args.workers} workers) {piped[-1]:,.0f} samples/s", flush=True)
    ratio = statistics.median(piped) / statistics.median(in_memory)
    print(f"{args.task} pytorch input pipeline: torchvision DataLoader {statistics.median(piped):,.0f} samples/s vs in-memory "
          f"tensors {statistics.median(in_memory):,.0f}: ratio {ratio:.3f} (the pipeline's cost; the workbench uses "
          f"in-memory tensors)")  # fmt: skip


if __name__ == "__main__":
    main()
