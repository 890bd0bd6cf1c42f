"""The torch modules the spec's layers need beyond torch.nn's own, for the PyTorch adapter's build_model.

Each is a thin nn.Module where torch's layer returns more than the spec's layer (LSTM, GRU), takes another axis order
(Conv1d, LayerNorm on NCHW images), or does not exist (global pooling, the residual Add, the graph form).
"""

from __future__ import annotations

import torch
from torch import nn


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
    """

    def __init__(self, modules: list[nn.Module], inputs: list[tuple[int, ...]]):
        super().__init__(*modules)
        self.inputs = inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for module, sources in zip(self, self.inputs):
            outputs.append(module(*(x if j < 0 else outputs[j] for j in sources)))
        return outputs[-1]
