"""The size of each attention difference of issue 23 on the sentiment transformer's activations, in NumPy float64.

The --model transformer network at its canonical init (seed 0) runs on the first N real IMDB test reviews. Each row
changes one thing against the spec's float64 reference (tasks/reference.py) and prints the largest absolute change at
the first layer it changes and at the logits, each also relative to the largest |value| of the reference there.
Differences that are spec fields (LayerNorm eps, GELU approximate, the mask, the softmax dtype) are spec changes; the rest replace
one layer's forward with a variant written below.

    python benchmarks/attention_differences.py [--reviews N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks import registry  # noqa: E402 - after the path line
from tasks.init import init_weights  # noqa: E402
from tasks.reference import LAYER_OPS  # noqa: E402
from tasks.reference_attention import masked_softmax  # noqa: E402
from tasks.spec import (  # noqa: E402
    GELU,
    PARAM_NAMES,
    Add,
    LayerNorm,
    MaskedMeanPooling,
    ModelSpec,
    MultiHeadSelfAttention,
    layer_inputs,
    param_key,
)
from tasks.spec_attention import real_tokens, uses_padding_mask  # noqa: E402

Forward = Callable  # (layer, p, x, training) -> (y, cache), as in tasks/reference.py


def layer_outputs(model: ModelSpec, weights: dict, X: np.ndarray, forwards: dict[type, Forward] | None = None) -> list[np.ndarray]:
    """Every layer's float64 output, the reference's forward for each layer unless `forwards` replaces its type."""
    keep, outs = real_tokens(X), []
    for i, (layer, sources) in enumerate(zip(model.layers, layer_inputs(model))):
        ins = [X if j < 0 else outs[j] for j in sources]
        if isinstance(layer, Add):
            outs.append(np.sum(ins, axis=0))
            continue
        forward = (forwards or {}).get(type(layer), LAYER_OPS[type(layer)][0])
        p = {n: weights[param_key(i, layer, n)] for n in PARAM_NAMES.get(type(layer), ()) if param_key(i, layer, n) in weights}
        outs.append(forward(layer, p, (ins[0], keep) if uses_padding_mask(layer) else ins[0], False)[0])
    return outs


def layernorm_fast_variance(layer: LayerNorm, p: dict, x: np.ndarray, training: bool) -> tuple[np.ndarray, None]:
    """Flax's default LayerNorm variance (use_fast_variance=True): E[x^2] - E[x]^2, clipped at 0."""
    mean = x.mean(axis=-1, keepdims=True)
    var = np.maximum((x * x).mean(axis=-1, keepdims=True) - mean**2, 0.0)
    return p["gamma"] * (x - mean) / np.sqrt(var + layer.eps) + p["beta"], None


def attention_variant(scale: bool = True, split: str = "hd", softmax_axis: int = -1, invert_mask: bool = False) -> Forward:
    """Self-attention with one mistake or precision choice; the defaults give the reference's function.

    split "dh": the (E, H*D) projections split into heads as (D, H), and merged back the same way.
    softmax_axis -2: normalised over the queries; padding keys are then zeroed (an engine would get NaN there).
    """

    def forward(layer: MultiHeadSelfAttention, p: dict, x: tuple, training: bool) -> tuple[np.ndarray, None]:
        values, keep = x
        keep = ~keep if invert_mask else keep
        (n, length, e), (_, h, d) = values.shape, p["query_kernel"].shape
        order = (0, 2, 1, 3) if split == "hd" else (0, 3, 1, 2)  # (N, L, H, D) or (N, L, D, H) -> (N, H, L, D)
        shape = (n, length, h, d) if split == "hd" else (n, length, d, h)
        q, k, v = ((values @ p[f"{name}_kernel"].reshape(e, h * d) + p[f"{name}_bias"].reshape(h * d)).reshape(shape).transpose(order)
                   for name in ("query", "key", "value"))  # fmt: skip
        scores = (q @ k.transpose(0, 1, 3, 2)) / (np.sqrt(d) if scale else 1.0)
        if softmax_axis == -1:
            weights = masked_softmax(scores, keep)
        else:
            e_q = np.exp(scores - scores.max(axis=softmax_axis, keepdims=True))
            weights = e_q / e_q.sum(axis=softmax_axis, keepdims=True) * keep[:, None, None, :]
        o = (weights @ v).transpose(np.argsort(order))  # back to (N, L, H, D) or (N, L, D, H)
        return o.reshape(n, length, h * d) @ p["output_kernel"].reshape(h * d, e) + p["output_bias"], None

    return forward


def with_layers(model: ModelSpec, kind: type, **changes: object) -> ModelSpec:
    """The model with every layer of type `kind` changed (a spec field)."""
    return replace(model, layers=tuple(replace(layer, **changes) if isinstance(layer, kind) else layer for layer in model.layers))


def rows(model: ModelSpec) -> list[tuple[str, ModelSpec, dict[type, Forward]]]:
    """(what differs, the model, replaced forwards) of every measured difference."""
    attention = MultiHeadSelfAttention
    return [
        ("(control) the variant attention, nothing changed", model, {attention: attention_variant()}),
        ("LayerNorm eps 1e-3 (Keras) vs 1e-5 (spec, torch)", with_layers(model, LayerNorm, eps=1e-3), {}),
        ("LayerNorm eps 1e-6 (Flax NNX) vs 1e-5", with_layers(model, LayerNorm, eps=1e-6), {}),
        ("LayerNorm variance E[x^2]-E[x]^2 (Flax) vs two-pass", model, {LayerNorm: layernorm_fast_variance}),
        ("GELU tanh approximation vs erf", with_layers(model, GELU, approximate="tanh"), {}),
        ("attention without the 1/sqrt(D) scale", model, {attention: attention_variant(scale=False)}),
        ("heads split (D, H) instead of (H, D)", model, {attention: attention_variant(split="dh")}),
        ("softmax over the query axis", model, {attention: attention_variant(softmax_axis=-2)}),
        ("float32 softmax inside float64 attention (JAX)", with_layers(model, attention, softmax_dtype="float32"), {}),
        ("mask polarity inverted", model, {attention: attention_variant(invert_mask=True)}),
        ("no padding mask (attention and pooling)", with_layers(with_layers(model, attention, mask="none"), MaskedMeanPooling, mask="none"), {}),
    ]


def main() -> None:
    """Print one row per difference: where it first shows, its size there and at the logits."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", type=int, default=64, help="the first N test reviews (default: 64)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $FRAMEBENCH_DATA)")
    args = parser.parse_args()

    task = registry.get("sentiment")
    spec = task.variant("transformer")
    data = task.load(args.data_dir)
    X = data.X_test[: args.reviews].astype(np.int64)
    weights = init_weights(spec.model, spec.init, spec.train.seed)
    reference = layer_outputs(spec.model, weights, X)
    real = real_tokens(X).sum(axis=1)
    print(f"sentiment --model transformer, canonical init (seed {spec.train.seed}), float64, {len(X)} IMDB test reviews "
          f"({real.min()}-{real.max()} real tokens of {X.shape[1]}, median {int(np.median(real))})")  # fmt: skip
    print(f"{'difference':<52} {'first layer it changes':<26} {'max |d| there':>13} {'relative':>9} {'max |d| logits':>14} {'relative':>9}")
    for what, model, forwards in rows(spec.model):
        outs = layer_outputs(model, weights, X, forwards)
        sizes = [float(np.max(np.abs(o - r))) for o, r in zip(outs, reference)]
        first = next((i for i, s in enumerate(sizes) if s > 0), len(sizes) - 1)
        rel = lambda i: sizes[i] / float(np.max(np.abs(reference[i])))  # noqa: E731
        label = f"{first} {type(model.layers[first]).__name__}" if sizes[first] > 0 else "none: bitwise equal"
        print(f"{what:<52} {label:<26} {sizes[first]:>13.2e} {rel(first):>9.2e} {sizes[-1]:>14.2e} {rel(len(sizes) - 1):>9.2e}")


if __name__ == "__main__":
    main()
