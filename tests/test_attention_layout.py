"""The attention layouts of frameworks/layout.py: round trips, torch's packed projection computed by hand, and each
engine's own attention layer (torch, Keras on TensorFlow, Flax NNX) on the mapped weights against the float64 reference."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from frameworks import layout
from tasks.reference_attention import attention_forward, attention_probabilities
from tasks.spec import MultiHeadSelfAttention
from tasks.spec_attention import real_tokens

rng = np.random.default_rng(0)
E, H, D = 8, 2, 4  # H * D == E, as torch's nn.MultiheadAttention needs
IDS = np.array([[0, 0, 3, 5, 2], [0, 4, 4, 1, 6], [1, 2, 3, 4, 5]])  # pre-padding; no all-padding row (torch gives NaN there)
ENGINES_SCRIPT = Path(__file__).resolve().parent / "attention_engines.py"


def canonical(width: int = E, heads: int = H, head_dim: int = D, bias: bool = True) -> dict[str, np.ndarray]:
    """Random canonical attention weights under their short names."""
    shapes = {"query_kernel": (width, heads, head_dim), "key_kernel": (width, heads, head_dim), "value_kernel": (width, heads, head_dim),
              "output_kernel": (heads, head_dim, width)}  # fmt: skip
    if bias:
        shapes |= {"query_bias": (heads, head_dim), "key_bias": (heads, head_dim), "value_bias": (heads, head_dim), "output_bias": (width,)}
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def reference(p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    layer = MultiHeadSelfAttention(heads=H, head_dim=D, bias="query_bias" in p)
    return attention_forward(layer, p, (x, real_tokens(IDS)), False)[0]


def torch_formula(state: dict[str, np.ndarray], x: np.ndarray, keep: np.ndarray, split: str = "hd") -> np.ndarray:
    """nn.MultiheadAttention's computation in NumPy: one packed projection, heads by a view, concat, out_proj."""
    n, length, width = x.shape
    qkv = x @ state["in_proj_weight"].T + state.get("in_proj_bias", 0.0)

    def heads(t: np.ndarray) -> np.ndarray:
        if split == "hd":  # torch's view(..., H, D)
            return t.reshape(n, length, H, D).transpose(0, 2, 1, 3)
        return t.reshape(n, length, D, H).transpose(0, 3, 1, 2)  # the (D, H) mistake

    q, k, v = (heads(t) for t in np.split(qkv, 3, axis=-1))
    scores = np.where(keep[:, None, None, :], q @ k.transpose(0, 1, 3, 2) / np.sqrt(D), -np.inf)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    o = (w / w.sum(axis=-1, keepdims=True)) @ v  # (N, H, L, D)
    merged = o.transpose(0, 2, 1, 3).reshape(n, length, width) if split == "hd" else o.transpose(0, 2, 3, 1).reshape(n, length, width)
    return merged @ state["out_proj.weight"].T + state.get("out_proj.bias", 0.0)


@pytest.mark.parametrize("bias", [True, False])
def test_torch_round_trip_and_shapes(bias):
    p = canonical(bias=bias)
    state = layout.attention_to_torch(p)
    expected = {"in_proj_weight": (3 * E, E), "out_proj.weight": (E, E)} | ({"in_proj_bias": (3 * E,), "out_proj.bias": (E,)} if bias else {})
    assert {k: v.shape for k, v in state.items()} == expected
    back = layout.attention_from_torch(state, H)
    assert sorted(back) == sorted(p) and all(np.array_equal(back[k], p[k]) for k in p)


def test_torch_packed_projection_computes_the_reference():
    p, x = canonical(), rng.normal(size=(3, 5, E))
    state = layout.attention_to_torch(p)
    np.testing.assert_allclose(torch_formula(state, x, real_tokens(IDS)), reference(p, x), rtol=0, atol=1e-12)
    # the same weights with heads split as (D, H): another function, which the checks must be able to tell
    assert np.abs(torch_formula(state, x, real_tokens(IDS), split="dh") - reference(p, x)).max() > 1e-2


def test_torch_refuses_heads_times_head_dim_other_than_width():
    with pytest.raises(ValueError, match="heads \\* head_dim == width: 2 \\* 8 != 8"):
        layout.attention_to_torch(canonical(width=8, heads=2, head_dim=8))  # keras-io's key_dim = E: H*D = 2E


def test_keras_order_and_round_trip():
    p = canonical()
    arrays = layout.attention_to_keras(p)
    assert [a.shape for a in arrays] == [(E, H, D), (H, D)] * 3 + [(H, D, E), (E,)]
    back = layout.attention_from_keras(arrays)
    assert all(np.array_equal(back[k], p[k]) for k in p) and len(back) == 8
    no_bias = canonical(bias=False)
    assert sorted(layout.attention_from_keras(layout.attention_to_keras(no_bias))) == sorted(no_bias)
    with pytest.raises(ValueError, match="8 arrays \\(4 without bias\\), not 5"):
        layout.attention_from_keras(arrays[:5])


def test_flax_names_and_round_trip():
    p = canonical()
    flat = layout.attention_to_flax(p)
    assert flat["query.kernel"] is p["query_kernel"] and flat["out.kernel"].shape == (H, D, E) and flat["out.bias"].shape == (E,)
    back = layout.attention_from_flax(flat)
    assert all(np.array_equal(back[k], p[k]) for k in p) and len(back) == 8


ENGINE_MODULES = {"torch": "torch", "keras": "tensorflow", "flax": "flax"}


@pytest.mark.parametrize("engine", sorted(ENGINE_MODULES))
def test_each_engines_own_attention_on_the_mapped_weights_is_the_reference(engine, tmp_path):
    """float64: the engine's output, its per-head weights, and the weights read back through the layout."""
    if importlib.util.find_spec(ENGINE_MODULES[engine]) is None:
        pytest.skip(f"{ENGINE_MODULES[engine]} is not installed")
    p, x = canonical(), rng.normal(size=(3, 5, E))
    np.savez(tmp_path / "in.npz", x=x, keep=real_tokens(IDS), heads=H, **p)
    done = subprocess.run([sys.executable, str(ENGINES_SCRIPT), engine, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_allclose(out["y"], reference(p, x), rtol=0, atol=1e-12)
        layer = MultiHeadSelfAttention(heads=H, head_dim=D)
        np.testing.assert_allclose(out["weights"], attention_probabilities(layer, p, x, real_tokens(IDS))[3], rtol=0, atol=1e-13)
        for name in p:
            np.testing.assert_array_equal(out[f"back.{name}"], p[name], err_msg=name)
        if engine == "flax":  # its default path, jax.nn.dot_product_attention, rounds the softmax to float32
            off = float(np.abs(out["y_default"] - reference(p, x)).max())
            assert 1e-12 < off < 1e-5, off
