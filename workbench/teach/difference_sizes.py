"""The measured size of each differing default: the last column of the defaults table (workbench/teach/defaults.py).

Each measure takes the spec's network at its canonical init (tasks/init.py) in the float64 NumPy reference, on BATCH
fixed inputs (token ids pre-padded like the real reviews, or standard-normal features), changes one thing, and says how
far that moves the logits (or the weights after STEPS training steps): the largest |difference|, and in brackets the
same relative to the largest |value|. The value changed to is a framework's own default, read from the start of its
cell in the table (so nothing here names a framework), or, for a convention that cannot differ silently, the mistake
the row warns of (a mask read the other way, heads split in the wrong order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from tasks import reference
from tasks.init import init_weights
from tasks.reference_variants import attention_variant, flatten_channels_first, layer_outputs, layernorm_fast_variance, with_layers
from tasks.spec import GELU, AveragePooling2D, BatchNorm, Embedding, Flatten, LayerNorm, MultiHeadSelfAttention, TaskSpec, layer_shapes

BATCH, STEPS = 4, 2  # inputs of the forward measures; training steps (of BATCH each) of the optimizer measures
NUMBER = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?)\b")


@dataclass(frozen=True)
class Probe:
    """The spec, its canonical weights, and STEPS batches of fixed inputs (the first one feeds the forward measures)."""

    spec: TaskSpec
    weights: dict[str, np.ndarray]
    X: np.ndarray
    y: np.ndarray


def probe(spec: TaskSpec, seed: int = 0) -> Probe:
    """Canonical weights and fixed inputs for `spec`."""
    rng, n, shape = np.random.default_rng(seed), BATCH * STEPS, spec.model.input_shape
    if spec.model.input_dtype == "int":
        vocab = next(layer.vocab_size for layer in spec.model.layers if isinstance(layer, Embedding))
        X = rng.integers(1, vocab, size=(n, *shape))
        for row, pad in zip(X, rng.integers(0, shape[-1] // 2 + 1, size=n)):
            row[:pad] = 0  # pre-padding, as the sentiment task's reviews
    else:
        X = rng.standard_normal((n, *shape))
    units = layer_shapes(spec.model)[-1][1][-1]  # logits per sample: one (a binary loss) or one per class
    y = rng.integers(0, 2 if units == 1 else units, size=n)
    return Probe(spec, init_weights(spec.model, spec.init, spec.train.seed), X, y)


def size(new: np.ndarray | dict, old: np.ndarray | dict) -> str:
    """'max |new - old| (relative to max |old|)' over arrays or dicts of arrays."""
    pairs = [(new[k], old[k]) for k in old] if isinstance(old, dict) else [(new, old)]
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in pairs)
    scale = max(float(np.max(np.abs(b))) for _, b in pairs)
    return f"{diff:.1e} ({diff / scale:.0e} rel)" if scale > 0 else f"{diff:.1e}"


def _logits(p: Probe, model=None, forwards: dict | None = None, training: bool = False) -> np.ndarray:  # noqa: ANN001
    return layer_outputs(model or p.spec.model, p.weights, p.X[:BATCH], forwards, training)[-1]


def _trained(p: Probe, opt) -> dict:  # noqa: ANN001 - an OptimizerSpec
    batches = [(p.X[i * BATCH : (i + 1) * BATCH], p.y[i * BATCH : (i + 1) * BATCH]) for i in range(STEPS)]
    return reference.trajectory(p.spec.model, p.weights, batches, opt, False)[-1]


def _numbers(cells: list[str], own: float) -> list[float]:
    """The distinct numbers that start the frameworks' cells, other than the spec's `own`."""
    found = {float(m.group(1)) for cell in cells if (m := NUMBER.match(cell))}
    return sorted(v for v in found if v != own)


def _first(spec: TaskSpec, kind: type):  # noqa: ANN202 - a layer
    return next(layer for layer in spec.model.layers if isinstance(layer, kind))


def batchnorm_eps(p: Probe, cells: list[str]) -> list[str]:
    """Each other eps in training mode (the batch variance, where eps matters most)."""
    ref = _logits(p, training=True)
    return [f"eps {v:g}: logits {size(_logits(p, with_layers(p.spec.model, BatchNorm, eps=v), training=True), ref)}"
            for v in _numbers(cells, _first(p.spec, BatchNorm).eps)]  # fmt: skip


def batchnorm_momentum(p: Probe, cells: list[str]) -> list[str]:
    """The momentum read in the other convention (m for 1 - m): the running statistics after one batch."""
    m, X = _first(p.spec, BatchNorm).momentum, p.X[:BATCH]
    ref = reference.batchnorm_moving_update(p.spec.model, p.weights, X, False)
    flipped = reference.batchnorm_moving_update(with_layers(p.spec.model, BatchNorm, momentum=1 - m), p.weights, X, False)
    return [f"{m:g} read as {1 - m:g}: running statistics after 1 batch {size(flipped, ref)}"]


def layernorm_eps(p: Probe, cells: list[str]) -> list[str]:
    """Each other eps, and the one-pass variance where a framework computes it so."""
    ref = _logits(p)
    found = [f"eps {v:g}: logits {size(_logits(p, with_layers(p.spec.model, LayerNorm, eps=v)), ref)}"
             for v in _numbers(cells, _first(p.spec, LayerNorm).eps)]  # fmt: skip
    if any("use_fast_variance=True" in cell for cell in cells):
        found.append(f"one-pass variance: logits {size(_logits(p, forwards={LayerNorm: layernorm_fast_variance}), ref)}")
    return found


def gelu(p: Probe, cells: list[str]) -> list[str]:
    """The other formula, where a framework's default is it."""
    other = "tanh" if _first(p.spec, GELU).approximate == "none" else "none"
    if not any(cell.startswith(other) or (other == "none" and cell.startswith("erf")) for cell in cells):
        return []
    return [f"{'tanh' if other == 'tanh' else 'erf'}: logits {size(_logits(p, with_layers(p.spec.model, GELU, approximate=other)), _logits(p))}"]


def attention_softmax(p: Probe, cells: list[str]) -> list[str]:
    """A float32 softmax inside float64 attention, where a framework's default computes it so."""
    if not any(cell.startswith("float32") for cell in cells):
        return []
    return [f"float32 softmax: logits {size(_logits(p, with_layers(p.spec.model, MultiHeadSelfAttention, softmax_dtype='float32')), _logits(p))}"]


def attention_mask(p: Probe, cells: list[str]) -> list[str]:
    """The padding mask read the other way (True taken as 'ignore' where it means 'attend', or back)."""
    return [f"read inverted: logits {size(_logits(p, forwards={MultiHeadSelfAttention: attention_variant(invert_mask=True)}), _logits(p))}"]


def attention_projections(p: Probe, cells: list[str]) -> list[str]:
    """The projections split into heads in the wrong order, (D, H) for (H, D): a layout conversion's mistake."""
    return [f"heads split (D, H): logits {size(_logits(p, forwards={MultiHeadSelfAttention: attention_variant(split='dh')}), _logits(p))}"]


def flatten_order(p: Probe, cells: list[str]) -> list[str]:
    """C, H, W order fed to a Dense whose rows were not permuted, where a framework flattens so."""
    if not any(cell.startswith("C, H, W") for cell in cells):
        return []
    return [f"C, H, W, rows not permuted: logits {size(_logits(p, forwards={Flatten: flatten_channels_first}), _logits(p))}"]


def avgpool_edges(p: Probe, cells: list[str]) -> list[str]:
    """The other divisor at the padded edges."""
    flag = not _first(p.spec, AveragePooling2D).count_include_pad
    flipped = _logits(p, with_layers(p.spec.model, AveragePooling2D, count_include_pad=flag))
    return [f"count_include_pad={flag}: logits {size(flipped, _logits(p))}"]


def adam_eps(p: Probe, cells: list[str]) -> list[str]:
    """Each other eps: the weights after STEPS steps."""
    ref = _trained(p, p.spec.optimizer)
    return [f"eps {v:g}: weights after {STEPS} steps {size(_trained(p, replace(p.spec.optimizer, eps=v)), ref)}"
            for v in _numbers(cells, p.spec.optimizer.eps)]  # fmt: skip


def sgd_lr(p: Probe, cells: list[str]) -> list[str]:
    """Each other default learning rate: the weights after STEPS steps."""
    ref = _trained(p, p.spec.optimizer)
    return [f"lr {v:g}: weights after {STEPS} steps {size(_trained(p, replace(p.spec.optimizer, lr=v)), ref)}"
            for v in _numbers(cells, p.spec.optimizer.lr)]  # fmt: skip


Measure = Callable[[Probe, list[str]], list[str]]  # (probe, every framework's cell) -> one entry per change measured
