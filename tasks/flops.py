"""Analytic FLOP counts per sample, from the spec alone (a multiply-add counts as 2 FLOPs).

Training is counted as 3x the forward pass (forward, plus a backward pass that costs about
twice the forward: gradients with respect to inputs and to weights), the usual convention.
Elementwise work (activations, BatchNorm, pooling, the loss) is counted once per element.
"""

from __future__ import annotations

from tasks.spec import (
    GRU,
    LSTM,
    AveragePooling2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    GELU,
    Flatten,
    Layer,
    LayerNorm,
    MaxPool2D,
    ModelSpec,
    MultiHeadSelfAttention,
    layer_shapes,
)

TRAIN_FACTOR = 3


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def layer_flops(layer: Layer, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """Forward FLOPs of one layer for one sample."""
    if isinstance(layer, Dense):
        positions = _size(in_shape[:-1])
        return 2 * positions * in_shape[-1] * layer.units
    if isinstance(layer, Conv2D):
        h, w, c_out = out_shape
        return 2 * h * w * c_out * layer.kernel_size**2 * in_shape[-1]
    if isinstance(layer, LSTM):
        steps, features = in_shape
        u = layer.units
        matmuls = 2 * steps * 4 * u * (features + u)
        return matmuls + steps * 10 * u  # gates and cell update, elementwise
    if isinstance(layer, GRU):
        steps, features = in_shape
        u = layer.units
        return 2 * steps * 3 * u * (features + u) + steps * 10 * u  # three gates' matmuls; gates and update elementwise
    if isinstance(layer, Conv1D):
        length, c_out = out_shape
        return 2 * length * c_out * layer.kernel_size * in_shape[-1]
    if isinstance(layer, AveragePooling2D):
        return _size(out_shape) * layer.pool_size**2  # one add per window pixel (and one division per output)
    if isinstance(layer, MultiHeadSelfAttention):
        return attention_flops(layer, in_shape)
    if isinstance(layer, GELU):
        return _size(in_shape)  # one elementwise function, like every activation
    if isinstance(layer, LayerNorm):
        return 5 * _size(in_shape)  # mean, variance, normalise, scale, shift
    if isinstance(layer, BatchNorm):
        return 4 * _size(in_shape)
    if isinstance(layer, (Embedding, Flatten)):
        return 0  # a lookup and a reshape move data but do no arithmetic
    if isinstance(layer, MaxPool2D):
        return _size(in_shape)
    return _size(in_shape)  # ReLU, Dropout, GlobalMaxPool1D, GlobalAveragePooling2D, PositionEmbedding, MaskedMeanPooling


def attention_flops(layer: MultiHeadSelfAttention, in_shape: tuple[int, ...]) -> int:
    """Forward FLOPs of self-attention over one (L, E) sample: four projections, q k^T, the weighted sum, the softmax.

    The padding mask is ignored: every engine computes the full L x L scores and masks them.
    """
    length, width = in_shape
    hd = layer.heads * layer.head_dim
    projections = 4 * 2 * length * width * hd
    scores_and_sum = 2 * 2 * length * length * hd  # q k^T and weights v, over every head
    return projections + scores_and_sum + layer.heads * length * length  # + the softmax, once per score


def forward_flops(model: ModelSpec) -> int:
    """FLOPs of one inference (forward pass) per sample."""
    return sum(layer_flops(layer, i, o) for layer, (i, o) in zip(model.layers, layer_shapes(model)))


def train_flops(model: ModelSpec) -> int:
    """FLOPs of one training step per sample (forward + backward)."""
    return TRAIN_FACTOR * forward_flops(model)
