"""PyTorch adapter: an `nn.Module` built from the spec, trained with an explicit loop.

Read it side by side with `frameworks/keras.py`: same public names, same order.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from frameworks import layout, pytorch_augment, pytorch_export, pytorch_layers, torch_runtime
from frameworks.pytorch_layers import Add, ChannelsLastConv1d, ChannelsLastLayerNorm, GlobalAvgPool2d, GlobalMaxPool1d
from frameworks.pytorch_layers import GraphSequential, LastHidden, LastHiddenGRU, attention_defaults, attention_module, attention_unsupported
from frameworks.pytorch_optimizers import AdamUncorrectedEps, compiled_step, make_optimizer  # noqa: F401 - --explain shows them from here
from frameworks.base import EVAL_BATCH, SPEC_MODEL, OnBatch, RunSettings, Weights
from frameworks.base import default_of as _default
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


def version() -> str:
    """The framework's version string."""
    return torch.__version__


devices = torch_runtime.devices
DETERMINISM = torch_runtime.DETERMINISM


def configure(settings: RunSettings) -> str:
    """Threads, determinism and TF32 (frameworks/torch_runtime.py), then torch's seed; the device kind actually used."""
    device = torch_runtime.configure(settings)
    torch.manual_seed(settings.seed)
    return device


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
MODES = {  # --mode: what each execution mode runs (the first is the default)
    "eager": "PyTorch eager: every op dispatched from Python as the loop reaches it",
    "compiled": "torch.compile of the training step (dynamo + inductor): the model's forward and backward, and the "
    "optimizer's update as compiled graphs (its lr a 0-d tensor, so a new per-epoch lr recompiles nothing)",
}
# eps placements run exactly, per optimizer family (AdamUncorrectedEps rescales eps per step; RMSprop adds eps outside only)
EPS_STYLES = {"adam": ("corrected", "uncorrected"), "rmsprop": ("outside",)}
HAS_GRADIENTS = True
UNBIASED_MOVING_VAR = True  # BatchNorm's running_var takes the unbiased (n - 1) batch variance
SUMMARY_TITLE = "(NCHW)"  # shown after the framework name


def unsupported(spec: TaskSpec) -> str | None:
    """PyTorch builds every layer of the spec vocabulary and torch.optim expresses every optimizer of the spec.

    (RMSprop with eps inside the square root runs with torch's eps outside it: EPS_STYLES says it is not exact.)
    """
    return attention_unsupported(spec)  # nn.MultiheadAttention's head size is width / heads


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


peak_gpu_mb = torch_runtime.peak_gpu_mb


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
        **attention_defaults(),  # GELU and attention, in frameworks/pytorch_layers.py
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
        elif (module := attention_module(layer, in_shape)) is not None:  # the transformer's layers: pytorch_layers.py
            modules.append(module)
        else:
            raise TypeError(f"layer {layer!r} has no PyTorch builder")
    return nn.Sequential(*modules) if is_chain(spec.model) else GraphSequential(modules, layer_inputs(spec.model))


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
        self.compiled, self.graphs = settings.mode == "compiled", 0  # graphs: training-step compilations so far

    @property
    def model_label(self) -> str:
        """Model name shown in the table."""
        return "nn.Module + explicit loop" + (" + torch.compile" if self.compiled else "") + (" (channels-last)" if self.images else "")

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """Create the module from the spec, load the canonical weights, create the optimizer."""
        # Images: 4-D weights in channels-last memory (NHWC, as the data arrive), so convolutions, pooling and BatchNorm
        # run oneDNN's channels-last kernels (docs/modes.md: CIFAR-10's eager step 1.38x faster on CPU); same values.
        memory = torch.channels_last if self.images else torch.preserve_format
        self.model = build_model(self.spec).to(device=self.device, dtype=self.dtype, memory_format=memory)
        self.set_weights(weights)
        self.optimizer = make_optimizer(self.spec.optimizer, self.model.parameters(), tensor_lr=self.compiled)
        # The compiled mode compiles the model (forward and, through AOTAutograd, backward) and the optimizer's update
        # in the first steps; fp16's GradScaler steps the optimizer itself, eagerly.
        self.forward = torch.compile(self.model) if self.compiled else self.model
        self.compiled_step = compiled_step(self.optimizer, self.dtype) if self.compiled else None

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
            self.compiled_step() if self.compiled_step else self.optimizer.step()
        return loss.detach()

    def compilations(self) -> int | None:
        """Graphs dynamo compiled for the training step so far (a new batch shape or a graph break adds one); None eager."""
        return self.graphs if self.compiled else None

    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver's per-epoch schedule).

        torch's momentum buffer holds no lr ("gradient" velocity). For the spec's "step" velocity (v holds
        lr * g, as in Keras) the buffer is rescaled by old lr / new lr, which is that velocity in torch's units.
        """
        for group in self.optimizer.param_groups:
            old = float(group["lr"])
            if self.spec.optimizer.velocity == "step" and old != lr:
                for p in group["params"]:
                    buffer = self.optimizer.state.get(p, {}).get("momentum_buffer")
                    if buffer is not None:
                        buffer.mul_(old / lr)
            if isinstance(group["lr"], torch.Tensor):  # the compiled mode's lr: changed in place, no recompilation
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch over the training tensors in the shared order; mean loss over samples."""
        self.model.train()
        order_t = torch.as_tensor(order, device=self.device)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        graphs = torch_runtime.graphs_compiled() if self.compiled else 0  # predict's own graphs are not counted
        for batch in batch_slices(len(order), self.spec.train.batch_size):
            idx = order_t[batch]
            total += self._step(self.X[idx], self.y[idx]).double() * len(idx)
            on_batch(len(idx))
        self.graphs += torch_runtime.graphs_compiled() - graphs if self.compiled else 0
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
        loss = self.loss_fn(self.forward(self._inputs(X)), self._targets(y))  # the row's mode: compiled or not
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


# ---------------------------------------------------------------- deployment (frameworks/pytorch_export.py)

EXPORTS = pytorch_export.EXPORTS
export = pytorch_export.export


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back with torch's own loader; predict(X) -> logits, X in the canonical layout."""
    return pytorch_export.load(artifact, path, Network(spec, settings), build_model)


augment_native = pytorch_augment.augment_native  # --augment native: torchvision, or the same ops in torch
attention_weights = pytorch_layers.attention_weights  # the attention maps: per-head weights of one review
