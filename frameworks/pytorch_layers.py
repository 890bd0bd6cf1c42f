"""The torch modules the spec's layers need beyond torch.nn's own, for the PyTorch adapter's build_model.

Each is a thin nn.Module where torch's layer returns more than the spec's layer (LSTM, GRU), takes another axis order
(Conv1d, LayerNorm on NCHW images), or does not exist (global pooling, the residual Add, the graph form).
"""

from __future__ import annotations

import torch
from torch import nn

from frameworks.base import default_of
from tasks.spec import TaskSpec, layer_shapes
from tasks.spec_attention import PAD_ID, GELU, MaskedMeanPooling, MultiHeadSelfAttention, PositionEmbedding, uses_padding_mask


class LastHidden(nn.Module):
    """nn.LSTM returns (outputs, (h, c)); the spec's LSTM layer outputs only the last hidden state."""

    def __init__(self, in_features: int, units: int):
        super().__init__()
        self.lstm = nn.LSTM(in_features, units, batch_first=True)
        # torch adds two biases (b_ih + b_hh) where Keras and the spec have one. Training both
        # would move their sum twice as fast under Adam and add 4 * units parameters, so b_hh
        # stays frozen at zero (layout.lstm_to_torch loads it so) and b_ih is the spec's bias.
        self.lstm.bias_hh_l0.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(x)  # no packing: pre-padded sequences, as in Keras without mask
        return h[-1]


class LastHiddenGRU(nn.Module):
    """nn.GRU returns (outputs, h); the spec's GRU layer outputs only the last hidden state.

    torch.nn.GRU is "reset after" with two trained biases, as the spec (and Keras' reset_after=True);
    its gates are ordered r, z, n where the spec has z, r, h: layout.gru_to_torch reorders them.
    """

    def __init__(self, in_features: int, units: int):
        super().__init__()
        self.gru = nn.GRU(in_features, units, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(x)  # no packing: pre-padded sequences
        return h[-1]


class ChannelsLastConv1d(nn.Conv1d):
    """nn.Conv1d on (N, L, C) sequences: torch convolves (N, C, L), so the axes are swapped in and out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class GlobalMaxPool1d(nn.Module):
    """Maximum over the sequence axis of (N, L, C): torch has no layer for it, x.amax(dim=1) is the idiom."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=1)  # amax spreads the gradient evenly over tied maxima (max(dim) picks one)


class GlobalAvgPool2d(nn.Module):
    """Mean over height and width of (N, C, H, W) -> (N, C) (nn.AdaptiveAvgPool2d(1) keeps two axes of size 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class ChannelsLastLayerNorm(nn.LayerNorm):
    """nn.LayerNorm normalises the LAST axis: on NCHW images that is W, so channels are moved last and back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return super().forward(x)


class Add(nn.Module):
    """The sum of its inputs: the join of a residual block."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.stack(xs).sum(dim=0)


class GraphSequential(nn.Sequential):
    """The spec's graph form: module i reads the outputs of modules `inputs[i]` (-1: the input).

    An nn.Sequential still, so module i is spec layer i and its state_dict keys are those of a chain ('3.weight').
    A module with `reads_ids` (the padding-masked attention and pooling) also gets the model's input ids.
    """

    def __init__(self, modules: list[nn.Module], inputs: list[tuple[int, ...]]):
        super().__init__(*modules)
        self.inputs = inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for module, sources in zip(self, self.inputs):
            ids = {"ids": x} if getattr(module, "reads_ids", False) else {}
            outputs.append(module(*(x if j < 0 else outputs[j] for j in sources), **ids))
        return outputs[-1]


# ---------------------------------------------------------------- the transformer's layers (issue 23)


class PaddingMaskedAttention(nn.Module):
    """nn.MultiheadAttention as self-attention over (N, L, E), keys whose token id is PAD_ID ignored.

    batch_first=True (torch's default is (L, N, E)); q, k, v packed in in_proj_weight (3E, E), head size E / H, so
    the spec's heads * head_dim must equal the width. key_padding_mask: True = IGNORE (the opposite of Keras' and
    JAX's True = attend). need_weights=False, not torch's default True: torch then calls its fused
    F.scaled_dot_product_attention, as nn.TransformerEncoderLayer does (the weights path computes the attention
    explicitly: 0.6x the plain script's training speed, benchmarks/transformer_attention_path.py); `keep_weights`
    (the attention maps) takes the weights path and keeps each head's weights of the last call. A review of padding
    only gets NaN from torch where the spec says the output bias (none in IMDB).
    """

    reads_ids = True

    def __init__(self, width: int, layer: MultiHeadSelfAttention):
        super().__init__()
        self.padding = uses_padding_mask(layer)
        self.attention = nn.MultiheadAttention(width, layer.heads, dropout=0.0, bias=layer.bias, batch_first=True)
        self.keep_weights = False
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        ignore = ids == PAD_ID if self.padding else None
        y, weights = self.attention(x, x, x, key_padding_mask=ignore, need_weights=self.keep_weights, average_attn_weights=False)
        self.weights = weights if self.keep_weights else None
        return y


class LearnedPositions(nn.Embedding):
    """Learned position embeddings: row t of an (max_len, dim) nn.Embedding added to slot t (torch has no layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(torch.arange(x.shape[1], device=x.device))


class MaskedMean(nn.Module):
    """Mean over the sequence axis of the real tokens (id != PAD_ID): torch's x.mean(1) would count the padding."""

    reads_ids = True

    def __init__(self, layer: MaskedMeanPooling):
        super().__init__()
        self.padding = uses_padding_mask(layer)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        if not self.padding:
            return x.mean(dim=1)
        keep = (ids != PAD_ID).to(x.dtype)
        return (x * keep[..., None]).sum(dim=1) / keep.sum(dim=1, keepdim=True).clamp(min=1)


def attention_module(layer: object, in_shape: tuple[int, ...]) -> nn.Module | None:
    """The torch module of one of the transformer's layers (tasks/spec_attention.py), or None for any other layer."""
    if isinstance(layer, MultiHeadSelfAttention):
        if layer.softmax_dtype != "input":
            raise ValueError(f"torch's attention computes its softmax in the input's dtype, not {layer.softmax_dtype!r}")
        return PaddingMaskedAttention(in_shape[-1], layer)
    if isinstance(layer, GELU):
        return nn.GELU(approximate=layer.approximate)  # torch's default "none" (erf); the spec states it
    if isinstance(layer, PositionEmbedding):
        return LearnedPositions(layer.max_len, layer.dim)
    if isinstance(layer, MaskedMeanPooling):
        return MaskedMean(layer)
    return None


def attention_unsupported(spec: TaskSpec) -> str | None:
    """Why nn.MultiheadAttention cannot express a spec's attention layer (its head size is width / heads), or None."""
    for layer, (in_shape, _) in zip(spec.model.layers, layer_shapes(spec.model)):
        if isinstance(layer, MultiHeadSelfAttention) and layer.heads * layer.head_dim != in_shape[-1]:
            return f"nn.MultiheadAttention's head size is width / heads: {layer.heads} x {layer.head_dim} != {in_shape[-1]}"
        if isinstance(layer, MultiHeadSelfAttention) and layer.softmax_dtype != "input":
            return f"nn.MultiheadAttention's softmax runs in the input's dtype, not {layer.softmax_dtype}"
    return None


def attention_weights(network, ids) -> "np.ndarray":  # noqa: ANN001 - a frameworks.pytorch.Network, (L,) token ids
    """The per-head weights of every attention layer for ONE review, (layers, H, L, L) queries by keys (eval mode)."""
    import numpy as np

    layers = [m for m in network.model if isinstance(m, PaddingMaskedAttention)]
    for layer in layers:
        layer.keep_weights = True  # the weights path, for this call only
    try:
        network.predict(np.asarray(ids)[None])
    finally:
        for layer in layers:
            layer.keep_weights = False
    return np.stack([layer.weights[0].detach().cpu().numpy() for layer in layers])


def attention_defaults() -> dict[str, str]:
    """torch's transformer defaults for the differing-defaults table (the adapter's defaults()), read from torch."""
    packed = tuple(nn.MultiheadAttention(8, 2).in_proj_weight.shape)
    return {
        "GELU approximation": f"{'erf' if default_of(nn.GELU, 'approximate') == 'none' else 'tanh'} "
        f"(nn.GELU approximate={default_of(nn.GELU, 'approximate')!r})",
        "attention projections": f"nn.MultiheadAttention in_proj_weight {packed} for E=8: q, k, v packed (3E, E), head size E/H",
        "attention padding mask": "key_padding_mask: True = ignore (scaled_dot_product_attention's bool mask: True = attend)",
        "attention softmax dtype": f"input dtype; need_weights={default_of(nn.MultiheadAttention.forward, 'need_weights')} "
        "bypasses scaled_dot_product_attention (another rounding; the spec network sets it False)",
    }
