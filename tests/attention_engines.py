"""Run one engine's own attention layer on canonical weights loaded through frameworks/layout.py (a child of the tests).

    python tests/attention_engines.py ENGINE IN.npz OUT.npz

ENGINE: torch (nn.MultiheadAttention), keras (keras.layers.MultiHeadAttention on TensorFlow) or flax
(flax.nnx.MultiHeadAttention). IN holds x (N, L, E), keep (N, L) bool (True = a real token), heads, and the
canonical weights under their short names; OUT gets y (N, L, E), the weights (N, H, L, L) and the weights the engine
holds after loading, mapped back to the canonical names ("back.<name>"); flax also "y_default", its output on the
default path (jax.nn.dot_product_attention, softmax in float32). Everything in float64. One engine per process:
JAX's float64 switch and Keras' backend are process-wide.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from frameworks import layout  # noqa: E402

WEIGHT_NAMES = layout.ATTENTION_KERAS_ORDER


def backed(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights an engine holds, mapped back to canonical short names, under "back.<name>"."""
    return {f"back.{name}": value for name, value in weights.items()}


def run_torch(x: np.ndarray, keep: np.ndarray, heads: int, p: dict) -> dict[str, np.ndarray]:
    """nn.MultiheadAttention, batch_first, key_padding_mask True = IGNORE (the opposite of `keep`)."""
    import torch

    mha = torch.nn.MultiheadAttention(x.shape[-1], heads, bias="query_bias" in p, batch_first=True, dtype=torch.float64)
    mha.load_state_dict({k: torch.from_numpy(v) for k, v in layout.attention_to_torch(p).items()}, strict=True)
    xt = torch.from_numpy(x)
    y, w = mha(xt, xt, xt, key_padding_mask=torch.from_numpy(~keep), need_weights=True, average_attn_weights=False)
    back = layout.attention_from_torch({k: v.detach().numpy() for k, v in mha.state_dict().items()}, heads)
    return {"y": y.detach().numpy(), "weights": w.detach().numpy(), **backed(back)}


def run_keras(x: np.ndarray, keep: np.ndarray, heads: int, p: dict) -> dict[str, np.ndarray]:
    """keras.layers.MultiHeadAttention (key_dim = per head), attention_mask (N, Lq, Lk) 1 = attend."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    mha = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=p["query_kernel"].shape[2], use_bias="query_bias" in p, dtype="float64")
    mha.build(x.shape, x.shape)
    mha.set_weights(layout.attention_to_keras(p))
    mask = np.broadcast_to(keep[:, None, :], (len(x), x.shape[1], x.shape[1]))
    y, w = mha(x, x, attention_mask=mask, return_attention_scores=True)
    back = layout.attention_from_keras(mha.get_weights())
    return {"y": keras.ops.convert_to_numpy(y), "weights": keras.ops.convert_to_numpy(w), **backed(back)}


def run_flax(x: np.ndarray, keep: np.ndarray, heads: int, p: dict) -> dict[str, np.ndarray]:
    """flax.nnx.MultiHeadAttention, mask (N, 1, Lq, Lk) True = attend; the weights sown on the module."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from flax import nnx

    e, h, d = p["query_kernel"].shape
    mha = nnx.MultiHeadAttention(num_heads=h, in_features=e, qkv_features=h * d, out_features=e, use_bias="query_bias" in p,
                                 dtype=jnp.float64, param_dtype=jnp.float64, decode=False, rngs=nnx.Rngs(0))  # fmt: skip
    variables = {path: getattr(getattr(mha, path.split(".")[0]), path.split(".")[1]) for path in layout.ATTENTION_FLAX_NAMES.values()}
    for path, value in layout.attention_to_flax(p).items():
        variables[path].set_value(jnp.asarray(value))
    mask = np.broadcast_to(keep[:, None, None, :], (len(x), 1, x.shape[1], x.shape[1]))
    y_default = mha(jnp.asarray(x), mask=jnp.asarray(mask))  # jax.nn.dot_product_attention: the softmax in float32
    y = mha(jnp.asarray(x), mask=jnp.asarray(mask), sow_weights=True)  # sowing takes Flax's own path: the input's dtype
    w = nnx.pop(mha, nnx.Intermediate)["attention_weights"].get_value()[0]
    flat = {path: np.asarray(variable.get_value()) for path, variable in variables.items() if variable is not None}
    return {"y": np.asarray(y), "weights": np.asarray(w), "y_default": np.asarray(y_default), **backed(layout.attention_from_flax(flat))}


ENGINES = {"torch": run_torch, "keras": run_keras, "flax": run_flax}

if __name__ == "__main__":
    engine, source, target = sys.argv[1:4]
    with np.load(source) as data:
        inputs = {k: data[k] for k in data.files}
    weights = {name: inputs[name] for name in WEIGHT_NAMES if name in inputs}
    np.savez(target, **ENGINES[engine](inputs["x"], inputs["keep"].astype(bool), int(inputs["heads"]), weights))
