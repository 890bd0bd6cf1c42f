"""The defaults table's measured sizes: each framework's own default (read by its adapter from the installed library)
applied to the spec's network in the float64 reference; a default equal to the spec's is not a difference."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from tiny_specs import MODELS, tiny_task
from tiny_transformer import TRANSFORMER

from tasks import reference
from tasks.reference_variants import with_layers
from tasks.spec import GELU, BatchNorm, LayerNorm, OptimizerSpec
from workbench.teach import difference_sizes as sizes
from workbench.teach.defaults import NOT_APPLICABLE, table_rows

pytorch = pytest.importorskip("frameworks.pytorch")
jax_adapter = pytest.importorskip("frameworks.jax")
SPEC = tiny_task(TRANSFORMER)


def _size_of(entry: str) -> float:
    """The largest |difference| of an entry '... <size> (<relative> rel)'."""
    return float(entry.rsplit(" (", 1)[0].rsplit(" ", 1)[1])


@pytest.fixture(scope="module")
def rows() -> dict[str, list[str]]:
    headers, found = table_rows(SPEC, {"pytorch": pytorch.defaults(SPEC), "jax": jax_adapter.defaults(SPEC)})
    assert headers[-1] == "measured size"
    return {row[0]: row for row in found}


def test_attention_rows_name_each_engines_default_and_measure_it(rows):
    gelu, softmax, mask = rows["GELU approximation"], rows["attention softmax dtype"], rows["attention padding mask"]
    assert gelu[1].startswith("erf") and gelu[2].startswith("tanh")  # torch's nn.GELU against nnx.gelu
    assert 1e-7 < _size_of(gelu[-1]) < 1e-2, gelu[-1]  # the tanh formula: small but far above rounding
    assert softmax[2].startswith("float32") and 1e-12 < _size_of(softmax[-1]) < 1e-5, softmax[-1]
    assert "True = ignore" in mask[1] and "True = attend" in mask[2]
    assert _size_of(mask[-1]) > 1e-2, mask[-1]  # a mask read the wrong way changes the answer itself


def test_the_size_is_the_reference_with_that_default():
    """The GELU entry equals the logits' change computed directly with the other formula."""
    p = sizes.probe(SPEC)
    other = with_layers(SPEC.model, GELU, approximate="tanh")
    direct = np.max(np.abs(reference.forward(other, p.weights, p.X[: sizes.BATCH]) - reference.forward(SPEC.model, p.weights, p.X[: sizes.BATCH])))
    assert sizes.gelu(p, ["tanh (the cell)"])[0].startswith(f"tanh: logits {direct:.1e}")


def test_a_default_equal_to_the_spec_is_no_difference_and_a_bigger_one_is_bigger():
    p = sizes.probe(SPEC)
    eps = next(layer.eps for layer in SPEC.model.layers if isinstance(layer, LayerNorm))
    assert sizes.layernorm_eps(p, [f"{eps}", f"{eps}, as the spec"]) == []
    small, large = sizes.layernorm_eps(p, ["1e-4", "1e-2"])
    assert small.startswith("eps 0.0001") and large.startswith("eps 0.01") and _size_of(small) < _size_of(large)


def test_batchnorm_and_optimizer_topics_are_measured_where_frameworks_differ():
    cnn = tiny_task(MODELS["cnn"])
    cnn = replace(cnn, optimizer=OptimizerSpec(name="adam", lr=1e-3, eps=1e-7))
    headers, found = table_rows(cnn, {"pytorch": pytorch.defaults(cnn), "jax": jax_adapter.defaults(cnn)})
    by_topic = {row[0]: row[-1] for row in found}
    assert by_topic["Adam epsilon"].startswith("eps 1e-08: weights after")  # both engines' 1e-8 against the spec's 1e-7
    assert "read as" in by_topic["BatchNorm momentum"]
    bn = next(layer for layer in cnn.model.layers if isinstance(layer, BatchNorm))
    engine_eps = {float(row[i].split()[0]) for row in found if row[0] == "BatchNorm epsilon" for i in (1, 2)}
    assert (by_topic["BatchNorm epsilon"] == NOT_APPLICABLE) == (engine_eps == {bn.eps})  # measured only where one differs
