"""Measure this machine's float32 matmul peak (a large GEMM) and save it for the efficiency column.

    python benchmarks/peak.py [--threads N] [--size 4096]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    """Measure, print and save the peak."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS threads (default: all cores)")
    parser.add_argument("--size", type=int, default=4096, help="matrix side (default: 4096)")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    from workbench.run.hardware import measure_matmul_peak, save_peak

    with threadpool_limits(limits=args.threads):
        gflops = measure_matmul_peak(args.size)
    save_peak(gflops, args.threads)
    print(f"float32 GEMM {args.size}x{args.size}, {args.threads} threads: {gflops:.1f} GFLOP/s (best of 5), saved")


if __name__ == "__main__":
    main()
