"""Attention maps (issue 23): every engine's per-head weights of one review equal the reference's within tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from test_templates import DOWNCAST, UNSUPPORTED
from tiny_specs import tiny_task
from tiny_transformer import HEADS, LENGTH, TRANSFORMER

from frameworks.base import FRAMEWORKS, missing_packages
from workbench.check import equivalence as eq
from workbench.check.attention_maps import REFERENCE, engine_maps, figure_maps

# every installed built-in engine that builds the tiny transformer (the templates' declared pairs): each offers the
# protocol's optional attention_weights
ENGINES = [name for name in FRAMEWORKS if not missing_packages(name) and (name, "transformer") not in UNSUPPORTED]


def test_every_engine_gives_the_reference_maps():
    if not ENGINES:
        pytest.skip("no installed engine builds the transformer")
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
    exact = [name for name in ENGINES if maps.computed_in[name] == "float64"]
    assert exact == [name for name in ENGINES if name not in DOWNCAST], maps.computed_in  # as the engines declare
    assert all(maps.max_abs[name] < 1e-14 for name in exact), maps.max_abs  # engines that compute float64: exact
    figure = figure_maps(maps)
    assert len(figure) == HEADS * len(maps.weights) and np.shape(figure[f"{ENGINES[0]}, {maps.layers[0]}, head 1"]) == (LENGTH, LENGTH)


def test_pytorch_trains_on_the_fused_path_and_reads_maps_on_the_weights_path():
    """The PyTorch adapter calls nn.MultiheadAttention with need_weights=False (torch's fused
    scaled_dot_product_attention) and keeps no weights; the maps take the weights path for that call only. In float64
    both paths give the same logits."""
    if missing_packages("pytorch"):
        pytest.skip("pytorch is not installed")
    from frameworks import pytorch, pytorch_layers
    from frameworks.base import RunSettings

    spec = tiny_task(TRANSFORMER)
    settings = RunSettings(dtype="float64", threads=1, progress=False)
    pytorch.configure(settings)
    network = pytorch.create(spec, settings)
    network.build(eq.check_weights(spec, 0))
    layers = [m for m in network.model if isinstance(m, pytorch_layers.PaddingMaskedAttention)]
    ids = np.array([[0, 0, 3, 1, 4, 2], [1, 2, 3, 4, 1, 2]])
    fused = network.predict(ids)
    assert layers and all(layer.weights is None and not layer.keep_weights for layer in layers)
    maps = pytorch_layers.attention_weights(network, ids[0])
    assert maps.shape == (len(layers), HEADS, LENGTH, LENGTH) and np.all(maps[..., :2] == 0.0)
    assert not any(layer.keep_weights for layer in layers)  # back on the fused path
    for layer in layers:
        layer.keep_weights = True
    explicit = network.predict(ids)
    np.testing.assert_allclose(fused, explicit, rtol=0, atol=1e-13)
