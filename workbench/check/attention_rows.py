"""The attention softmax an engine computes by default, measured as its own rows of --check (issue 23).

An adapter whose own attention path computes the softmax in another dtype than the input's declares it
(ATTENTION_SOFTMAX, e.g. "float32": jax.nn.dot_product_attention rounds the scores to float32 for any input dtype).
The check runs the spec exactly (softmax_dtype from the spec), and then, for each such engine and in the same child
(workbench/check/measure.py), once more with its attention layers on that default path, compared with the float64
reference of the spec itself: INFO rows that show the size of the default's difference (1e-6 where the exact rows
show 1e-15).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tasks.spec import TaskSpec, Weights
from tasks.spec_attention import MultiHeadSelfAttention
from workbench.check.equivalence import CheckConfig, Measured, Row, forward_rows, gradient_rows
from workbench.check.measure import DEFAULT_SOFTMAX


def default_softmax_rows(spec: TaskSpec, measured: dict[str, Measured], weights: Weights, X: np.ndarray, y: np.ndarray,
                         config: CheckConfig) -> list[Row]:  # fmt: skip
    """Forward and gradient rows, float64, of each engine on its own default attention softmax vs the reference
    (measured in the engine's check child, where measure.default_softmax says)."""
    if not any(isinstance(l, MultiHeadSelfAttention) for l in spec.model.layers) or "float64" not in config.dtypes:
        return []
    b, rows = config.batch_size, []
    for name, m in measured.items():
        own = {k[len(DEFAULT_SOFTMAX) :]: v for k, v in m.arrays.items() if k.startswith(DEFAULT_SOFTMAX)}
        again = Measured(m.facts, {f"float64/{k}": v for k, v in own.items()})
        if not again.arrays:
            continue
        default = m.facts["attention_softmax"]
        label = f"{name} (default attention: softmax in {default})"
        found = forward_rows(spec, {label: again}, "float64", weights, X[:b]) + gradient_rows(spec, {label: again}, "float64", weights, X[:b], y[:b])
        note = f"the engine's own default attention path, softmax in {default}: measured, not judged"
        rows += [replace(r, status="INFO", note=note) for r in found if r.pair.startswith(label)]
    return rows
