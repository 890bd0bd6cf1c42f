"""Injected bug: attention weights loaded with the heads split as (D, H) instead of (H, D): a projection's column
d * H + h taken as head h's feature d, so torch's heads (D consecutive features each) mix the spec's heads."""

from __future__ import annotations

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter
from tasks.spec_attention import MultiHeadSelfAttention
from tasks.spec import param_key


def heads_as_dh(array, name):  # noqa: ANN001, ANN201
    """One canonical attention array with its (H, D) axes read back as if they had been flattened (D, H)."""
    if name.endswith("kernel") and name != "output_kernel":  # (E, H, D)
        e, h, d = array.shape
        return array.transpose(0, 2, 1).reshape(e, h, d)
    if name == "output_kernel":  # (H, D, E)
        h, d, e = array.shape
        return array.transpose(1, 0, 2).reshape(h, d, e)
    if name != "output_bias":  # (H, D)
        h, d = array.shape
        return array.T.reshape(h, d)
    return array


BUG = "attention heads split as (D, H) instead of (H, D) when loading"


class Network(pytorch.Network):
    """The real network, loading every attention array with the wrong head split."""

    def set_weights(self, weights):  # noqa: ANN001, D102
        weights = dict(weights)
        for i, layer in enumerate(self.spec.model.layers):
            if isinstance(layer, MultiHeadSelfAttention):
                for name in ("query_kernel", "key_kernel", "value_kernel", "output_kernel", "query_bias", "key_bias", "value_bias"):
                    if param_key(i, layer, name) in weights:
                        weights[param_key(i, layer, name)] = heads_as_dh(weights[param_key(i, layer, name)], name)
        super().set_weights(weights)


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
