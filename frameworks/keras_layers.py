"""Keras for the spec's layers where one Keras layer does not say it: average pooling whose padded edges count (or
'same' pads that Keras computes itself), the graph form (a residual Add) in the functional API, and the transformer's
small layers (learned positions, GELU with `approximate` stated, the padding mask the attention and the pooling read)."""

from __future__ import annotations

import math

import keras

from frameworks.base import default_of
from tasks.spec import AveragePooling2D
from tasks.spec_attention import PAD_ID, GELU, MaskedMeanPooling, MultiHeadSelfAttention, PositionEmbedding, uses_padding_mask


def tf_same_pool_padding(n: int, pool: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros that Keras' padding="same" adds to a pooled axis of length n (TensorFlow's rule)."""
    out = -(-n // stride)
    total = max((out - 1) * stride + pool - n, 0)
    return total // 2, total - total // 2


def avg_pool_padding(layer: AveragePooling2D, in_shape: tuple[int, ...]) -> str | None:
    """How Keras expresses the spec's average pooling: "valid", "same" (pads excluded from the divisor),
    "zero_pad" (explicit zeros, counted), or None when it cannot ('same' pads would be asymmetric here)."""
    if layer.padding == 0:
        return "valid"
    if layer.count_include_pad:
        return "zero_pad"  # ZeroPadding2D then a "valid" pool: the zeros are pixels, so they are counted
    stride = layer.strides or layer.pool_size
    symmetric = (layer.padding, layer.padding)
    return "same" if all(tf_same_pool_padding(n, layer.pool_size, stride) == symmetric for n in in_shape[:2]) else None


def average_pooling(layer: AveragePooling2D, in_shape: tuple[int, ...], name: str) -> keras.layers.Layer:
    """The spec's AveragePooling2D: Keras' padding="same" never counts its pads, so counted pads are explicit zeros."""
    mode, stride = avg_pool_padding(layer, in_shape), layer.strides or layer.pool_size
    if mode is None:
        raise ValueError(f"{name}: Keras' 'same' pads {in_shape[:2]} asymmetrically, not {layer.padding} on each side")
    if mode == "zero_pad":
        return keras.Sequential([keras.layers.ZeroPadding2D(layer.padding),
                                 keras.layers.AveragePooling2D(layer.pool_size, stride, padding="valid")], name=name)  # fmt: skip
    return keras.layers.AveragePooling2D(layer.pool_size, stride, padding=mode, name=name)


def graph_model(inputs, layers: list, sources: list[tuple[int, ...]], name: str) -> keras.Model:  # noqa: ANN001 - a Keras tensor
    """The spec's graph form in Keras' functional API: layer i called on the outputs of layers `sources[i]` (-1: the input).

    keras.layers.MultiHeadAttention is called as self-attention (query = value = key) with attention_mask from the
    input ids (1 = attend, per key); GlobalAveragePooling1D with the ids' mask averages the real tokens only.
    """
    outputs: list = []
    masks: dict[str, object] = {}  # the padding masks, computed once from the ids
    for layer, reads in zip(layers, sources):
        ins = [inputs if j < 0 else outputs[j] for j in reads]
        if isinstance(layer, keras.layers.MultiHeadAttention):
            mask = masks.setdefault("keys", PaddingMask(keys_only=True)(inputs)) if layer.padding_mask else None
            outputs.append(layer(ins[0], ins[0], attention_mask=mask))
        elif isinstance(layer, keras.layers.GlobalAveragePooling1D) and getattr(layer, "padding_mask", False):
            outputs.append(layer(ins[0], mask=masks.setdefault("tokens", PaddingMask(keys_only=False)(inputs))))
        else:
            outputs.append(layer(ins if isinstance(layer, keras.layers.Add) else ins[0]))
    return keras.Model(inputs, outputs[-1], name=name)


# ---------------------------------------------------------------- the transformer's layers (issue 23)


@keras.saving.register_keras_serializable(package="framebench")
class PaddingMask(keras.layers.Layer):
    """ids (N, L) -> True where the token is real (id != PAD_ID): (N, 1, L) for attention_mask (every query sees the
    same keys), (N, L) for pooling. Explicit, not Embedding(mask_zero=True), whose mask would cover the queries too."""

    def __init__(self, keys_only: bool, **kwargs):
        super().__init__(**kwargs)
        self.keys_only = keys_only

    def call(self, ids):  # noqa: ANN001, ANN201 - Keras tensors
        keep = keras.ops.not_equal(ids, PAD_ID)
        return keras.ops.expand_dims(keep, 1) if self.keys_only else keep

    def get_config(self) -> dict:
        return {**super().get_config(), "keys_only": self.keys_only}


@keras.saving.register_keras_serializable(package="framebench")
class LearnedPositions(keras.layers.Layer):
    """Learned position embeddings: row t of an (max_len, dim) table added to slot t (Keras has no such layer)."""

    def __init__(self, max_len: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.max_len, self.dim = max_len, dim
        self.embeddings = self.add_weight(shape=(max_len, dim), initializer="random_normal", name="embeddings")

    def call(self, x):  # noqa: ANN001, ANN201 - a Keras tensor
        return x + self.embeddings[: keras.ops.shape(x)[1]]

    def get_config(self) -> dict:
        return {**super().get_config(), "max_len": self.max_len, "dim": self.dim}


@keras.saving.register_keras_serializable(package="framebench")
class Gelu(keras.layers.Layer):
    """keras.activations.gelu with `approximate` stated: its default is exact (erf), keras.ops.gelu's is tanh."""

    def __init__(self, approximate: bool, **kwargs):
        super().__init__(**kwargs)
        self.approximate = approximate

    def call(self, x):  # noqa: ANN001, ANN201 - a Keras tensor
        if keras.backend.backend() != "tensorflow":
            return keras.activations.gelu(x, approximate=self.approximate)
        # tf.nn.gelu (TensorFlow 2.21) casts its Python constants 1/sqrt(2) and 0.044715 through float32
        # (math_ops.cast(0.7071067811865476, dtype)): 5.0e-9 off in float64 on [-6, 6] (measured); the same formulas
        # with the constants in the input's dtype are exact
        if self.approximate:
            inner = keras.ops.multiply(x + 0.044715 * x**3, math.sqrt(2.0 / math.pi))
            return 0.5 * x * (1.0 + keras.ops.tanh(inner))
        return 0.5 * x * (1.0 + keras.ops.erf(x / math.sqrt(2.0)))

    def get_config(self) -> dict:
        return {**super().get_config(), "approximate": self.approximate}


def attention_layer(layer: object, in_shape: tuple[int, ...], name: str) -> keras.layers.Layer | None:
    """The Keras layer of one of the transformer's layers (tasks/spec_attention.py), or None for any other layer."""
    if isinstance(layer, MultiHeadSelfAttention):
        if layer.softmax_dtype != "input":
            raise ValueError(f"{name}: Keras' softmax runs in the layer's dtype, not {layer.softmax_dtype!r}")
        # key_dim is the size PER HEAD (the keras-io example's key_dim = width gives H * D = H * E); dropout 0
        attention = keras.layers.MultiHeadAttention(layer.heads, layer.head_dim, use_bias=layer.bias, dropout=0.0, name=name)
        attention.padding_mask = uses_padding_mask(layer)
        return attention
    if isinstance(layer, GELU):
        return Gelu(approximate=layer.approximate == "tanh", name=name)
    if isinstance(layer, PositionEmbedding):
        return LearnedPositions(layer.max_len, layer.dim, name=name)
    if isinstance(layer, MaskedMeanPooling):
        pooling = keras.layers.GlobalAveragePooling1D(name=name)  # with a mask: the mean of the real tokens
        pooling.padding_mask = uses_padding_mask(layer)
        return pooling
    return None


def attention_weights(network, ids) -> "np.ndarray":  # noqa: ANN001 - a frameworks.keras Network, (L,) token ids
    """The per-head weights of every attention layer for ONE review, (layers, H, L, L): each MultiHeadAttention
    called again on its input (the output of its source layer) with return_attention_scores=True."""
    import numpy as np

    from tasks.spec import layer_inputs, layer_name

    batch = np.asarray(ids)[None]
    outputs = network.layer_outputs(batch)
    mask = np.not_equal(batch, PAD_ID)[:, None, :]
    found = []
    for i, (layer, sources) in enumerate(zip(network.spec.model.layers, layer_inputs(network.spec.model))):
        if isinstance(layer, MultiHeadSelfAttention):
            x = outputs[sources[0]].astype(network.dtype)
            attention = network.model.get_layer(layer_name(i, layer))
            _, scores = attention(x, x, attention_mask=mask if uses_padding_mask(layer) else None, return_attention_scores=True)
            found.append(keras.ops.convert_to_numpy(scores)[0])
    return np.stack(found)


def attention_defaults() -> dict[str, str]:
    """Keras' transformer defaults for the differing-defaults table (the adapter's defaults()), read from Keras."""
    layer_gelu, op_gelu = default_of(keras.activations.gelu, "approximate"), default_of(keras.ops.gelu, "approximate")
    return {
        "GELU approximation": f"{'tanh' if layer_gelu else 'erf'} (activations.gelu approximate={layer_gelu}; "
        f"ops.gelu approximate={op_gelu})",
        "attention projections": "MultiHeadAttention: one EinsumDense kernel (E, H, key_dim) per projection, key_dim per head",
        "attention padding mask": "attention_mask: 1 = attend; a fully masked row gives zeros",
        "attention softmax dtype": "input dtype (ops.dot_product_attention only with dropout 0 and no scores returned; "
        "on JAX its softmax is float32)",
    }
