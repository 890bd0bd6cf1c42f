"""PyTorch adapter: an `nn.Module` built from the spec, trained with an explicit loop.

Read it side by side with `frameworks/keras.py`: same public names, same order.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from frameworks import layout
from frameworks.base import SPEC_MODEL, OnBatch, RunSettings, Weights
from tasks.pipeline import batch_slices
from tasks.spec import (
    LSTM,
    NON_TRAINABLE,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    MaxPool2D,
    OptimizerSpec,
    ReLU,
    TaskSpec,
    layer_shapes,
)

NAME = "pytorch"
EVAL_BATCH = 1024  # samples per forward pass when predicting


def version() -> str:
    """The framework's version string."""
    return torch.__version__


def configure(settings: RunSettings) -> str:
    """Apply threads, determinism, seed and TF32 settings; return the device actually used."""
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
    torch.backends.cuda.matmul.allow_tf32 = settings.tf32
    torch.backends.cudnn.allow_tf32 = settings.tf32
    if settings.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: PyTorch sees no CUDA device")
    return settings.device


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
        else:
            raise TypeError(f"layer {layer!r} has no PyTorch builder")
    return nn.Sequential(*modules)


class AdamUncorrectedEps(torch.optim.Adam):
    """Keras' Adam: eps added to the uncorrected sqrt(v), with a bias-corrected step size.

    lr_t * m / (sqrt(v) + eps) with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) equals torch's
    lr * m_hat / (sqrt(v_hat) + eps_t) with eps_t = eps / sqrt(1 - b2^t): so this is torch.optim.Adam
    (and its fast multi-tensor path) with that epsilon set before each step.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float):  # noqa: ANN001
        super().__init__(params, lr=lr, betas=betas, eps=eps)
        self.keras_eps, self.steps = eps, 0

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201
        """One update of every parameter that has a gradient."""
        self.steps += 1
        for group in self.param_groups:
            group["eps"] = self.keras_eps / (1 - group["betas"][1] ** self.steps) ** 0.5
        return super().step(closure)


def make_optimizer(opt: OptimizerSpec, params) -> torch.optim.Optimizer:  # noqa: ANN001
    """The spec's optimizer; torch.optim.Adam adds eps to the bias-corrected sqrt(v_hat)."""
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum)
    if opt.eps_style == "corrected":
        return torch.optim.Adam(params, lr=opt.lr, betas=(opt.beta_1, opt.beta_2), eps=opt.eps)
    return AdamUncorrectedEps(params, lr=opt.lr, betas=(opt.beta_1, opt.beta_2), eps=opt.eps)


def make_loss(spec: TaskSpec) -> nn.Module:
    """Mean cross-entropy on logits (softmax for classes, sigmoid for one output)."""
    return nn.CrossEntropyLoss() if spec.model.loss == "cross_entropy" else nn.BCEWithLogitsLoss()


class Adapter:
    """The spec's network in PyTorch: explicit training loop over in-memory tensors."""

    name = NAME
    epochwise = True

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL):
        self.spec, self.settings, self.model_name = spec, settings, model
        self.device = torch.device(settings.device)
        self.dtype = getattr(torch, settings.dtype)
        self.model: nn.Sequential | None = None
        self.loss_fn = make_loss(spec)
        self.images = len(spec.model.input_shape) == 3

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
        return torch.as_tensor(y, device=self.device).to(self.dtype).reshape(-1, 1)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Convert the training arrays to tensors on the device, once."""
        self.X, self.y = self._inputs(X), self._targets(y)

    # -------------------------------------------------------------- training
    def _step(self, X_batch: torch.Tensor, y_batch: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.forward(X_batch), y_batch)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver's per-epoch schedule)."""
        for group in self.optimizer.param_groups:
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

    def fit_all(self, X: np.ndarray, y: np.ndarray, texts: tuple[str, ...] | None = None) -> int:
        """Not used: the network trains epoch by epoch."""
        raise NotImplementedError("the PyTorch adapter trains epoch by epoch")

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
        return loss.item(), {k: v for k, v in canonical.items() if k.split(".")[1] not in NON_TRAINABLE}

    # -------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits in evaluation mode (BatchNorm uses running statistics, dropout off)."""
        self.model.eval()
        outputs = [self.forward(self._inputs(X[i : i + EVAL_BATCH])) for i in range(0, len(X), EVAL_BATCH)]
        return torch.cat(outputs).cpu().numpy()
