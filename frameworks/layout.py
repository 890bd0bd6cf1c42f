"""Canonical weight layout <-> each framework: pure NumPy functions, each with a round-trip test.

The canonical layout (see `tasks.spec`) happens to be Keras' own, so the Keras mapping is the
identity; PyTorch differs in five places:

* Dense kernel: canonical (in, out), torch `weight` (out, in)            -> transpose
* Conv kernel: canonical HWIO, torch OIHW                                -> permute axes
* images: canonical NHWC, torch NCHW                                     -> permute axes
* the first Dense after Flatten: its input rows follow the flatten order,
  H, W, C canonically but C, H, W in torch                               -> permute rows
* LSTM: torch keeps `weight_ih` (4u, in), `weight_hh` (4u, u) and two biases
  `bias_ih`, `bias_hh`; canonical has one bias. Gate order is the same
  (torch names them i, f, g, o; Keras i, f, c, o; g and c are the cell candidate).

Flax NNX (frameworks/jax.py) keeps Keras' layouts: Dense (in, out), Conv HWIO, NHWC images, a
reshape flattens H, W, C. Only names differ, plus the LSTM's split: `nnx.OptimizedLSTMCell`
holds `dense_i` (in, 4u) without bias and `dense_h` (u, 4u) with the one bias, gates i, f, g, o
(the canonical order), carry (c, h). BatchNorm: gamma, beta -> `scale`, `bias`; moving
statistics -> `mean`, `var`.

The layers of tasks/spec_layers.py (issue 15):

* GRU: canonical gates z, r, h (Keras' order) with bias (2, 3u) = [input; recurrent] ("reset after");
  torch orders the gates r, z, n in `weight_ih` (3u, in), `weight_hh` (3u, u), `bias_ih`, `bias_hh`
  -> swap the first two gate blocks (and transpose); frameworks/jax.py's `ResetAfterGRUCell` keeps
  Flax's r, z, n order in `dense_i` / `dense_h`, each with a bias -> the same swap, no transpose.
* Conv1D kernel: canonical (k, in, out), torch (out, in, k); sequences stay (N, L, C) between modules.
* LayerNorm: gamma, beta -> torch `weight`, `bias`; Flax `scale`, `bias`.
"""

from __future__ import annotations

import numpy as np

from tasks.spec import (
    GRU,
    LSTM,
    PARAM_NAMES,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    LayerNorm,
    ModelSpec,
    layer_inputs,
    layer_name,
    layer_shapes,
    param_key,
)
from tasks.spec_attention import MultiHeadSelfAttention, PositionEmbedding

# ---------------------------------------------------------------- single tensors


def dense_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """(in, out) -> torch Linear.weight (out, in)."""
    return np.ascontiguousarray(kernel.T)


def dense_kernel_from_torch(weight: np.ndarray) -> np.ndarray:
    """torch Linear.weight (out, in) -> (in, out)."""
    return np.ascontiguousarray(weight.T)


def conv_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """HWIO -> OIHW."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def conv_kernel_from_torch(weight: np.ndarray) -> np.ndarray:
    """OIHW -> HWIO."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def images_to_torch(X: np.ndarray) -> np.ndarray:
    """NHWC -> NCHW (a batch of images)."""
    return np.ascontiguousarray(X.transpose(0, 3, 1, 2))


def images_from_torch(X: np.ndarray) -> np.ndarray:
    """NCHW -> NHWC."""
    return np.ascontiguousarray(X.transpose(0, 2, 3, 1))


def flatten_rows_to_torch(kernel: np.ndarray, hwc: tuple[int, int, int]) -> np.ndarray:
    """Rows of a Dense kernel after Flatten: H, W, C order -> C, H, W order (still (in, out))."""
    h, w, c = hwc
    return np.ascontiguousarray(kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1))


def flatten_rows_from_torch(kernel: np.ndarray, hwc: tuple[int, int, int]) -> np.ndarray:
    """Rows of a Dense kernel after Flatten: C, H, W order -> H, W, C order."""
    h, w, c = hwc
    return np.ascontiguousarray(kernel.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(h * w * c, -1))


def flat_features_from_torch(x: np.ndarray, hwc: tuple[int, int, int]) -> np.ndarray:
    """Output of torch's Flatten (C, H, W order) -> canonical H, W, C order (per-layer comparisons)."""
    h, w, c = hwc
    return np.ascontiguousarray(x.reshape(len(x), c, h, w).transpose(0, 2, 3, 1).reshape(len(x), -1))


def lstm_to_torch(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """Canonical LSTM -> torch's four tensors; the second bias is loaded as zeros."""
    return {
        "weight_ih_l0": np.ascontiguousarray(kernel.T),
        "weight_hh_l0": np.ascontiguousarray(recurrent.T),
        "bias_ih_l0": bias.copy(),
        "bias_hh_l0": np.zeros_like(bias),
    }


def lstm_from_torch(tensors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """torch's four LSTM tensors -> canonical (kernel, recurrent_kernel, bias); the two biases sum."""
    return (
        np.ascontiguousarray(tensors["weight_ih_l0"].T),
        np.ascontiguousarray(tensors["weight_hh_l0"].T),
        tensors["bias_ih_l0"] + tensors["bias_hh_l0"],
    )


def gru_gates_to_torch(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gate blocks along `axis`: canonical z, r, h (Keras) -> r, z, n (torch.nn.GRU, Flax's GRUCell)."""
    z, r, h = np.split(a, 3, axis=axis)
    return np.concatenate([r, z, h], axis=axis)


def gru_gates_from_torch(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gate blocks along `axis`: r, z, n (torch, Flax) -> canonical z, r, h."""
    r, z, n = np.split(a, 3, axis=axis)
    return np.concatenate([z, r, n], axis=axis)


def gru_to_torch(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """Canonical GRU -> torch's four tensors: gates reordered, kernels transposed, bias row 0 input / row 1 recurrent."""
    return {
        "weight_ih_l0": np.ascontiguousarray(gru_gates_to_torch(kernel).T),
        "weight_hh_l0": np.ascontiguousarray(gru_gates_to_torch(recurrent).T),
        "bias_ih_l0": gru_gates_to_torch(bias[0]),
        "bias_hh_l0": gru_gates_to_torch(bias[1]),
    }


def gru_from_torch(tensors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """torch's four GRU tensors -> canonical (kernel, recurrent_kernel, bias (2, 3u))."""
    return (
        gru_gates_from_torch(np.ascontiguousarray(tensors["weight_ih_l0"].T)),
        gru_gates_from_torch(np.ascontiguousarray(tensors["weight_hh_l0"].T)),
        np.stack([gru_gates_from_torch(tensors["bias_ih_l0"]), gru_gates_from_torch(tensors["bias_hh_l0"])]),
    )


def gru_to_flax(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """Canonical GRU -> frameworks.jax.ResetAfterGRUCell's variables (Flax's r, z, n order, (in, out) kernels)."""
    return {
        "dense_i.kernel": gru_gates_to_torch(kernel),
        "dense_i.bias": gru_gates_to_torch(bias[0]),
        "dense_h.kernel": gru_gates_to_torch(recurrent),
        "dense_h.bias": gru_gates_to_torch(bias[1]),
    }


def gru_from_flax(tensors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ResetAfterGRUCell's variables -> canonical (kernel, recurrent_kernel, bias (2, 3u))."""
    return (
        gru_gates_from_torch(tensors["dense_i.kernel"]),
        gru_gates_from_torch(tensors["dense_h.kernel"]),
        np.stack([gru_gates_from_torch(tensors["dense_i.bias"]), gru_gates_from_torch(tensors["dense_h.bias"])]),
    )


def conv1d_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """(k, in, out) -> torch Conv1d.weight (out, in, k)."""
    return np.ascontiguousarray(kernel.transpose(2, 1, 0))


def conv1d_kernel_from_torch(weight: np.ndarray) -> np.ndarray:
    """torch Conv1d.weight (out, in, k) -> (k, in, out)."""
    return np.ascontiguousarray(weight.transpose(2, 1, 0))


# ---------------------------------------------------------------- whole models


def _flatten_input(model: ModelSpec) -> dict[int, tuple[int, int, int]]:
    """Index of each Dense that directly follows a Flatten of an image -> that image's (H, W, C)."""
    result, shapes, sources = {}, layer_shapes(model), layer_inputs(model)
    for i in range(1, len(model.layers)):
        j = sources[i][0]  # the layer before, in a chain
        if j >= 0 and isinstance(model.layers[i], Dense) and isinstance(model.layers[j], Flatten) and len(shapes[j][0]) == 3:
            result[i] = shapes[j][0]
    return result


def to_torch(model: ModelSpec, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical weights -> a torch `state_dict` (as NumPy) for `frameworks.pytorch.SpecModel`."""
    state, after_flatten = {}, _flatten_input(model)
    for i, layer in enumerate(model.layers):
        w = lambda name: weights[param_key(i, layer, name)]  # noqa: E731
        if isinstance(layer, Dense):
            kernel = w("kernel")
            if i in after_flatten:
                kernel = flatten_rows_to_torch(kernel, after_flatten[i])
            state[f"{i}.weight"], state[f"{i}.bias"] = dense_kernel_to_torch(kernel), w("bias")
        elif isinstance(layer, Conv2D):
            state[f"{i}.weight"], state[f"{i}.bias"] = conv_kernel_to_torch(w("kernel")), w("bias")
        elif isinstance(layer, BatchNorm):
            state[f"{i}.weight"], state[f"{i}.bias"] = w("gamma"), w("beta")
            state[f"{i}.running_mean"], state[f"{i}.running_var"] = w("moving_mean"), w("moving_var")
        elif isinstance(layer, Embedding):
            state[f"{i}.weight"] = w("embeddings")
        elif isinstance(layer, LSTM):
            for name, value in lstm_to_torch(w("kernel"), w("recurrent_kernel"), w("bias")).items():
                state[f"{i}.lstm.{name}"] = value
        elif isinstance(layer, GRU):
            for name, value in gru_to_torch(w("kernel"), w("recurrent_kernel"), w("bias")).items():
                state[f"{i}.gru.{name}"] = value
        elif isinstance(layer, Conv1D):
            state[f"{i}.weight"], state[f"{i}.bias"] = conv1d_kernel_to_torch(w("kernel")), w("bias")
        elif isinstance(layer, LayerNorm):
            state[f"{i}.weight"], state[f"{i}.bias"] = w("gamma"), w("beta")
        elif isinstance(layer, PositionEmbedding):
            state[f"{i}.weight"] = w("embeddings")  # frameworks.pytorch_layers.LearnedPositions, an nn.Embedding
        elif isinstance(layer, MultiHeadSelfAttention):  # frameworks.pytorch_layers.PaddingMaskedAttention
            p = {n: weights[param_key(i, layer, n)] for n in ATTENTION_KERAS_ORDER if param_key(i, layer, n) in weights}
            state |= {f"{i}.attention.{name}": value for name, value in attention_to_torch(p).items()}
    return state


def from_torch(model: ModelSpec, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A torch `state_dict` (as NumPy) -> canonical weights. Also maps gradients (same shapes)."""
    weights, after_flatten = {}, _flatten_input(model)
    for i, layer in enumerate(model.layers):
        key = lambda name: param_key(i, layer, name)  # noqa: E731
        if isinstance(layer, Dense):
            kernel = dense_kernel_from_torch(state[f"{i}.weight"])
            if i in after_flatten:
                kernel = flatten_rows_from_torch(kernel, after_flatten[i])
            weights[key("kernel")], weights[key("bias")] = kernel, state[f"{i}.bias"]
        elif isinstance(layer, Conv2D):
            weights[key("kernel")] = conv_kernel_from_torch(state[f"{i}.weight"])
            weights[key("bias")] = state[f"{i}.bias"]
        elif isinstance(layer, BatchNorm):
            weights[key("gamma")], weights[key("beta")] = state[f"{i}.weight"], state[f"{i}.bias"]
            if f"{i}.running_mean" in state:  # gradients carry no running statistics
                weights[key("moving_mean")] = state[f"{i}.running_mean"]
                weights[key("moving_var")] = state[f"{i}.running_var"]
        elif isinstance(layer, Embedding):
            weights[key("embeddings")] = state[f"{i}.weight"]
        elif isinstance(layer, LSTM):
            tensors = {name: state[f"{i}.lstm.{name}"] for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}
            weights[key("kernel")], weights[key("recurrent_kernel")], weights[key("bias")] = lstm_from_torch(tensors)
        elif isinstance(layer, GRU):
            tensors = {name: state[f"{i}.gru.{name}"] for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}
            weights[key("kernel")], weights[key("recurrent_kernel")], weights[key("bias")] = gru_from_torch(tensors)
        elif isinstance(layer, Conv1D):
            weights[key("kernel")] = conv1d_kernel_from_torch(state[f"{i}.weight"])
            weights[key("bias")] = state[f"{i}.bias"]
        elif isinstance(layer, LayerNorm):
            weights[key("gamma")], weights[key("beta")] = state[f"{i}.weight"], state[f"{i}.bias"]
        elif isinstance(layer, PositionEmbedding):
            weights[key("embeddings")] = state[f"{i}.weight"]
        elif isinstance(layer, MultiHeadSelfAttention):
            prefix = f"{i}.attention."
            tensors = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            weights |= {key(name): value for name, value in attention_from_torch(tensors, layer.heads).items()}
    return weights


# Flax NNX: flat keys are the module paths of frameworks.jax.SpecModel, joined with dots.
FLAX_NAMES: dict[type, dict[str, str]] = {
    Dense: {"kernel": "kernel", "bias": "bias"},
    Conv2D: {"kernel": "kernel", "bias": "bias"},
    BatchNorm: {"gamma": "scale", "beta": "bias", "moving_mean": "mean", "moving_var": "var"},
    Embedding: {"embeddings": "embedding"},
    LSTM: {"kernel": "rnn.cell.dense_i.kernel", "recurrent_kernel": "rnn.cell.dense_h.kernel", "bias": "rnn.cell.dense_h.bias"},
    Conv1D: {"kernel": "kernel", "bias": "bias"},
    LayerNorm: {"gamma": "scale", "beta": "bias"},
    PositionEmbedding: {"embeddings": "embedding"},  # frameworks.jax_layers.LearnedPositions
}
GRU_FLAX_PREFIX = "rnn.cell."  # frameworks.jax.LastHiddenGRU: nnx.RNN(ResetAfterGRUCell) under `rnn`


def to_flax(model: ModelSpec, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical weights -> {Flax variable path, e.g. 'layers.0.kernel': array}; same arrays, new names."""
    flat = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, GRU) and param_key(i, layer, "kernel") in weights:
            args = [weights[param_key(i, layer, n)] for n in ("kernel", "recurrent_kernel", "bias")]
            flat |= {f"layers.{i}.{GRU_FLAX_PREFIX}{name}": value for name, value in gru_to_flax(*args).items()}
        names = ATTENTION_FLAX_NAMES if isinstance(layer, MultiHeadSelfAttention) else FLAX_NAMES.get(type(layer), {})
        for name, flax_name in names.items():  # attention: frameworks.jax_layers.PaddingMaskedAttention, an nnx.MultiHeadAttention
            if param_key(i, layer, name) in weights:
                flat[f"layers.{i}.{flax_name}"] = weights[param_key(i, layer, name)]
    return flat


def from_flax(model: ModelSpec, flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{Flax variable path: array} -> canonical weights. Also maps gradients (no BatchNorm statistics)."""
    weights = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, GRU):
            names = ("dense_i.kernel", "dense_i.bias", "dense_h.kernel", "dense_h.bias")
            keys = [param_key(i, layer, n) for n in ("kernel", "recurrent_kernel", "bias")]
            weights |= dict(zip(keys, gru_from_flax({n: flat[f"layers.{i}.{GRU_FLAX_PREFIX}{n}"] for n in names})))
        names = ATTENTION_FLAX_NAMES if isinstance(layer, MultiHeadSelfAttention) else FLAX_NAMES.get(type(layer), {})
        for name, flax_name in names.items():
            if f"layers.{i}.{flax_name}" in flat:
                weights[param_key(i, layer, name)] = flat[f"layers.{i}.{flax_name}"]
    return weights


def to_keras(model: ModelSpec, weights: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Canonical weights -> {Keras layer name: its `get_weights()` list}; the identity layout."""
    result: dict[str, list[np.ndarray]] = {}
    for i, layer in enumerate(model.layers):
        values = [weights[param_key(i, layer, n)] for n in keras_param_names(layer) if param_key(i, layer, n) in weights]
        if values:
            result[layer_name(i, layer)] = values
    return result


def from_keras(model: ModelSpec, layer_weights: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """{Keras layer name: `get_weights()` list} -> canonical weights (identity layout)."""
    weights = {}
    for i, layer in enumerate(model.layers):
        arrays = layer_weights.get(layer_name(i, layer), [])
        names = keras_param_names(layer, len(arrays))
        for name, value in zip(names, arrays):
            weights[param_key(i, layer, name)] = value
    return weights


def keras_param_names(layer: object, count: int | None = None) -> tuple[str, ...]:
    """Canonical names of a Keras layer's get_weights() / weights list, in Keras' order: the canonical order except
    keras.layers.MultiHeadAttention's (kernel, bias per projection; `count` 4 = no biases)."""
    if isinstance(layer, MultiHeadSelfAttention):
        return ATTENTION_KERAS_ORDER[::2] if (count == 4 or (count is None and not layer.bias)) else ATTENTION_KERAS_ORDER
    return PARAM_NAMES.get(type(layer), ())


def to_sklearn_mlp(model: ModelSpec, weights: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Canonical Dense-only weights -> MLPClassifier's (coefs_, intercepts_); same (in, out) layout."""
    coefs = [weights[param_key(i, l, "kernel")] for i, l in enumerate(model.layers) if isinstance(l, Dense)]
    intercepts = [weights[param_key(i, l, "bias")] for i, l in enumerate(model.layers) if isinstance(l, Dense)]
    return coefs, intercepts


def from_sklearn_mlp(model: ModelSpec, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> dict[str, np.ndarray]:
    """MLPClassifier's (coefs_, intercepts_) -> canonical weights."""
    dense = [(i, l) for i, l in enumerate(model.layers) if isinstance(l, Dense)]
    weights = {}
    for (i, layer), coef, intercept in zip(dense, coefs, intercepts):
        weights[param_key(i, layer, "kernel")], weights[param_key(i, layer, "bias")] = coef, intercept
    return weights


# ---------------------------------------------------------------- multi-head self-attention (issue 23)
#
# Canonical (tasks/spec_attention.py; Keras' and Flax NNX's own): query/key/value kernels (E, H, D), biases (H, D),
# output kernel (H, D, E), bias (E,); a projection flattened to (E, H*D) puts head h's feature d at column h*D + d.
# * torch nn.MultiheadAttention packs q, k, v as the rows of in_proj_weight (3E, E) (each block (out, in), heads
#   split as (H, D) by a view), in_proj_bias (3E,), out_proj.weight (E, E), out_proj.bias (E,); it needs H*D == E.
# * keras.layers.MultiHeadAttention: one EinsumDense per projection, get_weights() in the order query kernel,
#   query bias, key ..., value ..., output kernel, output bias (biases absent with use_bias=False).
# * flax.nnx.MultiHeadAttention: LinearGeneral modules `query`, `key`, `value` (kernel (E, H, D), bias (H, D)) and
#   `out` (kernel (H, D, E), bias (E,)).

ATTENTION_PROJECTIONS = ("query", "key", "value")  # the packing order of torch's in_proj_weight
ATTENTION_KERAS_ORDER = ("query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel", "value_bias",
                         "output_kernel", "output_bias")  # fmt: skip
# canonical short name -> nnx.MultiHeadAttention variable path: the same names, `out` for the output projection
ATTENTION_FLAX_NAMES = {name: name.replace("output", "out").replace("_", ".") for name in ATTENTION_KERAS_ORDER}


def attention_to_torch(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical attention weights (short names) -> nn.MultiheadAttention's state_dict entries; H*D must equal E."""
    e, h, d = p["query_kernel"].shape
    if h * d != e:
        raise ValueError(f"torch's nn.MultiheadAttention needs heads * head_dim == width: {h} * {d} != {e}")
    state = {
        "in_proj_weight": np.concatenate([p[f"{name}_kernel"].reshape(e, h * d).T for name in ATTENTION_PROJECTIONS]),
        "out_proj.weight": np.ascontiguousarray(p["output_kernel"].reshape(h * d, e).T),
    }
    if "query_bias" in p:
        state["in_proj_bias"] = np.concatenate([p[f"{name}_bias"].reshape(h * d) for name in ATTENTION_PROJECTIONS])
        state["out_proj.bias"] = p["output_bias"].copy()
    return state


def attention_from_torch(state: dict[str, np.ndarray], heads: int) -> dict[str, np.ndarray]:
    """nn.MultiheadAttention's tensors -> canonical attention weights (short names); also maps gradients."""
    e = state["out_proj.weight"].shape[0]
    d = e // heads
    blocks = np.split(state["in_proj_weight"], 3)  # q, k, v rows, each (H*D, E)
    p = {f"{name}_kernel": np.ascontiguousarray(block.T.reshape(e, heads, d)) for name, block in zip(ATTENTION_PROJECTIONS, blocks)}
    p["output_kernel"] = np.ascontiguousarray(state["out_proj.weight"].T.reshape(heads, d, e))
    if state.get("in_proj_bias") is not None:
        for name, bias in zip(ATTENTION_PROJECTIONS, np.split(state["in_proj_bias"], 3)):
            p[f"{name}_bias"] = bias.reshape(heads, d)
        p["output_bias"] = state["out_proj.bias"].copy()
    return p


def attention_to_keras(p: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Canonical attention weights -> keras.layers.MultiHeadAttention's set_weights() list (same arrays, Keras' order)."""
    return [p[name] for name in ATTENTION_KERAS_ORDER if name in p]


def attention_from_keras(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """MultiHeadAttention's get_weights() list (8 arrays, or the 4 kernels without bias) -> canonical short names."""
    if len(arrays) not in (4, 8):
        raise ValueError(f"a Keras MultiHeadAttention holds 8 arrays (4 without bias), not {len(arrays)}")
    names = ATTENTION_KERAS_ORDER if len(arrays) == 8 else ATTENTION_KERAS_ORDER[::2]
    return dict(zip(names, arrays))


def attention_to_flax(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical attention weights -> {nnx.MultiHeadAttention variable path, e.g. 'query.kernel': array}; same arrays."""
    return {ATTENTION_FLAX_NAMES[name]: value for name, value in p.items()}


def attention_from_flax(flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{nnx.MultiHeadAttention variable path: array} -> canonical short names; also maps gradients."""
    return {name: flat[path] for name, path in ATTENTION_FLAX_NAMES.items() if path in flat}

