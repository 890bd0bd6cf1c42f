"""Injected bug: nn.MultiheadAttention's key_padding_mask given the real tokens (Keras' and JAX's polarity, True =
attend) where torch reads True = IGNORE: every query attends to the padding only."""

from __future__ import annotations

from frameworks import pytorch
from frameworks.pytorch import *  # noqa: F403 - every public name of the real adapter
from frameworks.pytorch_layers import PaddingMaskedAttention
from tasks.spec_attention import PAD_ID

BUG = "key_padding_mask True = attend (the mask polarity inverted)"


class InvertedMask(PaddingMaskedAttention):
    """The real attention with the padding mask's polarity inverted."""

    def forward(self, x, ids):  # noqa: ANN001, ANN201, D102
        y, self.weights = self.attention(x, x, x, key_padding_mask=ids != PAD_ID, need_weights=True, average_attn_weights=False)
        return y


class Network(pytorch.Network):
    """The real network, every attention layer with the inverted mask."""

    def build(self, weights):  # noqa: ANN001, D102
        super().build(weights)
        for module in self.model.modules():
            if isinstance(module, PaddingMaskedAttention):
                module.__class__ = InvertedMask


def create(spec, settings, model="spec"):  # noqa: ANN001, ANN201, D103
    return Network(spec, settings, model)
