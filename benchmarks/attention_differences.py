"""The size of each attention difference of issue 23 on the sentiment transformer's activations, in NumPy float64.

The --model transformer network at its canonical init (seed 0) runs on the first N real IMDB test reviews. Each row
changes one thing against the spec's float64 reference (tasks/reference.py) and prints the largest absolute change at
the first layer it changes and at the logits, each also relative to the largest |value| of the reference there.
Differences that are spec fields (LayerNorm eps, GELU approximate, the mask, the softmax dtype) are spec changes; the rest replace
one layer's forward with a variant of tasks/reference_variants.py.

    python benchmarks/attention_differences.py [--reviews N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks import registry  # noqa: E402 - after the path line
from tasks.init import init_weights  # noqa: E402
from tasks.reference_variants import (  # noqa: E402
    Forward,
    attention_variant,
    layer_outputs,
    layernorm_fast_variance,
    with_layers,
)
from tasks.spec import GELU, LayerNorm, MaskedMeanPooling, ModelSpec, MultiHeadSelfAttention  # noqa: E402
from tasks.spec_attention import real_tokens  # noqa: E402


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
