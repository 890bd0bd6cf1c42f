"""The JAX runtime that two engines share, JAX + Flax (frameworks/jax.py) and Keras on JAX (keras_jax.py): XLA's
environment, configure(), the devices and their peak memory.

XLA reads its platform, thread pool and GPU flags when its backend starts (the first computation), not when jax is
imported. Importing this module sets the platform and the thread pool from the child's environment, for a process that
asks an adapter for facts without configuring it (workbench/process/ask.py); configure() sets them from the row's
settings, before the row's first computation.
"""

from __future__ import annotations

import os

from frameworks.base import DEVICE_VAR, THREADS_VAR, RunSettings, device_kind

if os.environ.get(DEVICE_VAR) == "cpu":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a CPU row never starts (or holds memory on) a GPU
if THREADS_VAR in os.environ:  # XLA's CPU thread pool, read when the backend starts (XLA_FLAGS' thread options do not limit it)
    os.environ["PJRT_NPROC"] = os.environ[THREADS_VAR]
import jax  # noqa: E402


def gpus() -> list:
    """JAX's GPU devices, none without a GPU backend (jax without its CUDA plugin, or no device)."""
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


def devices() -> list[str]:
    """The devices JAX sees, e.g. ["cpu", "cuda:0 NVIDIA H200"]."""
    return ["cpu", *(f"cuda:{d.id} {d.device_kind}" for d in gpus())]


DETERMINISM = {  # what the engines set, per device kind
    "cpu": "XLA's CPU kernels (deterministic); thread pool of --threads (PJRT_NPROC)",
    "cuda": "XLA_FLAGS --xla_gpu_deterministic_ops=true; float32 matmuls at precision 'highest' unless --precision tf32",
}


def configure(settings: RunSettings) -> str:
    """Apply the row's threads, determinism, platform and float32 matmul precision; return the device kind used.

    Both engines call it before their first computation: XLA reads PJRT_NPROC and XLA_FLAGS when its backend starts.
    """
    # XLA sizes its CPU thread pool from PJRT_NPROC (else the CPU count). XLA_FLAGS' old intra_op_parallelism_threads
    # recipe does not limit jaxlib 0.10 (measured: CPU time / wall time 1.96 on 2 cores with it, 0.98 with PJRT_NPROC=1).
    os.environ["PJRT_NPROC"] = str(settings.threads)
    flags = os.environ.get("XLA_FLAGS", "")  # deterministic GPU reductions (scatter-adds, convolutions' gradients)
    if settings.deterministic and "xla_gpu_deterministic_ops" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()
    if settings.device == "cpu":
        jax.config.update("jax_platforms", "cpu")  # jax read JAX_PLATFORMS at its import: the config is set now
    # JAX's default matmul precision on a GPU lets float32 matmuls and convolutions run in TF32: "highest" unless tf32.
    tf32 = settings.precision == "tf32" or settings.tf32
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")
    return device_kind(settings.device, bool(gpus()), "JAX sees no GPU (a CPU-only jaxlib is installed?)")


def peak_gpu_mb() -> float | None:
    """Peak memory in use on the first GPU (XLA's allocator), or None on the CPU."""
    found = gpus()
    stats = found[0].memory_stats() if found else None
    return stats["peak_bytes_in_use"] / 2**20 if stats else None
