"""Measure this machine's matmul peaks and save them for the "% of peak" column.

    python benchmarks/peak.py [--threads N] [--size 4096] [--gpu-size 8192] [--no-cpu]

The CPU: an n x n float32 GEMM with NumPy's BLAS. Each CUDA GPU torch sees (the GPU profile, `make setup GPU=1`):
n x n matmuls in fp32 (TF32 off), tf32, bf16 and fp16, timed with CUDA events after a warm-up. A row's "% of peak"
divides by the peak of its own device and precision; where none was measured it shows "-".
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GPU_PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


def gpu_peaks(n: int, repeats: int = 10) -> dict[str, dict[str, float]]:
    """{"cuda:I NAME": {precision: best GFLOP/s}} for every CUDA device torch sees; {} without torch or a GPU."""
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    dtypes = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    peaks: dict[str, dict[str, float]] = {}
    saved = torch.backends.cuda.matmul.allow_tf32
    try:
        for index in range(torch.cuda.device_count()):
            device = torch.device("cuda", index)
            figures = {}
            for precision in GPU_PRECISIONS:
                torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
                a = torch.randn(n, n, device=device, dtype=dtypes[precision])
                b = torch.randn(n, n, device=device, dtype=dtypes[precision])
                for _ in range(3):  # warm-up: cuBLAS handles, kernel selection, clocks
                    a @ b
                torch.cuda.synchronize(device)
                best = float("inf")
                for _ in range(repeats):
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    a @ b
                    end.record()
                    end.synchronize()  # the clock is read after the GPU has finished
                    best = min(best, start.elapsed_time(end) / 1e3)
                figures[precision] = 2 * n**3 / best / 1e9
                del a, b
            peaks[f"cuda:{index} {torch.cuda.get_device_name(index)}"] = figures
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    return peaks


def main() -> None:
    """Measure, print and save the peaks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS threads (default: all cores)")
    parser.add_argument("--size", type=int, default=4096, help="CPU matrix side (default: 4096)")
    parser.add_argument("--gpu-size", type=int, default=8192, help="GPU matrix side (default: 8192)")
    parser.add_argument("--no-cpu", action="store_true", help="measure the GPUs only (default: the CPU too)")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    from workbench.run.hardware import measure_matmul_peak, save_gpu_peaks, save_peak

    if not args.no_cpu:
        with threadpool_limits(limits=args.threads):
            gflops = measure_matmul_peak(args.size)
        save_peak(gflops, args.threads)
        print(f"cpu float32 GEMM {args.size}x{args.size}, {args.threads} threads: {gflops:.1f} GFLOP/s (best of 5), saved")
    peaks = gpu_peaks(args.gpu_size)
    if not peaks:
        print("no CUDA GPU seen by torch (or torch not installed): no GPU peak measured")
    for device, figures in peaks.items():
        save_gpu_peaks(device, figures)
        cells = ", ".join(f"{p} {figures[p]:,.0f}" for p in GPU_PRECISIONS)
        print(f"{device} matmul {args.gpu_size}x{args.gpu_size} GFLOP/s (best of 10): {cells}, saved")


if __name__ == "__main__":
    main()
