"""The layers added for teaching breadth (issue 15): GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D,
GlobalAveragePooling2D and LayerNorm. `tasks.spec` re-exports them; each states the convention the
frameworks differ on, and `frameworks/layout.py` maps it explicitly.

Canonical weight layouts (Keras' own, as for the older layers):

* GRU: kernel (in, 3u), recurrent_kernel (u, 3u), bias (2, 3u) = [input bias; recurrent bias],
  gates in the order z (update), r (reset), h (candidate); "reset after":
  z = sigmoid(x Wz + bz_in + h Uz + bz_rec), r = sigmoid(x Wr + br_in + h Ur + br_rec),
  c = tanh(x Wh + bh_in + r * (h Uh + bh_rec)), h' = z * h + (1 - z) * c.
  This is Keras' GRU(reset_after=True) and torch.nn.GRU (whose gate order is r, z, n).
* Conv1D: kernel (k, in, out), sequences (N, L, C) (channels last).
* LayerNorm: gamma, beta of shape (C,), normalising over the last axis.

The transformer's layers (issue 23: MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling) live in
tasks/spec_attention.py with their layouts; this module re-exports them and chains their shapes below.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.spec_attention import (  # noqa: F401 - re-exported to tasks.spec
    GELU,
    ATTENTION_PARAM_NAMES,
    MaskedMeanPooling,
    MultiHeadSelfAttention,
    PositionEmbedding,
    attention_output_shape,
    attention_param_shapes,
)


@dataclass(frozen=True)
class GRU:
    """Single-layer GRU over the sequence, "reset after" with two biases; outputs the last hidden state.

    Gates z, r, h (Keras' order; torch.nn.GRU orders them r, z, n); sigmoid gates, tanh candidate.
    """

    units: int = 64  # hidden state size


@dataclass(frozen=True)
class Conv1D:
    """1-D convolution over (N, L, C) sequences, stride 1, symmetric zero padding stated explicitly."""

    filters: int = 128  # output channels
    kernel_size: int = 5  # window length
    padding: int = 0  # zeros added on *each* end (0: Keras' "valid")


@dataclass(frozen=True)
class GlobalMaxPool1D:
    """Maximum over the sequence axis: (N, L, C) -> (N, C)."""


@dataclass(frozen=True)
class AveragePooling2D:
    """Average pooling over s x s windows, with zero padding and a stated divisor at the padded edges.

    count_include_pad=True divides every window by pool_size**2, padded zeros included (torch.nn.AvgPool2d's
    default); False divides by the number of real pixels in the window (Keras' padding="same").
    """

    pool_size: int = 2  # square window side
    strides: int = 0  # step between windows; 0 = pool_size
    padding: int = 0  # zero rows/columns added on *each* side
    count_include_pad: bool = True  # divisor at the edges, see above


@dataclass(frozen=True)
class GlobalAveragePooling2D:
    """Mean over the height and width axes: (N, H, W, C) -> (N, C)."""


@dataclass(frozen=True)
class LayerNorm:
    """Normalise each sample over its last axis: gamma * (x - mean) / sqrt(var + eps) + beta (biased var).

    eps stated: torch.nn.LayerNorm's default is 1e-5, keras.layers.LayerNormalization's 1e-3, Flax's 1e-6.
    """

    eps: float = 1e-5  # added to the variance before the square root


NEW_PARAM_NAMES: dict[type, tuple[str, ...]] = {
    GRU: ("kernel", "recurrent_kernel", "bias"),
    Conv1D: ("kernel", "bias"),
    LayerNorm: ("gamma", "beta"),
    **ATTENTION_PARAM_NAMES,  # MultiHeadSelfAttention, PositionEmbedding
}


def pooled_size(n: int, pool: int, stride: int, padding: int) -> int:
    """Output length of a pooling window sliding over n (+ padding each side): floor mode."""
    return (n + 2 * padding - pool) // stride + 1


def new_output_shape(layer: object, in_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Shape of one sample after one of the layers above (or of tasks/spec_attention.py), or None for any other layer."""
    if attention_output_shape(layer, in_shape) is not None:
        return attention_output_shape(layer, in_shape)
    if isinstance(layer, GRU):
        return (layer.units,)
    if isinstance(layer, Conv1D):
        length, _ = in_shape
        return (length + 2 * layer.padding - layer.kernel_size + 1, layer.filters)
    if isinstance(layer, GlobalMaxPool1D):
        return (in_shape[-1],)
    if isinstance(layer, AveragePooling2D):
        h, w, c = in_shape
        s = layer.strides or layer.pool_size
        return (pooled_size(h, layer.pool_size, s, layer.padding), pooled_size(w, layer.pool_size, s, layer.padding), c)
    if isinstance(layer, GlobalAveragePooling2D):
        return (in_shape[-1],)
    if isinstance(layer, LayerNorm):
        return in_shape
    return None


def new_param_shapes(layer: object, in_shape: tuple[int, ...]) -> list[tuple[int, ...]] | None:
    """Shapes of the weights of one of the layers above (or of tasks/spec_attention.py), in NEW_PARAM_NAMES order; None for any other layer."""
    if attention_param_shapes(layer, in_shape) is not None:
        return attention_param_shapes(layer, in_shape)
    if isinstance(layer, GRU):
        u = layer.units
        return [(in_shape[-1], 3 * u), (u, 3 * u), (2, 3 * u)]
    if isinstance(layer, Conv1D):
        return [(layer.kernel_size, in_shape[-1], layer.filters), (layer.filters,)]
    if isinstance(layer, LayerNorm):
        return [(in_shape[-1],)] * 2
    return None


@dataclass(frozen=True)
class Add:
    """Elementwise sum of two or more inputs of the same shape: the join of a residual block (graph form only)."""
