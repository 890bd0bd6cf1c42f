"""Injected bug: attention scores q k^T without the 1/sqrt(head_dim) scale."""

from __future__ import annotations

from engines.jax_attention_bugs import buggy_attention, network_class
from frameworks.jax import *  # noqa: F403 - every public name of the real adapter

BUG = "attention scores not divided by sqrt(head_dim)"
Network = network_class(buggy_attention(scale=False))


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
