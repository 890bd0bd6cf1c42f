"""Facts the workbench reads off an adapter module or the engine registry, each rule written once."""

from __future__ import annotations

from types import ModuleType

from frameworks.base import engine


def row_device(framework: str, device: str) -> str:
    """The device a row of `framework` runs on: CPU-only engines (no GPU build) run on cpu under every --device."""
    return "cpu" if engine(framework).cpu_only else device


def precision_unsupported(module: ModuleType, kind: str, precision: str) -> str | None:
    """Why the adapter cannot run `precision` on device `kind` (its PRECISIONS), or None. Without PRECISIONS: fp32 only."""
    table = getattr(module, "PRECISIONS", {}).get(kind, {"fp32": None})
    if precision not in table:
        return f"{getattr(module, 'NAME', 'this adapter')} declares no {precision} support"
    return table[precision]


def determinism(module: ModuleType, kind: str) -> str:
    """The determinism settings the adapter's configure() applies on device `kind` (its DETERMINISM), or ''."""
    return getattr(module, "DETERMINISM", {}).get(kind, "")
