"""One device per comparison: what each selected framework sees, asked in a child process, and the rule.

`--device auto` resolves to cuda only if every selected framework (CPU-only engines aside: they have no
GPU build and say so) sees a GPU; otherwise to cpu for all, and a header line names the frameworks that
lacked one. `--device cuda` with a framework that sees none is a usage error (one line, exit 2).
The parent imports no framework: `answer` runs in a child per framework (workbench/process/ask.py).
"""

from __future__ import annotations

import glob
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from workbench.errors import UsageError
from workbench.options import DEVICES
from workbench.process.ask import AskError, ask

GPU_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/dxg")  # the driver's device nodes (Linux; WSL2): no GPU without one


class DeviceError(UsageError):
    """--device cuda cannot be honoured: the message is one line naming the frameworks without a GPU."""


@dataclass(frozen=True)
class Resolution:
    """The comparison's device kind and what the header says about how it was chosen."""

    device: str  # "cpu" or "cuda"
    note: str = ""  # e.g. "auto -> cpu: no GPU seen by pytorch, keras"


def answer(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """The ask question "devices": the adapter's own list, e.g. ["cpu", "cuda:0 NVIDIA H200"]."""
    return {"devices": list(module.devices())}, {}


def gpu_device_files() -> bool:
    """True if this machine has a GPU driver's device node (without one, no framework can see a GPU)."""
    return any(glob.glob(pattern) for pattern in GPU_DEVICE_FILES)


def ask_devices(frameworks: list[str], threads: int = 1, timeout: float = 300) -> dict[str, list[str] | str]:
    """framework -> the devices it sees, or a one-line reason it could not be asked (one child each, in parallel)."""
    def one(name: str) -> list[str] | str:
        try:
            return list(ask(answer, name, {"device": "auto"}, threads=threads, timeout=timeout)[0]["devices"])
        except AskError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=max(len(frameworks), 1)) as pool:
        return dict(zip(frameworks, pool.map(one, frameworks)))


def has_gpu(seen: list[str] | str) -> bool:
    """An answer of ask_devices that lists a CUDA device."""
    return not isinstance(seen, str) and any(d.startswith("cuda") for d in seen)


def resolve(requested: str, seen: dict[str, list[str] | str], cpu_only: tuple[str, ...] = ()) -> Resolution:
    """The rule above; `seen` is ask_devices' answer for the frameworks that can use a GPU (cpu_only are left out)."""
    lacking = [name for name, answer in seen.items() if not has_gpu(answer)]
    cpu_note = f"{', '.join(cpu_only)}: CPU only, its rows run on cpu" if cpu_only else ""
    if requested == "cpu":
        return Resolution("cpu")
    if requested == "cuda":
        if lacking:
            why = ", ".join(f"{n} ({seen[n]})" if isinstance(seen[n], str) else n for n in lacking)
            raise DeviceError(f"--device cuda: no GPU seen by {why}; use --device cpu, or leave those frameworks out")
        return Resolution("cuda", cpu_note)
    if requested not in DEVICES:
        raise DeviceError(f"unknown --device {requested!r}: use {', '.join(DEVICES)}")
    if not seen:
        return Resolution("cpu", "auto -> cpu: no selected framework can use a GPU")
    if lacking:
        return Resolution("cpu", f"auto -> cpu: no GPU seen by {', '.join(lacking)}")
    return Resolution("cuda", "auto -> cuda: every selected framework sees a GPU" + (f"; {cpu_note}" if cpu_note else ""))


def resolve_for(requested: str, frameworks: list[str], cpu_only: tuple[str, ...], threads: int = 1) -> Resolution:
    """Ask the frameworks (not on a machine without a GPU device node, under auto: none could see one) and resolve."""
    gpu_capable = [name for name in frameworks if name not in cpu_only]
    if requested == "cpu":
        return Resolution("cpu")
    if requested == "auto" and gpu_capable and not gpu_device_files():
        return Resolution("cpu", "auto -> cpu: this machine has no GPU (no /dev/nvidia* device)")
    return resolve(requested, ask_devices(gpu_capable, threads), cpu_only)
