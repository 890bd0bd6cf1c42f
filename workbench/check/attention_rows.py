"""The attention softmax an engine computes by default, measured as its own rows of --check (issue 23).

An adapter whose own attention path computes the softmax in another dtype than the input's declares it
(ATTENTION_SOFTMAX, e.g. "float32": jax.nn.dot_product_attention rounds the scores to float32 for any input dtype).
The check runs the spec exactly (softmax_dtype from the spec), and then, for each such engine, once more with its
attention layers on that default path, compared with the float64 reference of the spec itself: INFO rows that show
the size of the default's difference (1e-6 where the exact rows show 1e-15).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tasks.spec import TaskSpec, Weights
from tasks.spec_attention import MultiHeadSelfAttention
from workbench.check.equivalence import CheckConfig, Measured, Report, Row, forward_rows, gradient_rows, measure_all

INPUT_DTYPE = "input"  # the spec's softmax_dtype that every engine runs exactly


def with_softmax(spec: TaskSpec, dtype: str) -> TaskSpec:
    """The spec with every attention layer's softmax in `dtype` ("input" or "float32")."""
    layers = tuple(replace(l, softmax_dtype=dtype) if isinstance(l, MultiHeadSelfAttention) else l for l in spec.model.layers)
    return replace(spec, model=replace(spec.model, layers=layers))


def default_softmax_rows(spec: TaskSpec, measured: dict[str, Measured], weights: Weights, X: np.ndarray, y: np.ndarray,
                         config: CheckConfig, report: Report) -> list[Row]:  # fmt: skip
    """Forward and gradient rows, float64, of each engine on its own default attention softmax vs the reference."""
    attention = [l for l in spec.model.layers if isinstance(l, MultiHeadSelfAttention)]
    if not attention or "float64" not in config.dtypes:
        return []
    b, rows = config.batch_size, []
    for name, m in measured.items():
        default = m.facts.get("attention_softmax", INPUT_DTYPE)
        if default == INPUT_DTYPE or m.downcast("float64") or all(l.softmax_dtype == default for l in attention):
            continue
        own = with_softmax(spec, default)
        single = replace(config, frameworks=(name,), dtypes=("float64",), steps=1, trajectories=False)
        again = measure_all(own, weights, X[:b], y[:b], single, report).get(name)
        if again is None:
            continue
        label = f"{name} (default attention: softmax in {default})"
        found = forward_rows(spec, {label: again}, "float64", weights, X[:b]) + gradient_rows(spec, {label: again}, "float64", weights, X[:b], y[:b])
        note = f"the engine's own default attention path, softmax in {default}: measured, not judged"
        rows += [replace(r, status="INFO", note=note) for r in found if r.pair.startswith(label)]
    return rows
