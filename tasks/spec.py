"""The shared task spec: frozen dataclasses that every framework adapter reads.

Canonical conventions (framework-neutral, used by `tasks.init`, `tasks.reference`
and mapped to each framework by `frameworks.layout`):

* images are NHWC (batch, height, width, channels); `Flatten` flattens in H, W, C order;
* Dense kernel is (in, out); Conv2D kernel is HWIO (kh, kw, in, out);
* BatchNorm keeps gamma, beta, moving_mean, moving_var, each of shape (C,);
* Embedding table is (vocab_size, dim);
* LSTM keeps kernel (in, 4u), recurrent_kernel (u, 4u) and one bias (4u,), gates i, f, c, o;
* GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, LayerNorm and Add: tasks/spec_layers.py
  states their conventions (GRU gates z, r, h, reset after, bias (2, 3u); Conv1D kernel (k, in, out));
* MultiHeadSelfAttention (kernels (E, H, D), output (H, D, E)), GELU, PositionEmbedding and MaskedMeanPooling:
  tasks/spec_attention.py;
* a model is a sequence of layers, or a graph of them (ModelSpec.inputs; named nodes in tasks/spec_graph.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Union

import numpy as np

from tasks.spec_layers import (  # noqa: F401 - re-exported: the spec vocabulary is one namespace (tasks/spec_io.py reads it)
    GELU,
    GRU,
    NEW_PARAM_NAMES,
    Add,
    AveragePooling2D,
    Conv1D,
    GlobalAveragePooling2D,
    GlobalMaxPool1D,
    LayerNorm,
    MaskedMeanPooling,
    MultiHeadSelfAttention,
    PositionEmbedding,
    new_output_shape,
    new_param_shapes,
)
from tasks.spec_source import DataSource  # noqa: F401 - re-exported: a spec file's data (tasks/spec_file.py)

Weights = dict[str, np.ndarray]  # canonical name (e.g. "conv2d_0.kernel") -> array: the one alias, used everywhere

# ---------------------------------------------------------------- layers


@dataclass(frozen=True)
class Dense:
    """Fully connected layer: y = x @ kernel + bias (no activation)."""

    units: int = 10  # output features


@dataclass(frozen=True)
class ReLU:
    """Elementwise max(x, 0)."""


@dataclass(frozen=True)
class Conv2D:
    """2-D convolution, stride 1, symmetric zero padding stated explicitly."""

    filters: int = 32  # output channels
    kernel_size: int = 3  # square kernel side
    padding: int = 1  # zero rows/columns added on *each* side (no asymmetric "same")


@dataclass(frozen=True)
class MaxPool2D:
    """Max pooling with stride equal to the window, no padding (floor of odd sizes)."""

    pool_size: int = 2  # square window side and stride


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation over the last (channel) axis, PyTorch's momentum meaning.

    running = (1 - momentum) * running + momentum * batch_statistic
    """

    momentum: float = 0.1  # weight of the new batch statistic (PyTorch meaning)
    eps: float = 1e-5  # added to the variance before the square root


@dataclass(frozen=True)
class Flatten:
    """Flatten all but the batch axis, in canonical NHWC (H, W, C) order."""


@dataclass(frozen=True)
class Dropout:
    """Inverted dropout; identity at evaluation time and in equivalence checks."""

    rate: float = 0.5  # probability of zeroing a unit while training


@dataclass(frozen=True)
class Embedding:
    """Lookup table from integer token ids to vectors."""

    vocab_size: int = 20000  # number of rows, ids 0..vocab_size-1
    dim: int = 128  # vector length


@dataclass(frozen=True)
class LSTM:
    """Single-layer LSTM over the sequence; outputs the last hidden state.

    Gates i, f, c, o; sigmoid gate activation, tanh cell activation; one bias.
    """

    units: int = 64  # hidden state size


Layer = Union[Dense, ReLU, Conv2D, MaxPool2D, BatchNorm, Flatten, Dropout, Embedding, LSTM,
              GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, LayerNorm, Add,
              MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling]
PARAM_NAMES: dict[type, tuple[str, ...]] = {
    Dense: ("kernel", "bias"),
    Conv2D: ("kernel", "bias"),
    BatchNorm: ("gamma", "beta", "moving_mean", "moving_var"),
    Embedding: ("embeddings",),
    LSTM: ("kernel", "recurrent_kernel", "bias"),
    **NEW_PARAM_NAMES,  # GRU, Conv1D, LayerNorm (tasks/spec_layers.py)
}
# BatchNorm's moving statistics are state, not trained parameters.
NON_TRAINABLE = frozenset({"moving_mean", "moving_var"})


def is_trainable(key: str) -> bool:
    """True for a canonical weight name that training updates ('dense_0.kernel'), False for state ('batchnorm_1.moving_var')."""
    return key.rsplit(".", 1)[-1] not in NON_TRAINABLE


# ---------------------------------------------------------------- the rest of a task


@dataclass(frozen=True)
class ModelSpec:
    """The network: an input shape and a sequence of layers ending in logits, or a graph of them (`inputs`).

    A sequence is a chain graph. In the graph form (tasks/spec_graph.py builds it from named nodes), layer i
    takes the outputs of the layers `inputs[i]` (-1: the model's input), every one of them before i; an Add
    takes two or more, every other layer one. The last layer outputs the logits.
    """

    input_shape: tuple[int, ...] = (784,)  # one sample, canonical layout (NHWC for images)
    layers: tuple[Layer, ...] = ()  # applied in order; the last one outputs logits
    input_dtype: str = "float"  # "float" (features) or "int" (token ids)
    # "cross_entropy" (softmax logits), "binary_cross_entropy" (1 logit), or "mse" (1 logit, mean (logit - (2y - 1))^2)
    loss: str = "cross_entropy"
    inputs: tuple[tuple[int, ...], ...] = ()  # graph form: the layers feeding each layer (-1: the input); () = a chain


def layer_inputs(model: ModelSpec) -> list[tuple[int, ...]]:
    """The layers whose outputs feed each layer (-1: the model's input): (i - 1,) for every layer of a chain."""
    if not model.inputs:
        return [(i - 1,) for i in range(len(model.layers))]
    if len(model.inputs) != len(model.layers):
        raise ValueError(f"the graph lists inputs for {len(model.inputs)} of {len(model.layers)} layers")
    for i, (layer, sources) in enumerate(zip(model.layers, model.inputs)):
        if not all(-1 <= j < i for j in sources):
            raise ValueError(f"layer {i} takes {sources}: inputs must be earlier layers or -1 (the input)")
        if (len(sources) >= 2) != isinstance(layer, Add):
            raise ValueError(f"layer {i} ({type(layer).__name__}) takes {len(sources)} inputs: an Add takes two or more, others one")
    return [tuple(sources) for sources in model.inputs]


def is_chain(model: ModelSpec) -> bool:
    """True if every layer takes the previous layer's output (the sequential form, or a graph that is a chain)."""
    return all(sources == (i - 1,) for i, sources in enumerate(layer_inputs(model)))


@dataclass(frozen=True)
class InitSpec:
    """How the canonical initial weights are drawn in NumPy (once, from the seed)."""

    kernel: str = "glorot_uniform"  # Dense/Conv kernels: glorot_uniform | he_uniform | fan_in_uniform
    bias: str = "zeros"  # zeros | fan_in_uniform (U(+-1/sqrt(fan_in)), PyTorch's Linear/Conv default)
    embedding_scale: float = 0.05  # Embedding ~ U(-scale, scale) (Keras' default uniform)
    recurrent: str = "orthogonal"  # LSTM recurrent kernel: orthogonal | glorot_uniform
    forget_bias: float = 1.0  # LSTM forget-gate bias (Keras' unit_forget_bias=True gives 1)


@dataclass(frozen=True)
class OptimizerSpec:
    """The optimizer and every constant it uses; tasks/optimizers.py implements exactly this meaning.

    The presets of --optimizer (sgd, momentum, nesterov, rmsprop, adam, adamw) are `tasks.optimizers.preset`.
    """

    name: str = "adam"  # the update rule: sgd | rmsprop | adam
    lr: float = 1e-3  # learning rate (the driver multiplies it by TrainSpec.lr_decay after each epoch)
    # sgd (and rmsprop's optional momentum)
    momentum: float = 0.0  # 0 = no momentum
    nesterov: bool = False  # sgd only: step along g + momentum * v (Nesterov) instead of v
    dampening: float = 0.0  # sgd only: v = momentum * v + (1 - dampening) * g, and v = g at the first step
    # How the velocity holds the learning rate (the two agree exactly while lr is constant):
    #   "gradient": v = momentum * v + g,       w -= lr * v   (PyTorch, optax.sgd)
    #   "step":     v = momentum * v - lr * g,  w += v        (Keras, scikit-learn, optax.rmsprop's trace)
    velocity: str = "gradient"
    # rmsprop
    rho: float = 0.9  # decay of the mean squared gradient s (PyTorch calls it alpha, default 0.99)
    centered: bool = False  # divide by sqrt(s - mean(g)^2), the estimated variance, instead of sqrt(s)
    # adam
    beta_1: float = 0.9  # Adam first-moment decay
    beta_2: float = 0.999  # Adam second-moment decay
    eps: float = 1e-7  # the epsilon of Adam's and RMSprop's denominators
    # Where eps enters the denominator:
    #   adam "corrected":   lr * m_hat / (sqrt(v_hat) + eps)            (PyTorch, optax)
    #   adam "uncorrected": lr_t * m / (sqrt(v) + eps), lr_t bias-corrected (Keras, scikit-learn)
    #   rmsprop "outside":  lr * g / (sqrt(s) + eps)                     (PyTorch)
    #   rmsprop "inside":   lr * g / sqrt(s + eps)                       (Keras, optax's default)
    eps_style: str = "corrected"
    # weight decay, on every trainable weight (biases and BatchNorm too)
    weight_decay: float = 0.0  # 0 = none
    #   "l2":        g += weight_decay * w before the update (PyTorch's weight_decay=, optax.add_decayed_weights first)
    #   "decoupled": w -= lr * weight_decay * w, then the update on the plain g (adam only: AdamW)
    weight_decay_style: str = "l2"
    # decoupled only, how the decay follows the learning rate:
    #   "lr":       w -= lr * weight_decay * w with the current lr (PyTorch AdamW, Keras, optax.adamw)
    #   "schedule": w -= (lr / lr_0) * weight_decay * w, lr_0 = the lr above (Loshchilov & Hutter's AdamW)
    decay_scale: str = "lr"


@dataclass(frozen=True)
class TrainSpec:
    """Batching, epochs and the seed that fixes initial weights and batch order."""

    batch_size: int = 128  # samples per step; the last batch of an epoch may be smaller
    epochs: int = 5  # passes over the training set
    seed: int = 0  # initial weights, batch order, framework RNGs
    lr_decay: float = 1.0  # the learning rate is multiplied by this after every epoch (1: constant)


SPEC_MODEL = "spec"  # model id of the spec's own network (as opposed to a one-shot baseline)


@dataclass(frozen=True)
class BaselineSpec:
    """A baseline row the task asks for, in words, and how much data it sees.

    The library that fits it keeps its settings per task (the baseline adapter's table, keyed by task and name).
    """

    name: str = "logistic_regression"  # row id and name in the table; SPEC_MODEL: the spec's own network
    about: str = ""  # what the task asks for, e.g. "a linear classifier on the pixels"
    max_train: int | None = None  # train on the first N training samples only (the row says so)


@dataclass(frozen=True)
class AugmentSpec:
    """Training-time image augmentation (tasks/augment.py): a random crop of the zero-padded image, a random flip.

    A task states what it would apply; `mode` says whether and where it runs (--augment sets it).
    """

    crop_padding: int = 0  # zeros added on each side, then a random crop back to the input size (0: no crop)
    flip: bool = False  # flip each image left-right with probability 1/2
    # "off"; "shared": NumPy, from the spec seed, so every framework sees identical batches;
    # "native": each framework's own augmentation ops and random numbers (batches differ by framework)
    mode: str = "off"


@dataclass(frozen=True)
class DataSpec:
    """Which dataset and how it is preprocessed (once, in shared NumPy code)."""

    name: str = "mnist"  # dataset key in tasks.datasets
    num_classes: int = 10  # distinct labels
    preprocessing: str = "scale_0_1"  # documented in the task module
    augment: AugmentSpec = field(default_factory=AugmentSpec)  # what --augment applies (image tasks; default: none)
    num_words: int = 0  # text tasks: vocabulary size incl. PAD and OOV (0 = not a text task)
    max_len: int = 0  # text tasks: tokens kept per review, padded/truncated in front (0 = not a text task)
    source: DataSource = field(default_factory=DataSource)  # a spec file's data (empty: the task loads its own)


@dataclass(frozen=True)
class Tolerances:
    """Per-task tolerances of the numerical equivalence checks (max abs diff)."""

    forward64: float = 1e-10  # float64 logits vs reference
    forward32: float = 1e-4  # float32 logits vs reference, relative to the logit scale
    grad64: float = 1e-9  # float64 gradients, adapter vs adapter / reference
    finite_diff: float = 1e-6  # reference gradients vs central finite differences
    trajectory64: float = 1e-8  # float64 parameters after each of K steps
    grad32: float = 1e-4  # float32 gradients, relative to each gradient's largest magnitude
    trajectory32: float = 1e-4  # float32 parameters after each step, relative to their largest magnitude


@dataclass(frozen=True)
class TaskSpec:
    """One task: data, model, init, optimizer, training, baselines and targets."""

    name: str = "mnist"  # registry key, --task value, test id and file name
    title: str = ""  # one line for tables and reports
    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    init: InitSpec = field(default_factory=InitSpec)
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    baselines: tuple[BaselineSpec, ...] = ()  # rows of a baseline library (Engine.baselines)
    target_accuracy: float = 0.9  # for "time to accuracy"
    tolerances: Tolerances = field(default_factory=Tolerances)


def epoch_lr(spec: "TaskSpec", epoch: int) -> float:
    """The learning rate of a 1-based epoch: lr * lr_decay ** (epoch - 1), set by shared code."""
    return spec.optimizer.lr * spec.train.lr_decay ** (epoch - 1)


# ---------------------------------------------------------------- shapes and parameters


def output_shape(layer: Layer, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one sample after `layer`, canonical layout."""
    new = new_output_shape(layer, in_shape)  # the layers of tasks/spec_layers.py
    if new is not None:
        return new
    if isinstance(layer, Dense):
        return (*in_shape[:-1], layer.units)
    if isinstance(layer, Conv2D):
        h, w, _ = in_shape
        k, p = layer.kernel_size, layer.padding
        return (h + 2 * p - k + 1, w + 2 * p - k + 1, layer.filters)
    if isinstance(layer, MaxPool2D):
        h, w, c = in_shape
        return (h // layer.pool_size, w // layer.pool_size, c)
    if isinstance(layer, Flatten):
        size = 1
        for d in in_shape:
            size *= d
        return (size,)
    if isinstance(layer, Embedding):
        return (*in_shape, layer.dim)
    if isinstance(layer, LSTM):
        return (layer.units,)
    return in_shape  # ReLU, BatchNorm, Dropout


def layer_shapes(model: ModelSpec) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(input shape, output shape) of one sample for every layer, in order (an Add's inputs all have its input shape)."""
    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for i, (layer, sources) in enumerate(zip(model.layers, layer_inputs(model))):
        ins = [tuple(model.input_shape) if j < 0 else shapes[j][1] for j in sources]
        if any(shape != ins[0] for shape in ins):
            raise ValueError(f"layer {i} ({type(layer).__name__}) adds outputs of different shapes {ins}")
        shapes.append((ins[0], ins[0] if isinstance(layer, Add) else output_shape(layer, ins[0])))
    return shapes


def param_shapes(model: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape of every weight, in layer order (see `param_key`)."""
    result: dict[str, tuple[int, ...]] = {}
    for i, (layer, (in_shape, _)) in enumerate(zip(model.layers, layer_shapes(model))):
        if isinstance(layer, Dense):
            shapes = [(in_shape[-1], layer.units), (layer.units,)]
        elif isinstance(layer, Conv2D):
            k = layer.kernel_size
            shapes = [(k, k, in_shape[-1], layer.filters), (layer.filters,)]
        elif isinstance(layer, BatchNorm):
            shapes = [(in_shape[-1],)] * 4
        elif isinstance(layer, Embedding):
            shapes = [(layer.vocab_size, layer.dim)]
        elif isinstance(layer, LSTM):
            u = layer.units
            shapes = [(in_shape[-1], 4 * u), (u, 4 * u), (4 * u,)]
        elif new_param_shapes(layer, in_shape) is not None:
            shapes = new_param_shapes(layer, in_shape)
        else:
            continue
        for name, shape in zip(PARAM_NAMES[type(layer)], shapes):
            result[param_key(i, layer, name)] = shape
    return result


def has_layer(spec: "TaskSpec", kind: type) -> bool:
    """True if the spec's network has a layer of this type."""
    return any(isinstance(layer, kind) for layer in spec.model.layers)


def layer_name(index: int, layer: Layer) -> str:
    """Canonical layer name, e.g. 'dense_0' for a Dense at position 0 (also the Keras layer name)."""
    return f"{type(layer).__name__.lower()}_{index}"


def param_key(index: int, layer: Layer, name: str) -> str:
    """Canonical weight name, e.g. 'dense_0.kernel' for the kernel of layer 0."""
    return f"{layer_name(index, layer)}.{name}"


def count_params(model: ModelSpec, trainable_only: bool = True) -> int:
    """Number of (trainable) scalars in the model, from the spec alone."""
    total = 0
    for key, shape in param_shapes(model).items():
        if trainable_only and not is_trainable(key):
            continue
        n = 1
        for d in shape:
            n *= d
        total += n
    return total
