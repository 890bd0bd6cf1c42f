"""The Flax modules the spec's layers need beyond flax.nnx's own, the spec's model as one module, and its jitted
forward passes, for the JAX adapter's build_model and Network."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx


class LastHidden(nnx.Module):
    """nnx.RNN over an LSTM cell; the spec's LSTM layer outputs only the last hidden state."""

    def __init__(self, in_features: int, units: int, dtype: jnp.dtype, rngs: nnx.Rngs, compute_dtype: jnp.dtype | None = None):
        # OptimizedLSTMCell: one (in, 4u) and one (u, 4u) kernel, gates i, f, g, o, one bias:
        # the canonical layout. Its activations are stated (sigmoid gates, tanh cell) as in the spec.
        cell = nnx.OptimizedLSTMCell(
            in_features, units, gate_fn=nnx.sigmoid, activation_fn=nnx.tanh, dtype=compute_dtype or dtype, param_dtype=dtype,
            rngs=rngs,
        )  # fmt: skip
        self.rnn = nnx.RNN(cell, return_carry=True)  # no seq_lengths: pre-padded sequences, as in Keras without mask

    def __call__(self, x: jax.Array) -> jax.Array:
        (_, h), _ = self.rnn(x)  # the carry is (c, h), zeros at the start
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
        self.rnn = nnx.RNN(ResetAfterGRUCell(in_features, units, dtype, rngs, compute_dtype), return_carry=True)

    def __call__(self, x: jax.Array) -> jax.Array:
        h, _ = self.rnn(x)  # the carry is h, zeros at the start
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
            outputs.append(layer(*(x if j < 0 else outputs[j] for j in sources)))
        return outputs


@jax.jit
def forward(graphdef: nnx.GraphDef, state: nnx.State, X: jax.Array) -> jax.Array:
    """The merged model's output for X, jitted."""
    return nnx.merge(graphdef, state)(X)


@jax.jit
def layer_outputs(graphdef: nnx.GraphDef, state: nnx.State, X: jax.Array) -> list[jax.Array]:
    """Every layer's output for X, jitted."""
    return nnx.merge(graphdef, state).layer_outputs(X)
