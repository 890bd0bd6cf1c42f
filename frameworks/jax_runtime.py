"""The JAX runtime that two engines share: JAX + Flax (frameworks/jax.py) and Keras on JAX (keras_jax.py).

XLA reads its platform, thread pool and GPU flags from the environment when its backend starts (the first
computation): importing this module sets them from the row's child environment, then imports jax.
"""

from __future__ import annotations

import contextlib
import os

from frameworks.base import DEVICE_VAR, THREADS_VAR, RunSettings, device_kind

if os.environ.get(DEVICE_VAR) == "cpu":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a CPU row never starts (or holds memory on) a GPU
if THREADS_VAR in os.environ:  # XLA's CPU thread pool, read when the backend starts (XLA_FLAGS' thread options do not limit it)
    os.environ["PJRT_NPROC"] = os.environ[THREADS_VAR]
import jax  # noqa: E402

def deterministic_gpu_ops() -> None:
    """Deterministic GPU reductions (scatter-adds, convolutions' gradients): an XLA flag read when the backend starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()


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
    """The float32 matmul precision, stated; return the device kind actually used.

    JAX's default matmul precision on a GPU lets float32 matmuls and convolutions run in TF32: "highest" unless tf32.
    """
    tf32 = settings.precision == "tf32" or settings.tf32
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")
    return device_kind(settings.device, bool(gpus()), "JAX sees no GPU (a CPU-only jaxlib is installed?)")


def peak_gpu_mb() -> float | None:
    """Peak memory in use on the first GPU (XLA's allocator), or None on the CPU."""
    found = gpus()
    stats = found[0].memory_stats() if found else None
    return stats["peak_bytes_in_use"] / 2**20 if stats else None


JAX_MODES = {  # --mode of the JAX engine (frameworks/jax.py): jit first, its default
    "compiled": "jax.jit of the whole training step (forward, backward, optax update): XLA compiles it once per "
    "batch shape, a smaller last batch once more (its compilations count shows it)",
    "eager": "op by op under jax.disable_jit (for teaching, small networks only): every jnp call dispatched from "
    "Python, nothing compiled as one program",
}
OP_BY_OP_MAX_FLOPS = 100_000  # training FLOPs per sample above which op by op is refused: digits (28,608) runs, mnist (1.4M) not


def op_by_op_refused(flops_per_sample: int) -> str | None:
    """Why a network this size does not run op by op (one line), or None."""
    if flops_per_sample <= OP_BY_OP_MAX_FLOPS:
        return None
    return (f"op-by-op JAX (--mode eager) is for small networks: this one needs {flops_per_sample:,} training FLOPs per "
            f"sample, above {OP_BY_OP_MAX_FLOPS:,}; use --mode compiled")  # fmt: skip


def running(compiled: bool):  # noqa: ANN201 - a context manager
    """The mode's context around each call: nothing for jax.jit, jax.disable_jit() op by op."""
    return contextlib.nullcontext() if compiled else jax.disable_jit()


def initializer_words(fn: object) -> str:
    """A jax.nn.initializers function in words, read from its closure (e.g. variance_scaling's arguments)."""
    code = getattr(fn, "__code__", None)
    if code is None or not fn.__closure__:
        return getattr(fn, "__name__", repr(fn))
    free = {k: c.cell_contents for k, c in zip(code.co_freevars, fn.__closure__)}
    args = ", ".join(f"{k}={free[k]!r}" for k in ("scale", "mode", "distribution") if k in free)
    known = {
        (1.0, "fan_in", "truncated_normal"): " = lecun_normal",
        (1.0, "fan_in", "normal"): " = lecun_normal (untruncated)",
    }
    name = known.get((free.get("scale"), free.get("mode"), free.get("distribution")), "")
    return f"{fn.__qualname__.split('.')[0]}({args}){name}"


