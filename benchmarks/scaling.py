"""The Ray executor against the local one: wall time of the same short rows, speed-up and per-row overhead.

    FRAMEBENCH_DATA=/path/to/data python benchmarks/scaling.py --runs 3

Builds one plan with compare.py's own flags (default: 8 PyTorch rows, seeds 0..7, 2,048 MNIST samples,
2 epochs, 1 thread each) and runs it with the local executor (one child after another) and on a local
Ray instance of 1 and of 2 worker slots (`ray.init(num_cpus=1|2)`), alternating, `--runs` times.
Prints every wall time, the medians, the speed-up over local and Ray's overhead per row
((Ray with 1 slot - local) / rows). Ray's start-up is timed apart and not in the wall times.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import compare  # noqa: E402
from workbench.run.runner import RunPlan, run_plan  # noqa: E402

ROW_FLAGS = ["--frameworks", "pytorch", "--repeats", "8", "--subset", "2048", "--epochs", "2", "--threads", "1", "--quiet"]


def plan_for(flags: list[str], executor: str) -> RunPlan:
    """compare.py's plan for these flags, run by `executor`, saving nothing."""
    args = compare.parse_args(flags + ["--executor", executor])
    plan = compare.make_plan(args)
    plan.output = None
    return plan


def timed(plan: RunPlan) -> float:
    """Wall seconds of the whole plan; every row must finish ok."""
    start = time.perf_counter()
    results = run_plan(plan)
    wall = time.perf_counter() - start
    bad = [f"{r.framework}: {r.status}: {r.message}" for r in results if r.status != "ok"]
    if bad:
        sys.exit(f"scaling.py: a row failed: {bad[0]}")
    return wall


def ray_timed(plan: RunPlan, slots: int) -> tuple[float, float]:
    """(Ray start-up seconds, wall seconds of the plan) on a fresh local Ray with `slots` CPUs."""
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=slots, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    startup = time.perf_counter() - start
    try:
        return startup, timed(plan)
    finally:
        ray.shutdown()


def main() -> int:
    """Alternate local, Ray x1 and Ray x2 `--runs` times; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="repeats of each executor (default: 3)")
    parser.add_argument("--flags", default=" ".join(ROW_FLAGS), help=f"compare.py flags of the rows (default: {' '.join(ROW_FLAGS)})")
    args = parser.parse_args()
    flags = args.flags.split()
    local, ray_plan = plan_for(flags, "local"), plan_for(flags, "ray")
    rows = len(local.requests)
    walls: dict[str, list[float]] = {"local": [], "ray x1": [], "ray x2": []}
    startups: list[float] = []
    print(f"{rows} rows: compare.py {' '.join(flags)}")
    for run in range(1, args.runs + 1):
        walls["local"].append(timed(local))
        for slots in (1, 2):
            startup, wall = ray_timed(ray_plan, slots)
            startups.append(startup)
            walls[f"ray x{slots}"].append(wall)
        print(f"run {run}: " + " | ".join(f"{name} {w[-1]:.1f} s" for name, w in walls.items()), flush=True)
    median = {name: statistics.median(w) for name, w in walls.items()}
    print(f"\nmedians over {args.runs} runs (Ray start-up, not included: median {statistics.median(startups):.1f} s)")
    print(f"{'executor':10} {'wall s':>8} {'speed-up':>9} {'s per row':>10}")
    for name, wall in median.items():
        print(f"{name:10} {wall:8.1f} {median['local'] / wall:8.2f}x {wall / rows:10.2f}")
    print(f"Ray overhead per row (ray x1 - local) / {rows}: {(median['ray x1'] - median['local']) / rows:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
