"""Injected bug: Keras' LayerNormalization with its default epsilon (1e-3) where the spec says 1e-5."""

from __future__ import annotations

import keras

from frameworks import keras as keras_adapter
from frameworks.keras import *  # noqa: F403 - every public name of the real adapter

BUG = "LayerNormalization epsilon 1e-3 (Keras' default) instead of the spec's 1e-5"


class Network(keras_adapter.Network):
    """The real network, every LayerNormalization with Keras' default epsilon."""

    def build(self, weights):  # noqa: ANN001, D102
        super().build(weights)
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.LayerNormalization):
                layer.epsilon = 1e-3


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
