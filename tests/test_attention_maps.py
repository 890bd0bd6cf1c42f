"""Attention maps (issue 23): every engine's per-head weights of one review equal the reference's within tolerance."""

from __future__ import annotations

import numpy as np
from tiny_specs import tiny_task
from tiny_transformer import HEADS, LENGTH, TRANSFORMER

from workbench.check import equivalence as eq
from workbench.check.attention_maps import REFERENCE, engine_maps, figure_maps

ENGINES = ["pytorch", "keras", "jax", "keras-torch"]


def test_every_engine_gives_the_reference_maps():
    spec = tiny_task(TRANSFORMER)
    ids = np.array([0, 0, 3, 1, 4, 2])  # pre-padded: the first two keys get weight 0
    maps = engine_maps(spec, eq.check_weights(spec, 0), ids, ENGINES)
    assert not maps.skipped, maps.skipped
    assert set(maps.weights) == {REFERENCE, *ENGINES}
    assert maps.weights[REFERENCE].shape == (1, HEADS, LENGTH, LENGTH)
    assert all(maps.within_tolerance().values()), maps.max_abs
    for name, w in maps.weights.items():
        assert np.all(w[..., :2] == 0.0), name  # padding keys exactly 0 in every engine
        np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-6)
    assert maps.max_abs["pytorch"] < 1e-14 and maps.max_abs["jax"] < 1e-14  # float64 engines: exact
    figure = figure_maps(maps)
    assert len(figure) == HEADS * len(maps.weights) and np.shape(figure[f"pytorch, {maps.layers[0]}, head 1"]) == (LENGTH, LENGTH)
