"""The torch runtime that two engines share: PyTorch (frameworks/pytorch.py) and Keras on torch (keras_torch.py).

Devices, threads, deterministic kernels, TF32 and peak GPU memory are torch's, whoever builds the model on it.
"""

from __future__ import annotations

import os

import torch

from frameworks.base import RunSettings, device_kind

def devices() -> list[str]:
    """The devices torch sees, e.g. ["cpu", "cuda:0 NVIDIA H200"]."""
    return ["cpu", *(f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count()))]


DETERMINISM = {  # what configure() sets, per device kind
    "cpu": "torch.use_deterministic_algorithms(True) (fill_uninitialized_memory off); intra- and inter-op threads "
    "set to --threads",
    "cuda": "torch.use_deterministic_algorithms(True) + CUBLAS_WORKSPACE_CONFIG=:4096:8, cudnn.benchmark off, TF32 off "
    "unless --precision tf32; an op without a deterministic GPU kernel raises: its row is an error row that names it",
}


def configure(settings: RunSettings) -> str:
    """Threads, deterministic kernels and TF32 for torch; return the device kind actually used (the caller seeds)."""
    torch.set_num_threads(settings.threads)
    try:
        torch.set_num_interop_threads(settings.threads)
    except RuntimeError:  # already set once in this process (tests run several adapters)
        pass
    if settings.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required by deterministic cuBLAS
        torch.use_deterministic_algorithms(True)
        # ...which also fills every new tensor with NaN to expose reads of uninitialised memory:
        # a debugging aid that costs time (plain scripts do not pay it) and changes no result.
        torch.utils.deterministic.fill_uninitialized_memory = False
        torch.backends.cudnn.benchmark = False  # autotuning may pick a different kernel per run
    # TF32 only with --precision tf32. torch's defaults: matmul allow_tf32=False, but cudnn.allow_tf32=True
    # (convolutions on TF32 units unless told): both are set, so fp32 means IEEE float32 everywhere.
    tf32 = settings.precision == "tf32" or settings.tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return device_kind(settings.device, torch.cuda.is_available(), "torch sees no CUDA device")


def graphs_compiled() -> int:
    """Graphs torch.compile (dynamo) compiled in this process so far, every function and recompilation counted."""
    from torch._dynamo.utils import counters  # imported on first use: eager rows never load dynamo

    return counters["stats"]["unique_graphs"]


def peak_gpu_mb() -> float | None:
    """Peak memory allocated by torch's CUDA caching allocator in this process."""
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
