"""Attention maps (issue 23): the same review's per-head attention weights from every engine, compared with the
float64 reference, for a figure side by side.

Each engine answers in its own child process through its adapter's optional `attention_weights(network, ids)`
-> (layers, H, L, L), queries by keys, computed in float64 (an engine that computes float64 in float32 is compared at
the float32 tolerance). `figure_maps` turns the result into the HTML report's attention hook (label -> one matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from frameworks.base import engine, missing_packages
from tasks.attention_maps import attention_maps as reference_maps
from tasks.spec import TaskSpec, Weights
from tasks.spec_io import spec_from_json, spec_to_json
from workbench.check.measure import _network
from workbench.process.ask import AskError, ask

REFERENCE = "reference"


@dataclass
class AttentionMaps:
    """One review's attention weights: the reference's and each engine's, (layers, H, L, L), and how far each is."""

    ids: np.ndarray  # the review's (L,) token ids
    layers: list[str]  # the attention layers' canonical names
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # REFERENCE and engine name -> (layers, H, L, L)
    max_abs: dict[str, float] = field(default_factory=dict)  # engine -> max |engine - reference| over every weight
    tolerance: dict[str, float] = field(default_factory=dict)  # engine -> the tolerance it was judged at
    skipped: dict[str, str] = field(default_factory=dict)  # engine -> why it has no maps

    def within_tolerance(self) -> dict[str, bool]:
        """Engine -> whether its maps equal the reference's within its tolerance."""
        return {name: self.max_abs[name] <= self.tolerance[name] for name in self.max_abs}


def answer(module, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:  # noqa: ANN001
    """In an engine's child: its attention weights of the review, float64, with the canonical weights loaded."""
    spec = spec_from_json(request["spec"])
    facts = {"unsupported": module.unsupported(spec), "dtypes": module.DTYPES}
    if facts["unsupported"] or not hasattr(module, "attention_weights"):
        return {**facts, "missing": facts["unsupported"] or "its adapter has no attention_weights"}, {}
    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
    ids = arrays["ids"]
    network = _network(module, spec, "float64", request, weights, ids[None], np.zeros(1, dtype=np.int64))
    return facts, {"weights": np.asarray(module.attention_weights(network, ids), dtype=np.float64)}


def engine_maps(spec: TaskSpec, weights: Weights, ids: np.ndarray, frameworks: list[str], threads: int = 1) -> AttentionMaps:
    """Ask every engine (one child each, one after another) for the review's maps and compare them with the reference."""
    ref = reference_maps(spec.model, weights, ids)
    maps = AttentionMaps(ids=np.asarray(ids), layers=list(ref), weights={REFERENCE: np.stack(list(ref.values()))})
    arrays = {"ids": np.asarray(ids), **{f"w/{k}": v for k, v in weights.items()}}
    t = spec.tolerances
    for name in frameworks:
        missing = missing_packages(name)
        if missing:
            maps.skipped[name] = f"not installed: {', '.join(missing)}"
            continue
        request = {"spec": spec_to_json(spec), "threads": threads, "model": engine(name).spec_model, "device": "cpu"}
        try:
            facts, out = ask(answer, name, request, arrays, threads=threads)
        except AskError as exc:
            maps.skipped[name] = str(exc)
            continue
        if "missing" in facts:
            maps.skipped[name] = facts["missing"]
            continue
        maps.weights[name] = out["weights"]
        maps.max_abs[name] = float(np.max(np.abs(out["weights"] - maps.weights[REFERENCE])))
        maps.tolerance[name] = t.forward32 if facts["dtypes"].get("float64") == "float32" else t.forward64
    return maps


def figure_maps(maps: AttentionMaps, layer: int = 0, heads: tuple[int, ...] | None = None) -> dict[str, list[list[float]]]:
    """The HTML report's attention hook: "engine, layer name, head h" -> that head's weights (queries x keys)."""
    shown = range(maps.weights[REFERENCE].shape[1]) if heads is None else heads
    return {f"{name}, {maps.layers[layer]}, head {h + 1}": w[layer, h].tolist() for name, w in maps.weights.items() for h in shown}
