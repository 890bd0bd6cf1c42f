"""Attention maps (issue 23): the same review's per-head attention weights from every engine, compared with the
float64 reference, for a figure side by side.

Each engine answers in its own child process through its adapter's optional `attention_weights(network, ids)`
-> (layers, H, L, L), queries by keys, computed in float64 (an engine that computes float64 in float32 is compared at
the float32 tolerance). `report_maps` picks a short test review and asks every engine, for `--report` on a network
with attention; `figure_maps` gives one matrix per (engine, head).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from frameworks.base import engine, missing_packages
from tasks.attention_maps import attention_maps as reference_maps
from tasks.spec import MultiHeadSelfAttention, TaskSpec, Weights
from tasks.spec_attention import real_tokens
from tasks.spec_io import spec_from_json, spec_to_json
from workbench.check.equivalence import REFERENCE, check_weights, random_inputs
from workbench.check.measure import _network
from workbench.process.ask import AskError, ask

SHORT_REVIEW = (12, 48)  # real tokens of the review shown: long enough to have structure, short enough to read
SEARCHED = 2000  # test reviews searched for one of that length


@dataclass
class AttentionMaps:
    """One review's attention weights: the reference's and each engine's, (layers, H, L, L), and how far each is."""

    ids: np.ndarray  # the review's (L,) token ids
    layers: list[str]  # the attention layers' canonical names
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # REFERENCE and engine name -> (layers, H, L, L)
    max_abs: dict[str, float] = field(default_factory=dict)  # engine -> max |engine - reference| over every weight
    tolerance: dict[str, float] = field(default_factory=dict)  # engine -> the tolerance it was judged at
    skipped: dict[str, str] = field(default_factory=dict)  # engine -> why it has no maps
    computed_in: dict[str, str] = field(default_factory=dict)  # engine -> the dtype it computes float64 in
    review: str = ""  # which review, and from where

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
        maps.computed_in[name] = facts["dtypes"].get("float64") or "float64"
        maps.tolerance[name] = t.forward32 if maps.computed_in[name] == "float32" else t.forward64
    return maps


def has_attention(spec: TaskSpec) -> bool:
    """Whether the spec's network has a multi-head self-attention layer."""
    return any(isinstance(layer, MultiHeadSelfAttention) for layer in spec.model.layers)


def pick_review(task: str, spec: TaskSpec, data_dir: str | None) -> tuple[np.ndarray, str]:
    """A short test review's (L,) ids (the first of the first SEARCHED with SHORT_REVIEW real tokens, else the
    shortest of them) and where it is from; a random one when the data cannot be loaded."""
    from tasks.download import DataError
    from tasks.user_data import load_task_data

    try:
        X = load_task_data(task, spec, data_dir).X_test[:SEARCHED]
    except DataError as exc:
        return random_inputs(spec, 1, 0)[0][0], f"random token ids (the data was not loaded: {str(exc).splitlines()[0]})"
    lengths = real_tokens(X).sum(axis=1)
    fits = np.flatnonzero((lengths >= SHORT_REVIEW[0]) & (lengths <= SHORT_REVIEW[1]))
    i = int(fits[0]) if len(fits) else int(np.argmin(lengths))
    return np.asarray(X[i]), f"test review {i} ({int(lengths[i])} tokens)"


def report_maps(task: str, spec: TaskSpec, frameworks: list[str], data_dir: str | None, threads: int = 1) -> AttentionMaps | None:
    """--report: one short test review's maps from every engine, with the check's seed-0 weights; None without attention."""
    if not has_attention(spec):
        return None
    ids, review = pick_review(task, spec, data_dir)
    maps = engine_maps(spec, check_weights(spec, 0), ids, frameworks, threads)
    maps.review = review
    return maps


def figure_maps(maps: AttentionMaps, layer: int = 0, heads: tuple[int, ...] | None = None) -> dict[str, list[list[float]]]:
    """The HTML report's attention hook: "engine, layer name, head h" -> that head's weights (queries x keys)."""
    shown = range(maps.weights[REFERENCE].shape[1]) if heads is None else heads
    return {f"{name}, {maps.layers[layer]}, head {h + 1}": w[layer, h].tolist() for name, w in maps.weights.items() for h in shown}
