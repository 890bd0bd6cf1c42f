"""What a network must satisfy before any engine builds it: each layer gets an input it can take, the logits fit the loss.

Framework-neutral facts about the spec's vocabulary, checked on a user's spec file (tasks/spec_file.py) before any
engine starts. Each error is one line naming the layer by its key path (`model.layers[2]`) and the shapes involved.
"""

from __future__ import annotations

from tasks.spec import (
    GELU,
    GRU,
    LSTM,
    Add,
    AveragePooling2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling2D,
    GlobalMaxPool1D,
    InitSpec,
    MaskedMeanPooling,
    MaxPool2D,
    ModelSpec,
    MultiHeadSelfAttention,
    PositionEmbedding,
    count_params,
    layer_inputs,
    output_shape,
)
from tasks.reference import LOSSES, ONE_LOGIT_LOSSES
from tasks.spec_attention import MASKS

# The input ranks (axes of one sample) each layer takes; a layer not listed takes any rank.
TAKES = {
    Dense: ((1, 2), "features (n,) or a sequence (L, n)"),
    Conv2D: ((3,), "an image (H, W, C)"),
    MaxPool2D: ((3,), "an image (H, W, C)"),
    AveragePooling2D: ((3,), "an image (H, W, C)"),
    GlobalAveragePooling2D: ((3,), "an image (H, W, C)"),
    BatchNorm: ((1, 3), "features (n,) or an image (H, W, C)"),
    Embedding: ((1,), "token ids (L,)"),
    LSTM: ((2,), "a sequence (L, n)"),
    GRU: ((2,), "a sequence (L, n)"),
    Conv1D: ((2,), "a sequence (L, n)"),
    GlobalMaxPool1D: ((2,), "a sequence (L, n)"),
    MultiHeadSelfAttention: ((2,), "a sequence (L, E)"),
    PositionEmbedding: ((2,), "a sequence (L, dim)"),
    MaskedMeanPooling: ((2,), "a sequence (L, n)"),
}
# The values a string field takes (read by tasks/init.py, tasks/reference_attention.py, tasks/spec_attention.py):
# anything else is refused as the file is read, not by the first engine that meets it
CHOICES: dict[tuple[type, str], tuple[str, ...]] = {
    (InitSpec, "kernel"): ("glorot_uniform", "he_uniform", "fan_in_uniform"),
    (InitSpec, "bias"): ("zeros", "fan_in_uniform"),
    (InitSpec, "recurrent"): ("orthogonal", "glorot_uniform"),
    (MultiHeadSelfAttention, "mask"): MASKS,
    (MultiHeadSelfAttention, "softmax_dtype"): ("input", "float32"),
    (MaskedMeanPooling, "mask"): MASKS,
    (GELU, "approximate"): ("none", "tanh"),
}
MAX_PARAMS = 100_000_000  # trainable scalars of a spec file's network: every engine and the float64 reference hold copies
HINTS = {Dense: "put a Flatten (or a global pooling) before it", BatchNorm: "", Embedding: "it must read the model's input"}


class SpecCheckError(ValueError):
    """A network that no engine can build as written: one line naming the layer's key path and the shapes."""


def check_choice(cls: type, key: str, value: object, path: str) -> None:
    """Raise SpecCheckError if `value` is not one of the values the field `key` of `cls` takes."""
    choices = CHOICES.get((cls, key))
    if choices is not None and value not in choices:
        raise SpecCheckError(f"{path}: {value!r} is not one of {', '.join(choices)}")


def _where(index: int, layer: object, prefix: str) -> str:
    return f"{prefix}[{index}] ({type(layer).__name__})"


def _source(j: int, model: ModelSpec, prefix: str) -> str:
    return "the model's input" if j < 0 else _where(j, model.layers[j], prefix)


def check_model(model: ModelSpec, num_classes: int, prefix: str = "model.layers") -> None:
    """Raise SpecCheckError unless every layer can take its input and the last one gives the loss's logits."""
    if not model.layers:
        raise SpecCheckError(f"{prefix}: the network has no layers")
    if model.loss not in LOSSES:
        raise SpecCheckError(f"train.loss {model.loss!r}: choose one of {', '.join(LOSSES)}")
    try:
        sources = layer_inputs(model)
    except ValueError as exc:
        raise SpecCheckError(f"{prefix}: {exc}") from None
    outputs: list[tuple[int, ...]] = []
    for i, (layer, reads) in enumerate(zip(model.layers, sources)):
        shapes = [tuple(model.input_shape) if j < 0 else outputs[j] for j in reads]
        where = _where(i, layer, prefix)
        if isinstance(layer, Add):
            if len(set(shapes)) > 1:
                names = ", ".join(f"{_source(j, model, prefix)} {s}" for j, s in zip(reads, shapes))
                raise SpecCheckError(f"{where} adds outputs of different shapes: {names}")
            outputs.append(shapes[0])
            continue
        shape, came_from = shapes[0], _source(reads[0], model, prefix)
        ranks, what = TAKES.get(type(layer), (None, ""))
        if ranks is not None and len(shape) not in ranks:
            hint = HINTS.get(type(layer), "")
            raise SpecCheckError(f"{where} takes {what}, not the shape {shape} of {came_from}" + (f": {hint}" if hint else ""))
        if isinstance(layer, Embedding) and (reads[0] >= 0 or model.input_dtype != "int"):
            raise SpecCheckError(f"{where} reads token ids: it must read the model's input, with model.input_dtype = \"int\"")
        if isinstance(layer, (MultiHeadSelfAttention, MaskedMeanPooling)) and model.input_dtype != "int" and layer.mask != "none":
            raise SpecCheckError(f"{where} masks padding tokens (mask = \"padding\"), which needs token ids as the model's "
                                 f"input (model.input_dtype = \"int\"); or set mask = \"none\"")  # fmt: skip
        try:
            out = tuple(output_shape(layer, shape))
        except (ValueError, TypeError) as exc:
            raise SpecCheckError(f"{where}: {exc}") from None
        if any(d <= 0 for d in out):
            raise SpecCheckError(f"{where} turns the shape {shape} of {came_from} into {out}: every axis must stay positive")
        if isinstance(layer, Dropout) and not 0 <= layer.rate < 1:
            raise SpecCheckError(f"{prefix}[{i}].rate {layer.rate} (Dropout): must be >= 0 and < 1")
        if getattr(layer, "eps", 1.0) <= 0:
            raise SpecCheckError(f"{prefix}[{i}].eps {layer.eps} ({type(layer).__name__}): must be > 0")
        outputs.append(out)
    if count_params(model) > MAX_PARAMS:
        raise SpecCheckError(f"{prefix}: {count_params(model):,} trainable parameters, more than a spec file's {MAX_PARAMS:,}")
    _check_logits(model, outputs[-1], num_classes, _where(len(model.layers) - 1, model.layers[-1], prefix))


def _check_logits(model: ModelSpec, logits: tuple[int, ...], num_classes: int, where: str) -> None:
    """The last layer gives (1,) for a one-logit loss, (num_classes,) for cross-entropy."""
    if model.loss in ONE_LOGIT_LOSSES:
        if num_classes != 2:
            raise SpecCheckError(f"train.loss {model.loss!r} needs labels 0/1, but the data has {num_classes} classes: "
                                 f"use \"cross_entropy\"")  # fmt: skip
        if logits != (1,):
            raise SpecCheckError(f"{where} outputs {logits}, but train.loss {model.loss!r} needs one logit (1,)")
    elif logits != (num_classes,):
        raise SpecCheckError(f"{where} outputs {logits}, but train.loss \"cross_entropy\" needs one logit per class "
                             f"({num_classes},)")  # fmt: skip
