"""The transformer's vocabulary (issue 23): MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling
(one pre-LN encoder block in the graph form is tasks/spec_graph.py's `encoder_block`). `tasks.spec` re-exports the layers
(through `tasks.spec_layers`); LayerNorm, Dense and Add are the existing layers.

Canonical weight layouts (Keras' and Flax NNX's own; `frameworks/layout.py` maps torch's packed one):

* MultiHeadSelfAttention, E = model width (the input's last axis), H = heads, D = head_dim:
  query_kernel, key_kernel, value_kernel (E, H, D); output_kernel (H, D, E);
  query_bias, key_bias, value_bias (H, D); output_bias (E,)  (the biases only with bias=True).
  Flattened, a projection is the (E, H*D) matrix whose column h*D + d is head h's feature d (heads split as (H, D)).
* PositionEmbedding: embeddings (max_len, dim); row t is added at slot t, counted from the first slot.
* GELU, MaskedMeanPooling: no weights.

The padding mask: every layer with mask="padding" reads, besides its one input, the model's input token ids;
a slot whose id is PAD_ID (0, the pre-padding of tasks/text.py) is padding. `real_tokens` computes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.text import PAD_ID  # the token id of padding: a key with this id is never attended to

MASKS = ("padding", "none")  # the valid values of a layer's `mask`


@dataclass(frozen=True)
class MultiHeadSelfAttention:
    """Multi-head self-attention over (N, L, E) sequences with a key padding mask; output (N, L, E).

    Per head h: q = x Wq[:, h] + bq[h], k and v alike (N, L, D); weights = softmax over the KEY axis of
    q k^T / sqrt(D), padding keys excluded (their weight is exactly 0); o_h = weights v. Then
    y = sum over h, d of o[h, d] Wo[h, d] + bo. The mask is on the keys only: a padding slot's query is
    computed like any other (masked mean pooling drops it later). A query whose every key is padding
    (an all-padding review) gets weights 0, so its output is bo alone (Keras' convention; torch's
    nn.MultiheadAttention returns NaN there and Flax the plain average). The softmax runs in the
    dtype `softmax_dtype` names.
    """

    heads: int = 4  # H, number of heads
    head_dim: int = 16  # D, query/key/value size per head (Keras' key_dim); H * D need not equal E
    bias: bool = True  # biases on the four projections (torch's bias=, Keras' use_bias=, Flax's use_bias=)
    mask: str = "padding"  # "padding": keys whose token id is PAD_ID are ignored; "none": every key is attended to
    # "input": the softmax in the input's dtype; "float32": scores cast to float32 for the softmax, the weights cast
    # back, as jax.nn.dot_product_attention does for any input dtype (and so nnx.MultiHeadAttention by default)
    softmax_dtype: str = "input"


@dataclass(frozen=True)
class GELU:
    """x * Phi(x), Phi the standard normal CDF: exact (erf) or the tanh approximation, stated.

    "none":  0.5 x (1 + erf(x / sqrt(2)))  (torch.nn.GELU's default, keras.activations.gelu's)
    "tanh":  0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))  (jax.nn.gelu's, nnx.gelu's and keras.ops.gelu's default)
    """

    approximate: str = "none"  # "none" (erf) | "tanh"; torch's spelling of the choice


@dataclass(frozen=True)
class PositionEmbedding:
    """Learned positions: y[n, t] = x[n, t] + embeddings[t] for the L <= max_len slots of (N, L, dim).

    Slots count from the first one, so with pre-padding a short review's words sit at the last positions.
    """

    max_len: int = 200  # rows of the table: the longest sequence it can take
    dim: int = 64  # vector length, equal to the input's last axis


@dataclass(frozen=True)
class MaskedMeanPooling:
    """Mean over the sequence axis of the real tokens only: (N, L, C) -> (N, C); an all-padding sample gives zeros.

    Keras' GlobalAveragePooling1D with a propagated mask computes this; without one (and torch's x.mean(1)) it
    averages the padding too, which is mask="none".
    """

    mask: str = "padding"  # "padding": slots whose token id is PAD_ID are left out; "none": mean over every slot


ATTENTION_PARAM_NAMES: dict[type, tuple[str, ...]] = {
    # kernels first: with bias=False the shapes below stop after the four kernels
    MultiHeadSelfAttention: ("query_kernel", "key_kernel", "value_kernel", "output_kernel",
                             "query_bias", "key_bias", "value_bias", "output_bias"),
    PositionEmbedding: ("embeddings",),
}  # fmt: skip
MASKED_LAYERS = (MultiHeadSelfAttention, MaskedMeanPooling)  # the layers that read the padding mask


def uses_padding_mask(layer: object) -> bool:
    """True if `layer` reads the padding mask of the model's input ids (bad mask names raise ValueError)."""
    if not isinstance(layer, MASKED_LAYERS):
        return False
    if layer.mask not in MASKS:
        raise ValueError(f"{type(layer).__name__} mask {layer.mask!r}: use one of {', '.join(MASKS)}")
    return layer.mask == "padding"


def real_tokens(ids: np.ndarray) -> np.ndarray:
    """(N, L) bool, True where the token id is a real token (not PAD_ID): the mask every engine builds."""
    return np.asarray(ids) != PAD_ID


def attention_output_shape(layer: object, in_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Shape of one sample after one of the layers above, or None for any other layer."""
    if isinstance(layer, PositionEmbedding):
        if in_shape[0] > layer.max_len or in_shape[-1] != layer.dim:
            raise ValueError(f"PositionEmbedding({layer.max_len}, {layer.dim}) cannot take a sample of shape {in_shape}")
        return in_shape
    if isinstance(layer, (MultiHeadSelfAttention, GELU)):
        return in_shape
    if isinstance(layer, MaskedMeanPooling):
        return (in_shape[-1],)
    return None


def attention_param_shapes(layer: object, in_shape: tuple[int, ...]) -> list[tuple[int, ...]] | None:
    """Shapes of the weights of one of the layers above, in ATTENTION_PARAM_NAMES order; None for any other layer."""
    if isinstance(layer, MultiHeadSelfAttention):
        e, h, d = in_shape[-1], layer.heads, layer.head_dim
        kernels = [(e, h, d)] * 3 + [(h, d, e)]
        return kernels + ([(h, d)] * 3 + [(e,)] if layer.bias else [])
    if isinstance(layer, PositionEmbedding):
        return [(layer.max_len, layer.dim)]
    return None
