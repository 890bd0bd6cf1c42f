"""Keras for the spec's layers where one Keras layer does not say it: average pooling whose padded edges count (or
'same' pads that Keras computes itself), and the graph form (a residual Add) in the functional API."""

from __future__ import annotations

import keras

from tasks.spec import AveragePooling2D


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
    """The spec's graph form in Keras' functional API: layer i called on the outputs of layers `sources[i]` (-1: the input)."""
    outputs: list = []
    for layer, reads in zip(layers, sources):
        ins = [inputs if j < 0 else outputs[j] for j in reads]
        outputs.append(layer(ins if isinstance(layer, keras.layers.Add) else ins[0]))
    return keras.Model(inputs, outputs[-1], name=name)
