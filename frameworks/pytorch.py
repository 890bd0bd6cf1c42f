"""PyTorch adapter: an `nn.Module` built from the spec, trained with an explicit loop.

Read it side by side with `frameworks/keras.py`: same public names, same order.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from frameworks import layout, onnx_runtime
from frameworks.base import SPEC_MODEL, Export, OnBatch, RunSettings, Weights
from frameworks.pytorch_augment import augment_native  # noqa: F401 - --augment native (torchvision or torch ops)
from tasks.optimizers import decoupled_rate
from tasks.pipeline import batch_slices
from tasks.reference import mse_targets
from tasks.spec import (
    GRU,
    LSTM,
    AveragePooling2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPool1D,
    LayerNorm,
    MaxPool2D,
    OptimizerSpec,
    ReLU,
    TaskSpec,
    has_layer,
    is_chain,
    is_trainable,
    layer_inputs,
    layer_shapes,
)
from tasks.spec import Add as AddLayer

NAME = "pytorch"
EVAL_BATCH = 1024  # samples per forward pass when predicting


def version() -> str:
    """The framework's version string."""
    return torch.__version__


def devices() -> list[str]:
    """The devices PyTorch sees, e.g. ["cpu", "cuda:0 NVIDIA H200"]."""
    gpus = [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    return ["cpu", *gpus]


def configure(settings: RunSettings) -> str:
    """Apply threads, determinism, seed and precision settings; return the device kind actually used."""
    torch.set_num_threads(settings.threads)
    try:
        torch.set_num_interop_threads(settings.threads)
    except RuntimeError:  # already set once in this process (tests run several adapters)
        pass
    if settings.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required by deterministic cuBLAS
        torch.use_deterministic_algorithms(True)
        # ...which also fills every new tensor with NaN to expose reads of uninitialised memory:
        # a debugging aid that costs time (plain scripts do not pay it) and changes no result.
        torch.utils.deterministic.fill_uninitialized_memory = False
    torch.manual_seed(settings.seed)
    # TF32 only with --precision tf32. torch's defaults: matmul allow_tf32=False, but cudnn.allow_tf32=True
    # (convolutions on TF32 units unless told): both are set, so fp32 means IEEE float32 everywhere.
    tf32 = settings.precision == "tf32" or settings.tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    if settings.deterministic:
        torch.backends.cudnn.benchmark = False  # autotuning may pick a different kernel per run
    if settings.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: PyTorch sees no CUDA device")
    return settings.device


# ---------------------------------------------------------------- facts the workbench asks for

DTYPES = {"float32": "float32", "float64": "float64"}  # dtype asked -> dtype really computed
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}  # --precision -> torch.autocast's dtype
# --precision per device kind: None where it runs, else why not (measured with torch 2.13.0+cpu on this machine:
# CPU autocast trains in bfloat16 and float16 for Linear and Conv, but nn.LSTM in float16 raises "could not create
# a primitive descriptor for the LSTM forward propagation primitive" (oneDNN), and CPUs have no float16 matmul units)
PRECISIONS = {
    "cpu": {"fp32": None, "tf32": "TF32 is a CUDA matmul mode (Ampere and newer GPUs)", "bf16": None,
            "fp16": "float16 autocast on the CPU: no float16 LSTM in oneDNN and no float16 matmul units; use bf16"},
    "cuda": {"fp32": None, "tf32": None, "bf16": None, "fp16": None},
}  # fmt: skip
# eps placements run exactly, per optimizer family (AdamUncorrectedEps rescales eps per step; RMSprop adds eps outside only)
EPS_STYLES = {"adam": ("corrected", "uncorrected"), "rmsprop": ("outside",)}
HAS_GRADIENTS = True
UNBIASED_MOVING_VAR = True  # BatchNorm's running_var takes the unbiased (n - 1) batch variance
SUMMARY_TITLE = "(NCHW)"  # shown after the framework name


def unsupported(spec: TaskSpec) -> str | None:
    """PyTorch builds every layer of the spec vocabulary and torch.optim expresses every optimizer of the spec.

    (RMSprop with eps inside the square root runs with torch's eps outside it: EPS_STYLES says it is not exact.)
    """
    return None


def default_optimizer(name: str) -> OptimizerSpec | None:
    """What torch.optim gives for preset `name` with no arguments but lr (momentum: none by default)."""
    sgd = inspect.signature(torch.optim.SGD).parameters
    if name == "sgd":
        return OptimizerSpec(name="sgd", momentum=sgd["momentum"].default, dampening=sgd["dampening"].default)
    if name in ("momentum", "nesterov"):
        return None  # SGD(momentum=0) by default: a momentum value must be chosen
    if name == "rmsprop":
        rms = inspect.signature(torch.optim.RMSprop).parameters
        return OptimizerSpec(name="rmsprop", rho=rms["alpha"].default, eps=rms["eps"].default, eps_style="outside",
                             centered=rms["centered"].default, momentum=rms["momentum"].default)  # fmt: skip
    if name in ("adam", "adamw"):
        adam = inspect.signature(torch.optim.Adam if name == "adam" else torch.optim.AdamW).parameters
        beta_1, beta_2 = adam["betas"].default
        return OptimizerSpec(name="adam", beta_1=beta_1, beta_2=beta_2, eps=adam["eps"].default, eps_style="corrected",
                             weight_decay=adam["weight_decay"].default,
                             weight_decay_style="decoupled" if name == "adamw" else "l2")  # fmt: skip
    return None


def peak_gpu_mb() -> float | None:
    """Peak memory allocated by PyTorch's CUDA caching allocator in this process."""
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def _default(fn: object, name: str) -> object:
    return inspect.signature(fn).parameters[name].default


def _source_line(fn: object, needle: str) -> str:
    """The first code line of `fn` containing `needle` (e.g. torch's init call), read from the library."""
    for line in inspect.getsource(fn).splitlines():
        if needle in line and not line.strip().startswith("#"):
            return line.strip()
    return f"(no line with {needle!r} in {getattr(fn, '__qualname__', fn)})"


def defaults(spec: TaskSpec) -> dict[str, str]:
    """PyTorch's defaults for the topics of the differing-defaults table, read from the installed torch."""
    cells = {
        "kernel init (Dense, Conv)": _source_line(nn.Linear.reset_parameters, "kaiming_uniform_"),
        "bias init": _source_line(nn.Linear.reset_parameters, "init.uniform_(self.bias"),
        "BatchNorm momentum": f"{_default(nn.BatchNorm2d, 'momentum')} (weight of the NEW batch statistic)",
        "BatchNorm epsilon": str(_default(nn.BatchNorm2d, "eps")),
        "Adam epsilon": f"{_default(torch.optim.Adam, 'eps')}, added to sqrt(v_hat) (bias-corrected)",
        "SGD learning rate": str(_default(torch.optim.SGD, "lr")),
        "Conv2D padding": f"padding={_default(nn.Conv2d, 'padding')!r} (explicit pixels per side)",
        "image layout": "NCHW (channels first)",
        "Flatten order": "C, H, W",
        "Embedding init": _source_line(nn.Embedding.reset_parameters, "init.normal_"),
        "padding mask": "none (pack sequences to skip padding)",
        "LSTM biases": "two: bias_ih and bias_hh",
        "LSTM init": _source_line(nn.RNNBase.reset_parameters, "init.uniform_"),
        "GRU gates and biases": "gates r, z, n in weight_ih/weight_hh; two biases (bias_ih, bias_hh), reset after",
        "LayerNorm epsilon": str(_default(nn.LayerNorm, "eps")),
        "AveragePooling2D padded edges": f"count_include_pad={_default(nn.AvgPool2d, 'count_include_pad')} (pads counted)",
        "loss input": "nn.CrossEntropyLoss / BCEWithLogitsLoss take logits",
        "batching and shuffling": f"your own loop (DataLoader: batch_size={_default(DataLoader, 'batch_size')}, "
        f"shuffle={_default(DataLoader, 'shuffle')})",
        "RMSprop decay and epsilon": f"alpha={_default(torch.optim.RMSprop, 'alpha')}, eps={_default(torch.optim.RMSprop, 'eps')} "
        "outside the square root",
        "momentum velocity": f"v = momentum * v + (1 - dampening) * g, p -= lr * v (momentum={_default(torch.optim.SGD, 'momentum')}, "
        f"dampening={_default(torch.optim.SGD, 'dampening')})",
        "L2 penalty": f"Adam weight_decay={_default(torch.optim.Adam, 'weight_decay')} (L2 in the gradient); "
        f"AdamW weight_decay={_default(torch.optim.AdamW, 'weight_decay')} (decoupled, x lr)",
    }
    return cells


def source_names(spec: TaskSpec) -> dict[str, list[str]]:
    """The functions --explain shows for each role, with the helpers this spec needs."""
    uncorrected_adam = spec.optimizer.name == "adam" and spec.optimizer.eps_style == "uncorrected"
    return {
        "Build the model from the spec": ["build_model", *(["LastHidden"] if has_layer(spec, LSTM) else []),
                                          *(["GraphSequential", "Add"] if not is_chain(spec.model) else []),
                                          *(["LastHiddenGRU"] if has_layer(spec, GRU) else []),
                                          *(["ChannelsLastConv1d"] if has_layer(spec, Conv1D) else [])],
        "The optimizer": ["make_optimizer", *(["AdamUncorrectedEps"] if uncorrected_adam else [])],
        "The loss": ["make_loss"],
        "One training epoch": ["Network.fit_epoch"],
    }


def summary_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """(output shape, params) of every torch module: forward hooks on a dummy batch of 2, NCHW."""
    model = build_model(spec).eval()
    shapes: dict[int, tuple[int, ...]] = {}
    for i, child in enumerate(model):
        child.register_forward_hook(lambda _m, _in, out, i=i: shapes.__setitem__(i, tuple(out.shape[1:])))
    with torch.no_grad():
        model(_dummy_inputs(spec))
    cells = []
    for i, child in enumerate(model):
        trainable = sum(p.numel() for p in child.parameters() if p.requires_grad)
        state = sum(b.numel() for b in child.buffers())  # BatchNorm: running mean, var and num_batches_tracked
        cells.append((str(shapes[i]), f"{trainable:,}" + (f" + {state:,} state" if state else "")))
    return cells


def _dummy_inputs(spec: TaskSpec) -> torch.Tensor:
    shape = (2, *spec.model.input_shape)
    if spec.model.input_dtype == "int":
        return torch.zeros(shape, dtype=torch.long)
    X = np.zeros(shape, dtype=np.float32)
    return torch.as_tensor(layout.images_to_torch(X) if len(spec.model.input_shape) == 3 else X)


def create(spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL) -> "Network":
    """The row's object: PyTorch has the spec network only."""
    return Network(spec, settings, model)


# ---------------------------------------------------------------- the model


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


def build_model(spec: TaskSpec) -> nn.Sequential:
    """One torch module per spec layer, so module index i is spec layer i (NCHW inside)."""
    modules: list[nn.Module] = []
    for layer, (in_shape, _) in zip(spec.model.layers, layer_shapes(spec.model)):
        if isinstance(layer, Dense):
            modules.append(nn.Linear(in_shape[-1], layer.units))
        elif isinstance(layer, ReLU):
            modules.append(nn.ReLU())
        elif isinstance(layer, Conv2D):
            modules.append(nn.Conv2d(in_shape[-1], layer.filters, layer.kernel_size, padding=layer.padding))
        elif isinstance(layer, MaxPool2D):
            modules.append(nn.MaxPool2d(layer.pool_size))
        elif isinstance(layer, BatchNorm):
            # The spec's momentum already has PyTorch's meaning; eps is passed through.
            norm = nn.BatchNorm2d if len(in_shape) == 3 else nn.BatchNorm1d
            modules.append(norm(in_shape[-1], eps=layer.eps, momentum=layer.momentum))
        elif isinstance(layer, Flatten):
            modules.append(nn.Flatten())  # flattens C, H, W: layout.py permutes the next kernel
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.rate))
        elif isinstance(layer, Embedding):
            modules.append(nn.Embedding(layer.vocab_size, layer.dim))
        elif isinstance(layer, LSTM):
            modules.append(LastHidden(in_shape[-1], layer.units))
        elif isinstance(layer, GRU):
            modules.append(LastHiddenGRU(in_shape[-1], layer.units))
        elif isinstance(layer, Conv1D):
            modules.append(ChannelsLastConv1d(in_shape[-1], layer.filters, layer.kernel_size, padding=layer.padding))
        elif isinstance(layer, GlobalMaxPool1D):
            modules.append(GlobalMaxPool1d())
        elif isinstance(layer, AveragePooling2D):
            # the spec states the divisor at padded edges: torch's default count_include_pad=True counts the zeros
            modules.append(nn.AvgPool2d(layer.pool_size, layer.strides or layer.pool_size, layer.padding,
                                        count_include_pad=layer.count_include_pad))  # fmt: skip
        elif isinstance(layer, GlobalAveragePooling2D):
            modules.append(GlobalAvgPool2d())
        elif isinstance(layer, LayerNorm):
            modules.append(ChannelsLastLayerNorm(in_shape[-1], eps=layer.eps))  # torch's default eps is 1e-5, Keras' 1e-3
        elif isinstance(layer, AddLayer):
            modules.append(Add())
        else:
            raise TypeError(f"layer {layer!r} has no PyTorch builder")
    return nn.Sequential(*modules) if is_chain(spec.model) else GraphSequential(modules, layer_inputs(spec.model))


class AdamUncorrectedEps(torch.optim.Adam):
    """Keras' Adam: eps added to the uncorrected sqrt(v), with a bias-corrected step size.

    lr_t * m / (sqrt(v) + eps) with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) equals torch's
    lr * m_hat / (sqrt(v_hat) + eps_t) with eps_t = eps / sqrt(1 - b2^t): so this is torch.optim.Adam
    (and its fast multi-tensor path) with that epsilon set before each step.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float, weight_decay: float = 0.0,  # noqa: ANN001
                 decoupled_weight_decay: bool = False):  # fmt: skip
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay)
        self.keras_eps, self.steps = eps, 0

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201
        """One update of every parameter that has a gradient."""
        self.steps += 1
        for group in self.param_groups:
            group["eps"] = self.keras_eps / (1 - group["betas"][1] ** self.steps) ** 0.5
        return super().step(closure)


def make_optimizer(opt: OptimizerSpec, params) -> torch.optim.Optimizer:  # noqa: ANN001
    """The spec's optimizer, every number passed explicitly.

    torch's weight_decay= is L2 added to the gradient; AdamW (decoupled_weight_decay) shrinks the weights by
    lr * weight_decay * w first. Its momentum velocity holds no lr (v = momentum * v + g, p -= lr * v): the spec's
    "gradient" velocity; Network.set_learning_rate rescales it for the "step" velocity.
    """
    l2 = opt.weight_decay if opt.weight_decay_style == "l2" else 0.0
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening, nesterov=opt.nesterov,
                               weight_decay=l2)  # fmt: skip
    if opt.name == "rmsprop":
        # torch calls rho "alpha" (default 0.99) and adds eps outside the square root
        return torch.optim.RMSprop(params, lr=opt.lr, alpha=opt.rho, eps=opt.eps, weight_decay=l2, momentum=opt.momentum,
                                   centered=opt.centered)  # fmt: skip
    decoupled = opt.weight_decay_style == "decoupled"
    wd = decoupled_rate(opt) if decoupled else l2  # torch multiplies decoupled decay by the current lr
    betas = (opt.beta_1, opt.beta_2)
    if opt.eps_style == "corrected":
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        return cls(params, lr=opt.lr, betas=betas, eps=opt.eps, weight_decay=wd)
    return AdamUncorrectedEps(params, lr=opt.lr, betas=betas, eps=opt.eps, weight_decay=wd, decoupled_weight_decay=decoupled)


def make_loss(spec: TaskSpec) -> nn.Module:
    """Mean cross-entropy on logits (softmax for classes, sigmoid for one output), or mean squared error on the logit."""
    losses = {"cross_entropy": nn.CrossEntropyLoss, "binary_cross_entropy": nn.BCEWithLogitsLoss, "mse": nn.MSELoss}
    return losses[spec.model.loss]()


class Network:
    """The spec's network in PyTorch: explicit training loop over in-memory tensors."""

    kind = "network"

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL):
        self.spec, self.settings, self.model_name = spec, settings, model
        self.device = torch.device(settings.device)
        self.dtype = getattr(torch, settings.dtype)
        self.model: nn.Sequential | None = None
        self.loss_fn = make_loss(spec)
        self.images = len(spec.model.input_shape) == 3
        # Mixed precision (--precision bf16/fp16): float32 weights and optimizer, the forward pass under torch.autocast
        # (matmuls and convolutions in half precision, the loss in float32); fp16 scales the loss (GradScaler).
        self.autocast_dtype = AUTOCAST.get(settings.precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if settings.precision == "fp16" else None

    @property
    def model_label(self) -> str:
        """Model name shown in the table."""
        return "nn.Module + explicit loop" + (" + torch.compile" if self.settings.compile else "")

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """Create the module from the spec, load the canonical weights, create the optimizer."""
        self.model = build_model(self.spec).to(device=self.device, dtype=self.dtype)
        self.set_weights(weights)
        self.optimizer = make_optimizer(self.spec.optimizer, self.model.parameters())
        # The optional variant compiles the forward pass; compilation happens in the first steps.
        self.forward = torch.compile(self.model) if self.settings.compile else self.model

    def num_params(self) -> int:
        """Trainable parameters as PyTorch counts them."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def get_weights(self) -> Weights:
        """Every weight in the canonical layout."""
        state = {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}
        return layout.from_torch(self.spec.model, state)

    def set_weights(self, weights: Weights) -> None:
        """Copy canonical weights into the module's parameters and buffers."""
        targets = dict(self.model.named_parameters()) | dict(self.model.named_buffers())
        with torch.no_grad():
            for name, value in layout.to_torch(self.spec.model, weights).items():
                targets[name].copy_(torch.as_tensor(value))

    # -------------------------------------------------------------- data
    def _inputs(self, X: np.ndarray) -> torch.Tensor:
        if self.spec.model.input_dtype == "int":
            return torch.as_tensor(X, dtype=torch.long, device=self.device)
        X = layout.images_to_torch(X) if self.images else X
        return torch.as_tensor(X, device=self.device).to(self.dtype)

    def _targets(self, y: np.ndarray) -> torch.Tensor:
        if self.spec.model.loss == "cross_entropy":
            return torch.as_tensor(y, dtype=torch.long, device=self.device)
        y = mse_targets(y) if self.spec.model.loss == "mse" else y  # -1/+1 targets for the logit
        return torch.as_tensor(y, device=self.device).to(self.dtype).reshape(-1, 1)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Convert the training arrays to tensors on the device, once."""
        self.X, self.y = self._inputs(X), self._targets(y)

    # -------------------------------------------------------------- training
    def _autocast(self):  # noqa: ANN202 - a context manager
        """torch.autocast for bf16/fp16 rows; a no-op (enabled=False) for fp32 and tf32."""
        dtype = self.autocast_dtype or torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype, enabled=self.autocast_dtype is not None)

    def _step(self, X_batch: torch.Tensor, y_batch: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.loss_fn(self.forward(X_batch), y_batch)
        if self.scaler is not None:  # fp16: scale the loss so small gradients do not flush to zero, unscale before the step
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)  # skipped when a gradient is inf/NaN; the scale is then lowered
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return loss.detach()

    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver's per-epoch schedule).

        torch's momentum buffer holds no lr ("gradient" velocity). For the spec's "step" velocity (v holds
        lr * g, as in Keras) the buffer is rescaled by old lr / new lr, which is that velocity in torch's units.
        """
        for group in self.optimizer.param_groups:
            if self.spec.optimizer.velocity == "step" and group["lr"] != lr:
                for p in group["params"]:
                    buffer = self.optimizer.state.get(p, {}).get("momentum_buffer")
                    if buffer is not None:
                        buffer.mul_(group["lr"] / lr)
            group["lr"] = lr

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch over the training tensors in the shared order; mean loss over samples."""
        self.model.train()
        order_t = torch.as_tensor(order, device=self.device)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for batch in batch_slices(len(order), self.spec.train.batch_size):
            idx = order_t[batch]
            total += self._step(self.X[idx], self.y[idx]).double() * len(idx)
            on_batch(len(idx))
        return total.item() / len(order)  # one device sync per epoch, not per step

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch (used by the trajectory checks)."""
        self.model.train()
        return self._step(self._inputs(X), self._targets(y)).item()

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients; running statistics are left untouched."""
        saved = {k: v.clone() for k, v in self.model.state_dict().items()}
        self.model.train()
        self.model.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self._inputs(X)), self._targets(y))
        loss.backward()
        # frozen tensors (the LSTM's second bias) have no gradient: zeros, so the canonical sum is exact
        grads = {k: (p.grad if p.grad is not None else torch.zeros_like(p)).cpu().numpy() for k, p in self.model.named_parameters()}
        self.model.load_state_dict(saved)
        canonical = layout.from_torch(self.spec.model, grads)
        return loss.item(), {k: v for k, v in canonical.items() if is_trainable(k)}

    # -------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits in evaluation mode (BatchNorm uses running statistics, dropout off)."""
        self.model.eval()
        with self._autocast():
            outputs = [self.forward(self._inputs(X[i : i + EVAL_BATCH])) for i in range(0, len(X), EVAL_BATCH)]
        return torch.cat(outputs).float().cpu().numpy() if self.autocast_dtype else torch.cat(outputs).cpu().numpy()

    @torch.no_grad()
    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Every module's output for X (eval mode), mapped NCHW -> NHWC and C,H,W flatten -> H,W,C."""
        outputs: list[np.ndarray] = []
        hooks = [m.register_forward_hook(lambda mod, inp, out: outputs.append(out.detach().cpu().numpy())) for m in self.model]
        try:
            self.predict(X)
        finally:
            for hook in hooks:
                hook.remove()
        canonical = []
        for layer, (in_shape, _), out in zip(self.spec.model.layers, layer_shapes(self.spec.model), outputs):
            if out.ndim == 4:
                out = layout.images_from_torch(out)
            elif isinstance(layer, Flatten) and len(in_shape) == 3:
                out = layout.flat_features_from_torch(out, in_shape)
            canonical.append(out)
        return canonical


# ---------------------------------------------------------------- deployment

EXPORTS = {  # artifact -> what it is; the order is the export table's
    "state_dict.pt": Export("native eager", "torch.load(weights_only=True) + load_state_dict"),
    "model.pt2": Export("exported program", "torch.export.load"),
    "model.onnx": Export("ONNX Runtime", "onnxruntime.InferenceSession", ("onnx", "onnxscript", "onnxruntime")),
}


def _example(network: Network) -> tuple[torch.Tensor]:
    """A batch of 2 zeros: batch 1 would be specialised to a constant by torch.export (its 0/1 rule)."""
    dtype = np.int64 if network.spec.model.input_dtype == "int" else np.float32
    return (network._inputs(np.zeros((2, *network.spec.model.input_shape), dtype=dtype)),)


def _batch_dim() -> tuple[dict[int, torch.export.Dim]]:
    return ({0: torch.export.Dim("batch", min=1)},)  # a dynamic batch: latency at 1, throughput at 1024


def export(network: Network, artifact: str, path: str) -> str:
    """Write one artifact of the trained module, in evaluation mode (BatchNorm running statistics, no dropout)."""
    model = network.model.eval()  # exported in training mode, BatchNorm would normalise with each batch's statistics
    if artifact == "state_dict.pt":
        torch.save(model.state_dict(), path)
        return "torch.save(model.state_dict())"
    if artifact == "model.pt2":
        with warnings.catch_warnings():  # nn.LSTM: "tensor attributes ..._flat_weights were assigned during export"
            warnings.simplefilter("ignore", UserWarning)
            program = torch.export.export(model, _example(network), dynamic_shapes=_batch_dim())
        torch.export.save(program, path)
        return "torch.export.export + torch.export.save"
    if artifact == "model.onnx":
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" lines on stderr
        names = {"input_names": ["x"], "output_names": ["logits"]}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # external_data=False: by default the weights go to a second file, model.onnx.data, that a copy of
                # model.onnx alone leaves behind (the fallback below always writes one file)
                torch.onnx.export(model, _example(network), path, dynamo=True, dynamic_shapes=_batch_dim(), verbose=False,
                                  external_data=False, **names)  # fmt: skip
            return "torch.onnx.export(dynamo=True)"
        except Exception as exc:  # noqa: BLE001 - the TorchScript-based exporter is the documented fallback
            Path(path).unlink(missing_ok=True)
            Path(path + ".data").unlink(missing_ok=True)
            first = " ".join(str(exc).split())[:160]
            torch.onnx.export(model, _example(network), path, dynamo=False, dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, **names)
            return f"torch.onnx.export(dynamo=False) after dynamo=True failed: {type(exc).__name__}: {first}"
    raise ValueError(f"{NAME} has no artifact {artifact!r}")


def _onnx_inputs(spec: TaskSpec, X: np.ndarray) -> np.ndarray:
    """What the ONNX graph of the torch module takes: int64 token ids, or float32 images in NCHW."""
    if spec.model.input_dtype == "int":
        return X.astype(np.int64)
    return np.ascontiguousarray(layout.images_to_torch(X) if len(spec.model.input_shape) == 3 else X, dtype=np.float32)


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back with torch's own loader; predict(X) -> logits, X in the canonical layout."""
    network = Network(spec, settings)
    if artifact == "state_dict.pt":
        network.model = build_model(spec).to(dtype=network.dtype)
        network.model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))  # tensors only, no code
        network.forward = network.model
        return network.predict
    if artifact == "model.pt2":
        program = torch.export.load(path).module()  # a GraphModule: no .eval(), the graph was exported in eval mode
        return torch.no_grad()(lambda X: program(network._inputs(X)).cpu().numpy())
    if artifact == "model.onnx":
        return onnx_runtime.predictor(path, settings.threads, lambda X: _onnx_inputs(spec, X))
    raise ValueError(f"{NAME} has no artifact {artifact!r}")
