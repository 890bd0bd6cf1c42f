"""Injected bug: the attention softmax normalised over the query axis instead of the key axis."""

from __future__ import annotations

from engines.jax_attention_bugs import buggy_attention, network_class
from frameworks.jax import *  # noqa: F403 - every public name of the real adapter

BUG = "softmax over the query axis instead of the key axis"
Network = network_class(buggy_attention(softmax_axis=-2))


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
