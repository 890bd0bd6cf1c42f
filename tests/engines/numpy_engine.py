"""A fourth engine, added with no project file edited: the spec's network trained in plain NumPy.

It is registered only through FRAMEBENCH_EXTRA_FRAMEWORKS (see tests/test_templates.py) and reuses
the float64 reference of tasks/reference.py for its forward and backward passes, with the spec's
optimizer (any of tasks/optimizers.py). It proves that the module protocol of
frameworks/base.py is all an engine needs: every template runs on it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from frameworks.base import SPEC_MODEL, OnBatch, RunSettings, Weights
from tasks import reference
from tasks.pipeline import batch_slices
from tasks.spec import Dropout, OptimizerSpec, TaskSpec, count_params, layer_shapes

NAME = "numpyref"


def version() -> str:
    """The engine's version: NumPy's."""
    return f"numpy {np.__version__}"


def devices() -> list[str]:
    """NumPy runs on the CPU."""
    return ["cpu"]


def configure(settings: RunSettings) -> str:
    """Nothing to set: threads come from the child's BLAS environment."""
    if settings.device == "cuda":
        raise RuntimeError("--device cuda: the NumPy engine runs on the CPU only")
    return "cpu"


DTYPES = {"float32": "float64", "float64": "float64"}  # the reference computes in float64, whatever is asked
EPS_STYLES = reference.EPS_STYLE_CHOICES  # every placement a spec may name: the reference runs them all
HAS_GRADIENTS = True
UNBIASED_MOVING_VAR = True
SUMMARY_TITLE = "(NHWC, NumPy)"


def unsupported(spec: TaskSpec) -> str | None:
    """Dropout would need random masks of its own: the reference runs it as identity only."""
    if any(isinstance(layer, Dropout) and layer.rate > 0 for layer in spec.model.layers):
        return "the NumPy reference runs Dropout as identity only"
    return None


def default_optimizer(name: str) -> OptimizerSpec | None:
    """No optimizer of its own: the spec's, as given."""
    return None


def peak_gpu_mb() -> float | None:
    """No GPU."""
    return None


def defaults(spec: TaskSpec) -> dict[str, str]:
    """It has no defaults of its own: everything comes from the spec."""
    return {"image layout": "NHWC (the canonical layout)", "loss input": "logits (tasks/reference.py)"}


def source_names(spec: TaskSpec) -> dict[str, list[str]]:
    """The code --explain shows."""
    return {"One training epoch": ["Network.fit_epoch"], "The optimizer": ["Network.step"]}


def summary_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """Output shapes from a real forward pass of two zero samples; parameters from the spec."""
    X = np.zeros((2, *spec.model.input_shape), dtype=np.int64 if spec.model.input_dtype == "int" else np.float64)
    from tasks.init import init_weights

    outputs = reference.forward_layers(spec.model, init_weights(spec.model, spec.init, 0), X)
    counts = [count_params(replace(spec.model, layers=(layer,), input_shape=in_shape, inputs=()))
              for layer, (in_shape, _) in zip(spec.model.layers, layer_shapes(spec.model))]  # fmt: skip
    return [(str(tuple(out.shape[1:])), f"{n:,}") for (_, out), n in zip(outputs, counts)]


def create(spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL) -> "Network":
    """Every row is the spec network."""
    return Network(spec, settings, model)


class Network:
    """The spec's network as NumPy arrays; one reference forward/backward per step."""

    kind = "network"
    model_label = "NumPy reference + explicit loop"

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str):
        self.spec, self.settings, self.lr, self.state = spec, settings, spec.optimizer.lr, None

    def build(self, weights: Weights) -> None:
        """Private float64 copies of the canonical weights."""
        self.weights = {k: np.array(v, dtype=np.float64) for k, v in weights.items()}

    def num_params(self) -> int:
        """Trainable scalars."""
        return sum(self.weights[k].size for k in reference.trainable_keys(self.spec.model))

    def get_weights(self) -> Weights:
        """The weights, canonical already."""
        return {k: v.copy() for k, v in self.weights.items()}

    def set_weights(self, weights: Weights) -> None:
        """Load canonical weights."""
        self.build(weights)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Keep the arrays."""
        self.X, self.y = X, y

    def set_learning_rate(self, lr: float) -> None:
        """The next steps use lr."""
        self.lr = lr

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        """Gradients from the reference, BatchNorm statistics updated, then the spec's optimizer."""
        opt = self.spec.optimizer
        loss, grads = reference.loss_and_gradients(self.spec.model, self.weights, X, y)
        moving = reference.batchnorm_moving_update(self.spec.model, self.weights, X, UNBIASED_MOVING_VAR)
        self.weights, self.state = reference.step(self.weights, grads, self.state, opt, self.lr)
        self.weights.update(moving)
        return float(loss)

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch over the shared order; mean loss over samples."""
        total = 0.0
        for batch in batch_slices(len(order), self.spec.train.batch_size):
            idx = order[batch]
            total += self.step(self.X[idx], self.y[idx]) * len(idx)
            on_batch(len(idx))
        return total / len(order)

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One step on one batch."""
        return self.step(X, y)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits in evaluation mode."""
        return reference.forward(self.spec.model, self.weights, X)

    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's output."""
        return [out for _, out in reference.forward_layers(self.spec.model, self.weights, X)]

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """The reference's loss and gradients."""
        return reference.loss_and_gradients(self.spec.model, self.weights, X, y)
