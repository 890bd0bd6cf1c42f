"""The Flax modules the spec's layers need beyond flax.nnx's own, the spec's model as one module, and its jitted
forward passes, for the JAX adapter's build_model and Network; and what Flax's layers hold and default to (their
variable counts, their initializers in words), for its summary and its differing-defaults table."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.attention import dot_product_attention_weights

from frameworks.base import default_of
from tasks.spec_attention import PAD_ID, GELU, MaskedMeanPooling, MultiHeadSelfAttention, PositionEmbedding, uses_padding_mask


class LastHidden(nnx.Module):
    """nnx.RNN over an LSTM cell; the spec's LSTM layer outputs only the last hidden state."""

    def __init__(self, in_features: int, units: int, dtype: jnp.dtype, rngs: nnx.Rngs, compute_dtype: jnp.dtype | None = None):
        # OptimizedLSTMCell: one (in, 4u) and one (u, 4u) kernel, gates i, f, g, o, one bias:
        # the canonical layout. Its activations are stated (sigmoid gates, tanh cell) as in the spec.
        cell = nnx.OptimizedLSTMCell(
            in_features, units, gate_fn=nnx.sigmoid, activation_fn=nnx.tanh, dtype=compute_dtype or dtype, param_dtype=dtype,
            rngs=rngs,
        )  # fmt: skip
        # no seq_lengths: pre-padded sequences, as in Keras without mask. rngs=False: the carry starts at zeros, given
        # by __call__, so the RNN keeps no random stream (whose key would make the Network build its weights twice)
        self.rnn = nnx.RNN(cell, return_carry=True, rngs=False)
        self.units, self.carry_dtype = units, dtype  # the cell's own initialize_carry: zeros in param_dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        zeros = jnp.zeros((x.shape[0], self.units), self.carry_dtype)
        (_, h), _ = self.rnn(x, initial_carry=(zeros, zeros))  # the carry is (c, h)
        return h


class ResetAfterGRUCell(nnx.GRUCell):
    """nnx.GRUCell with a bias on the recurrent side too: the spec's (and torch's, Keras' reset_after=True) GRU.

    Flax's GRUCell computes n = tanh(W_in x + b_in + r * (W_hn h)): its `dense_h` has no bias, so the recurrent
    bias b_hn inside r * (...) cannot be expressed (its docstring writes b_hn, its code has none). Giving dense_h
    a bias makes GRUCell.__call__ compute exactly r * (W_hn h + b_hn); gates stay in Flax's r, z, n order.
    """

    def __init__(self, in_features: int, units: int, dtype: jnp.dtype, rngs: nnx.Rngs, compute_dtype: jnp.dtype | None = None):
        typed = {"dtype": compute_dtype or dtype, "param_dtype": dtype, "rngs": rngs}
        super().__init__(in_features, units, gate_fn=nnx.sigmoid, activation_fn=nnx.tanh, **typed)
        self.dense_h = nnx.Linear(units, 3 * units, use_bias=True, **typed)


class LastHiddenGRU(nnx.Module):
    """nnx.RNN over ResetAfterGRUCell; the spec's GRU layer outputs only the last hidden state."""

    def __init__(self, in_features: int, units: int, dtype: jnp.dtype, rngs: nnx.Rngs, compute_dtype: jnp.dtype | None = None):
        self.rnn = nnx.RNN(ResetAfterGRUCell(in_features, units, dtype, rngs, compute_dtype), return_carry=True, rngs=False)
        self.units, self.carry_dtype = units, dtype  # as LastHidden

    def __call__(self, x: jax.Array) -> jax.Array:
        h, _ = self.rnn(x, initial_carry=jnp.zeros((x.shape[0], self.units), self.carry_dtype))  # the carry is h
        return h


def global_max_pool1d(x: jax.Array) -> jax.Array:
    """(N, L, C) -> (N, C): the maximum over the sequence axis."""
    return x.max(axis=1)


def global_average_pool2d(x: jax.Array) -> jax.Array:
    """(N, H, W, C) -> (N, C): the mean over height and width."""
    return x.mean(axis=(1, 2))


def flatten(x: jax.Array) -> jax.Array:
    """(N, H, W, C) -> (N, H*W*C) in H, W, C order: a reshape, NHWC being Flax's layout."""
    return x.reshape(x.shape[0], -1)


def add(*xs: jax.Array) -> jax.Array:
    """The sum of its inputs: the join of a residual block."""
    return functools.reduce(jnp.add, xs)


def variable_count(layer: object, kind: type) -> int:
    """The number of a Flax layer's values of one variable kind (nnx.Param, nnx.BatchStat), 0 for a plain function."""
    if not isinstance(layer, nnx.Module):
        return 0  # a plain function (ReLU, pooling, flatten)
    return sum(math.prod(v.shape) for v in jax.tree.leaves(nnx.state(layer, kind)))


def initializer_words(fn: object) -> str:
    """A jax.nn.initializers function in words, read from its closure (e.g. variance_scaling's arguments)."""
    code = getattr(fn, "__code__", None)
    if code is None or not fn.__closure__:
        return getattr(fn, "__name__", repr(fn))
    free = {k: c.cell_contents for k, c in zip(code.co_freevars, fn.__closure__)}
    args = ", ".join(f"{k}={free[k]!r}" for k in ("scale", "mode", "distribution") if k in free)
    known = {
        (1.0, "fan_in", "truncated_normal"): " = lecun_normal",
        (1.0, "fan_in", "normal"): " = lecun_normal (untruncated)",
    }
    name = known.get((free.get("scale"), free.get("mode"), free.get("distribution")), "")
    return f"{fn.__qualname__.split('.')[0]}({args}){name}"


class SpecModel(nnx.Module):
    """The spec's layers in order: layer i of `layers` is spec layer i (NHWC inside); in the graph form, layer i
    reads the outputs of layers `inputs[i]` (-1: the input), else the previous layer's."""

    def __init__(self, layers: list, inputs: tuple[tuple[int, ...], ...] = ()):
        self.layers = nnx.List(layers)
        self.inputs = inputs  # static: part of the graphdef, as the layer order is

    def __call__(self, x: jax.Array) -> jax.Array:
        if not self.inputs:
            for layer in self.layers:
                x = layer(x)
            return x
        return self.layer_outputs(x)[-1]

    def layer_outputs(self, x: jax.Array) -> list[jax.Array]:
        """The output of every layer."""
        outputs = []
        for i, layer in enumerate(self.layers):
            sources = self.inputs[i] if self.inputs else (i - 1,)
            ids = {"ids": x} if getattr(layer, "reads_ids", False) else {}  # masked attention and pooling: the input ids
            outputs.append(layer(*(x if j < 0 else outputs[j] for j in sources), **ids))
        return outputs


# ---------------------------------------------------------------- the transformer's layers (issue 23)


def softmax_in_input_dtype(query: jax.Array, key: jax.Array, value: jax.Array, bias: jax.Array | None = None,
                           mask: jax.Array | None = None, **kwargs) -> jax.Array:  # fmt: skip
    """nnx.MultiHeadAttention's attention_fn on Flax's own weights path: the softmax in the input's dtype.

    Flax's default (nnx.dot_product_attention without dropout or sown weights) calls jax.nn.dot_product_attention,
    which computes the softmax in float32 for any input dtype (`_dot_product_attention_core`): 1e-6 off in float64.
    """
    weights = dot_product_attention_weights(query, key, bias, mask, dtype=kwargs.get("dtype"),
                                            precision=kwargs.get("precision"), module=kwargs.get("module"))  # fmt: skip
    return jnp.einsum("...hqk,...khd->...qhd", weights, value, precision=kwargs.get("precision"))


# the softmax dtype of nnx.MultiHeadAttention's default attention_fn (the adapter's ATTENTION_SOFTMAX, a --check row)
ATTENTION_SOFTMAX = "float32"
ATTENTION_FNS = {"input": softmax_in_input_dtype, "float32": nnx.dot_product_attention}  # spec softmax_dtype -> attention_fn


class PaddingMaskedAttention(nnx.MultiHeadAttention):
    """nnx.MultiHeadAttention as self-attention, keys whose token id is PAD_ID masked (Flax's mask: True = attend).

    Kernels (E, H, D) and (H, D, E), the canonical layout; attention_fn from the spec's softmax_dtype. The mask is
    (N, 1, 1, L), on the keys only (nnx.make_attention_mask(keep, keep) would mask the padding queries too).
    """

    reads_ids = True

    def __init__(self, width: int, layer: MultiHeadSelfAttention, dtype: jnp.dtype, param_dtype: jnp.dtype, rngs: nnx.Rngs):
        super().__init__(layer.heads, width, qkv_features=layer.heads * layer.head_dim, out_features=width,
                         use_bias=layer.bias, dropout_rate=0.0, decode=False, attention_fn=ATTENTION_FNS[layer.softmax_dtype],
                         dtype=dtype, param_dtype=param_dtype, rngs=rngs)  # fmt: skip
        self.padding = uses_padding_mask(layer)

    def __call__(self, x: jax.Array, ids: jax.Array, sow_weights: bool = False) -> jax.Array:  # type: ignore[override]
        mask = (ids != PAD_ID)[:, None, None, :] if self.padding else None
        return super().__call__(x, mask=mask, sow_weights=sow_weights)


class LearnedPositions(nnx.Module):
    """Learned position embeddings: row t of an (max_len, dim) table added to slot t (Flax has no such module)."""

    def __init__(self, max_len: int, dim: int, dtype: jnp.dtype, param_dtype: jnp.dtype, rngs: nnx.Rngs):
        self.embedding = nnx.Param(nnx.initializers.normal(0.02)(rngs.params(), (max_len, dim), param_dtype))
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        return x + self.embedding[: x.shape[1]].astype(self.dtype)


class MaskedMean(nnx.Module):
    """Mean over the sequence axis of the real tokens (id != PAD_ID); x.mean(1) would count the padding."""

    reads_ids = True

    def __init__(self, layer: MaskedMeanPooling):
        self.padding = uses_padding_mask(layer)

    def __call__(self, x: jax.Array, ids: jax.Array) -> jax.Array:
        if not self.padding:
            return x.mean(axis=1)
        keep = (ids != PAD_ID).astype(x.dtype)
        return (x * keep[..., None]).sum(axis=1) / jnp.maximum(keep.sum(axis=1, keepdims=True), 1)


ATTENTION_LAYERS = (MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling)


def attention_module(layer: object, in_shape: tuple[int, ...], typed: dict) -> object | None:
    """The Flax module (or function) of one of the transformer's layers, or None for any other layer."""
    dtypes = {"dtype": typed["dtype"], "param_dtype": typed["param_dtype"], "rngs": typed["rngs"]}
    if isinstance(layer, MultiHeadSelfAttention):
        return PaddingMaskedAttention(in_shape[-1], layer, **dtypes)
    if isinstance(layer, GELU):
        return functools.partial(nnx.gelu, approximate=layer.approximate == "tanh")  # nnx.gelu's default is tanh
    if isinstance(layer, PositionEmbedding):
        return LearnedPositions(layer.max_len, layer.dim, **dtypes)
    if isinstance(layer, MaskedMeanPooling):
        return MaskedMean(layer)
    return None


@jax.jit
def forward(graphdef: nnx.GraphDef, state: nnx.State, X: jax.Array) -> jax.Array:
    """The merged model's output for X, jitted."""
    return nnx.merge(graphdef, state)(X)


@jax.jit
def layer_outputs(graphdef: nnx.GraphDef, state: nnx.State, X: jax.Array) -> list[jax.Array]:
    """Every layer's output for X, jitted."""
    return nnx.merge(graphdef, state).layer_outputs(X)


def attention_weights(network, ids) -> "np.ndarray":  # noqa: ANN001 - a frameworks.jax.Network, (L,) token ids
    """The per-head weights of every attention layer for ONE review, (layers, H, L, L): each layer called again on
    its input with sow_weights=True (Flax's weights path, in the input's dtype), the sown weights popped."""
    import numpy as np

    from tasks.spec import layer_inputs

    batch = jnp.asarray(np.asarray(ids)[None])
    outputs = network.layer_outputs(np.asarray(batch))
    found = []
    for layer, module, sources in zip(network.spec.model.layers, network.model.layers, layer_inputs(network.spec.model)):
        if isinstance(layer, MultiHeadSelfAttention):
            module(jnp.asarray(outputs[sources[0]]), batch, sow_weights=True)
            found.append(np.asarray(nnx.pop(module, nnx.Intermediate)["attention_weights"].get_value()[0])[0])
    return np.stack(found)


def attention_defaults() -> dict[str, str]:
    """Flax NNX's transformer defaults for the differing-defaults table (the adapter's defaults()), read from Flax."""
    approximate = default_of(nnx.gelu, "approximate")
    kernel = nnx.MultiHeadAttention(2, 4, 8, decode=False, rngs=nnx.Rngs(0)).query.kernel.shape
    return {
        "GELU approximation": f"{'tanh' if approximate else 'erf'} (nnx.gelu approximate={approximate})",
        "attention projections": f"nnx.MultiHeadAttention: kernel (in, H, head_dim) per projection ({kernel} for 4 in, 2 heads of 4), "
        "output (H, head_dim, out)",
        "attention padding mask": "mask: True = attend",
        "attention softmax dtype": f"{ATTENTION_SOFTMAX} (jax.nn.dot_product_attention's softmax, for float64 inputs too)",
    }
