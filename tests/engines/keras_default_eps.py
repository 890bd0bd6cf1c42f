"""Injected bug: Keras trained with its default Adam epsilon (1e-7) instead of the spec's."""

from __future__ import annotations

from dataclasses import replace

from frameworks import keras as keras_adapter
from frameworks.keras import *  # noqa: F403 - every public name of the real adapter

BUG = "Keras' default Adam epsilon instead of the spec's"


class Network(keras_adapter.Network):
    """The real network, whose optimizer gets Keras' default epsilon."""

    def build(self, weights):  # noqa: ANN001, D102
        self.spec = replace(self.spec, optimizer=replace(self.spec.optimizer, eps=1e-7))
        super().build(weights)


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
