"""The transformer's layers (tasks/spec_attention.py) in the NumPy reference: by hand, the padding mask, and
backward vs central finite differences in float64, on a tiny pre-LN encoder; attention's FLOP count; the sentiment
variant's canonical init."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from test_reference import FD_ATOL, run_layer

from tasks import registry
from tasks.flops import layer_flops
from tasks.init import init_weights
from tasks.reference import finite_difference_gradients, forward, forward_layers, loss, loss_and_gradients
from tasks.attention_maps import attention_maps
from tasks.reference_attention import masked_softmax
from tasks.spec import (
    GELU,
    Dense,
    Embedding,
    InitSpec,
    MaskedMeanPooling,
    ModelSpec,
    MultiHeadSelfAttention,
    PositionEmbedding,
    param_shapes,
)
from tasks.spec_attention import real_tokens, uses_padding_mask
from tasks.spec_graph import Node, encoder_block, graph_model

rng = np.random.default_rng(0)


def tiny_encoder(approximate: str = "none", bias: bool = True, mask: str = "padding") -> ModelSpec:
    """Embedding(7, 4) + positions(5) -> one pre-LN block (2 heads x 3, FFN 5) -> masked mean -> Dense(1)."""
    block = encoder_block("b", "positions", heads=2, head_dim=3, ffn=5, width=4, eps=1e-5, approximate=approximate)
    block = tuple(Node(n.name, MultiHeadSelfAttention(2, 3, bias=bias, mask=mask), n.inputs)
                  if isinstance(n.layer, MultiHeadSelfAttention) else n for n in block)  # fmt: skip
    nodes = (Node("tokens", Embedding(7, 4)), Node("positions", PositionEmbedding(5, 4)), *block,
             Node("pool", MaskedMeanPooling(mask=mask)), Node("logit", Dense(1)))  # fmt: skip
    return graph_model((5,), nodes, input_dtype="int", loss="binary_cross_entropy")


def random_weights(model: ModelSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Weights large enough that the softmax and GELU are far from linear."""
    r = np.random.default_rng(seed)
    return {key: r.normal(0.0, 0.8, size=shape) for key, shape in param_shapes(model).items()}


# pre-padded ids (0 = padding in front), a row without padding, and an all-padding row (every key masked)
IDS = np.array([[0, 0, 3, 5, 2], [0, 4, 4, 1, 6], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0]])
LABELS = np.array([1, 0, 1, 0])


def naive_attention(x: np.ndarray, keep: np.ndarray, p: dict[str, np.ndarray], head_dim: int) -> np.ndarray:
    """Loops over samples, heads, queries and keys: the textbook formula with the keys' padding left out."""
    n, length, width = x.shape
    heads = p["query_kernel"].shape[1]
    y = np.tile(p["output_bias"], (n, length, 1))
    for s in range(n):
        for h in range(heads):
            q = x[s] @ p["query_kernel"][:, h] + p["query_bias"][h]
            k = x[s] @ p["key_kernel"][:, h] + p["key_bias"][h]
            v = x[s] @ p["value_kernel"][:, h] + p["value_bias"][h]
            for i in range(length):
                real = [j for j in range(length) if keep[s, j]]
                scores = np.array([q[i] @ k[j] / np.sqrt(head_dim) for j in real])
                weights = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum() if real else []
                o = sum((w * v[j] for w, j in zip(weights, real)), np.zeros(head_dim))
                y[s, i] += o @ p["output_kernel"][h]
    return y


def attention_params(width: int, heads: int, head_dim: int) -> dict[str, np.ndarray]:
    shapes = dict(zip(("query_kernel", "key_kernel", "value_kernel", "output_kernel", "query_bias", "key_bias", "value_bias",
                       "output_bias"), [(width, heads, head_dim)] * 3 + [(heads, head_dim, width)] + [(heads, head_dim)] * 3 + [(width,)]))  # fmt: skip
    return {name: rng.normal(0.0, 0.7, size=shape) for name, shape in shapes.items()}


def test_attention_matches_the_textbook_loops_with_padding_and_an_empty_row():
    layer, x = MultiHeadSelfAttention(heads=2, head_dim=3), rng.normal(size=(4, 5, 4))
    p = attention_params(4, 2, 3)
    keep = real_tokens(IDS)
    y = run_layer(layer, p, (x, keep))
    np.testing.assert_allclose(y, naive_attention(x, keep, p, 3), rtol=0, atol=1e-13)
    np.testing.assert_allclose(y[3], np.tile(p["output_bias"], (5, 1)), rtol=0, atol=0)  # no real key: weights 0, output = bias


def test_masked_softmax_gives_padding_exactly_zero_and_normalises_the_rest():
    scores = rng.normal(size=(2, 1, 3, 4)) * 50.0  # large scores: no overflow either
    keep = np.array([[False, True, True, False], [False, False, False, False]])
    w = masked_softmax(scores, keep)
    assert np.all(w[0][..., [0, 3]] == 0.0) and np.all(w[1] == 0.0)
    np.testing.assert_allclose(w[0].sum(axis=-1), 1.0, rtol=0, atol=1e-15)


def test_gelu_both_forms_by_known_values():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 2.5])
    np.testing.assert_allclose(run_layer(GELU("none"), {}, x), x * norm.cdf(x), rtol=0, atol=1e-15)
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(run_layer(GELU("tanh"), {}, x), tanh_form, rtol=0, atol=1e-15)
    assert run_layer(GELU("none"), {}, np.array([1.0]))[0] == pytest.approx(0.8413447460685429, abs=1e-15)
    assert abs(run_layer(GELU("tanh"), {}, x) - run_layer(GELU("none"), {}, x)).max() > 1e-4  # two different functions
    with pytest.raises(ValueError, match="'none' \\(erf\\) or 'tanh'"):
        run_layer(GELU("sigmoid"), {}, x)


def test_position_embedding_adds_row_t_to_slot_t():
    table, x = rng.normal(size=(6, 3)), rng.normal(size=(2, 4, 3))
    np.testing.assert_array_equal(run_layer(PositionEmbedding(6, 3), {"embeddings": table}, x), x + table[:4])


def test_masked_mean_pooling_averages_the_real_tokens_only():
    x = rng.normal(size=(4, 5, 3))
    y = run_layer(MaskedMeanPooling(), {}, (x, real_tokens(IDS)))
    np.testing.assert_allclose(y[0], x[0, 2:].mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(y[1], x[1, 1:].mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(y[2], x[2].mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(y[3], np.zeros(3))  # all padding: zeros, no division by 0
    np.testing.assert_allclose(run_layer(MaskedMeanPooling(mask="none"), {}, x), x.mean(axis=1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("approximate, bias, mask", [("none", True, "padding"), ("tanh", True, "padding"), ("none", False, "padding"),
                                                     ("none", True, "none")])  # fmt: skip
def test_encoder_gradients_match_central_differences(approximate, bias, mask):
    """Every weight of a tiny pre-LN encoder, a fully masked row in the batch, both GELUs, with and without biases."""
    model = tiny_encoder(approximate, bias, mask)
    weights = random_weights(model)
    value, grads = loss_and_gradients(model, weights, IDS, LABELS)
    assert value == pytest.approx(loss(forward(model, weights, IDS), LABELS, model.loss), rel=0, abs=1e-14)
    numeric = finite_difference_gradients(model, weights, IDS, LABELS)
    assert list(numeric) == list(grads) and all(np.all(np.isfinite(g)) for g in grads.values())
    for key in grads:
        np.testing.assert_allclose(grads[key], numeric[key], rtol=0, atol=FD_ATOL, err_msg=key)
    assert any(np.abs(grads[k]).max() > 1e-3 for k in grads if "multiheadselfattention" in k)  # the check had work to do


def test_the_mask_matters_and_hides_the_padding():
    """With the mask, the padding's embedding and its positions cannot reach the logits; without it they do."""
    masked, unmasked = tiny_encoder(), tiny_encoder(mask="none")
    weights = random_weights(masked)
    moved = dict(weights)
    moved["embedding_0.embeddings"] = weights["embedding_0.embeddings"].copy()
    moved["embedding_0.embeddings"][0] += 3.0  # the padding id's row
    moved["positionembedding_1.embeddings"] = weights["positionembedding_1.embeddings"].copy()
    moved["positionembedding_1.embeddings"][0] += 3.0  # slot 0 is padding in rows 0, 1 and 3
    rows = [0, 1, 3]  # the rows with padding (row 2 has none: its slot 0 is a word)
    np.testing.assert_allclose(forward(masked, moved, IDS)[rows], forward(masked, weights, IDS)[rows], rtol=0, atol=1e-14)
    assert np.abs(forward(unmasked, moved, IDS)[:2] - forward(unmasked, weights, IDS)[:2]).min() > 1e-3
    _, grads = loss_and_gradients(masked, weights, IDS, LABELS)
    np.testing.assert_array_equal(grads["embedding_0.embeddings"][0], 0.0)  # no gradient reaches the padding row
    assert np.abs(forward(masked, weights, IDS) - forward(unmasked, weights, IDS))[:2].min() > 1e-3


def test_a_fully_masked_review_gives_finite_outputs_and_gradients():
    model, ids = tiny_encoder(), np.zeros((2, 5), dtype=np.int64)
    weights = random_weights(model)
    logits = forward(model, weights, ids)
    np.testing.assert_allclose(logits, np.tile(weights["dense_11.bias"], (2, 1)), rtol=0, atol=0)  # pooled zeros
    _, grads = loss_and_gradients(model, weights, ids, np.array([1, 0]))
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    assert not np.any(grads["multiheadselfattention_3.query_kernel"])


def test_attention_maps_of_one_review_are_the_layers_weights():
    model = tiny_encoder()
    weights = random_weights(model)
    maps = attention_maps(model, weights, IDS[0])
    assert list(maps) == ["multiheadselfattention_3"] and maps["multiheadselfattention_3"].shape == (2, 5, 5)
    w = maps["multiheadselfattention_3"]
    assert np.all(w[:, :, :2] == 0.0)  # the two padding keys
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=0, atol=1e-15)
    # the same weights from the layer's own input, recomputed by hand
    x = dict(forward_layers(model, weights, IDS[:1]))["2 LayerNorm"][0]
    p = {name: weights[f"multiheadselfattention_3.{name}"] for name in ("query_kernel", "key_kernel", "query_bias", "key_bias")}
    q = np.einsum("le,ehd->hld", x, p["query_kernel"]) + p["query_bias"][:, None]
    k = np.einsum("le,ehd->hld", x, p["key_kernel"]) + p["key_bias"][:, None]
    s = np.einsum("hqd,hkd->hqk", q, k)[:, :, 2:] / np.sqrt(3)
    np.testing.assert_allclose(w[:, :, 2:], np.exp(s) / np.exp(s).sum(axis=-1, keepdims=True), rtol=0, atol=1e-14)


def test_a_float32_softmax_rounds_the_weights_and_nothing_else():
    """softmax_dtype="float32" (jax.nn.dot_product_attention's choice) moves float64 weights by float32 rounding only."""
    x, p, keep = rng.normal(size=(4, 5, 4)), attention_params(4, 2, 3), real_tokens(IDS)
    exact = run_layer(MultiHeadSelfAttention(2, 3), p, (x, keep))
    rounded = run_layer(MultiHeadSelfAttention(2, 3, softmax_dtype="float32"), p, (x, keep))
    assert rounded.dtype == np.float64 and 1e-12 < np.abs(rounded - exact).max() < 1e-5
    with pytest.raises(ValueError, match="use 'input' or 'float32'"):
        run_layer(MultiHeadSelfAttention(2, 3, softmax_dtype="bfloat16"), p, (x, keep))


def test_bad_mask_names_are_refused():
    with pytest.raises(ValueError, match="use one of padding, none"):
        uses_padding_mask(MultiHeadSelfAttention(mask="causal"))


def _einsum_flops(subscripts: str, *shapes: tuple[int, ...]) -> int:
    """The FLOPs NumPy counts for one contraction (np.einsum_path's naive count: 2 per multiply-add)."""
    text = np.einsum_path(subscripts, *(np.empty(shape) for shape in shapes), optimize=False)[1]
    return round(float(text.split("Naive FLOP count:")[1].split()[0]))


def test_attention_flops_are_its_contractions_and_one_softmax_op_per_score():
    """tasks.flops: the four projections, q k^T and the weighted sum as NumPy counts those contractions, plus one
    operation per softmax score (biases, the 1/sqrt(D) scale and the mask are not counted)."""
    L, E, H, D = 5, 4, 2, 3
    contractions = [
        *[("le,ehd->hld", (L, E), (E, H, D))] * 3,  # the query, key and value projections
        ("hld,hde->le", (H, L, D), (H, D, E)),  # the output projection
        ("hqd,hkd->hqk", (H, L, D), (H, L, D)),  # q k^T
        ("hqk,hkd->hqd", (H, L, L), (H, L, D)),  # the weights times v
    ]
    expected = sum(_einsum_flops(subscripts, *shapes) for subscripts, *shapes in contractions) + H * L * L
    assert layer_flops(MultiHeadSelfAttention(heads=H, head_dim=D), (L, E), (L, E)) == expected


# ---------------------------------------------------------------- the sentiment variant


def test_sentiment_transformer_init_is_glorot_per_projection_matrix():
    spec = registry.get("sentiment").variant("transformer")
    weights = init_weights(spec.model, spec.init, 0)
    assert {k: v.shape for k, v in weights.items()} == param_shapes(spec.model)
    limit = np.sqrt(6.0 / (64 + 64))
    for name in ("query_kernel", "output_kernel"):
        w = weights[f"multiheadselfattention_3.{name}"]
        assert limit * 0.98 < np.abs(w).max() <= limit  # U(-l, l) on the (64, 64) matrix, not Keras' 3-D fans
    assert not np.any(weights["multiheadselfattention_3.query_bias"]) and np.abs(weights["positionembedding_1.embeddings"]).max() <= 0.05
    again = init_weights(spec.model, InitSpec(**vars(spec.init)), 0)
    assert all(np.array_equal(weights[k], again[k]) for k in weights)
