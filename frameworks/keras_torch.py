"""Keras on PyTorch: the shared Keras model (frameworks/keras_shared.py) on the torch backend.

Read it side by side with `frameworks/keras.py`. What is torch's here: `fit` on NumPy arrays
(no tf.data), torch's device (KERAS_TORCH_DEVICE), and the gradient through torch autograd on
the variables' torch tensors.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from frameworks.base import DEVICE_VAR, SPEC_MODEL, RunSettings, Weights

os.environ["KERAS_BACKEND"] = "torch"  # set before the first `import keras` in this process
if os.environ.get(DEVICE_VAR) == "cpu":
    os.environ["KERAS_TORCH_DEVICE"] = "cpu"  # Keras would otherwise take cuda whenever torch sees one
import keras  # noqa: E402
import torch  # noqa: E402
from keras.src.backend.torch.optimizers.torch_parallel_optimizer import TorchParallelOptimizer  # noqa: E402

from frameworks import keras_augment, keras_shared  # noqa: E402
from frameworks.keras_shared import (  # noqa: E402, F401 - the shared model, re-exported for --explain
    AdamCorrectedEps,
    AdamUncorrectedEps,
    RMSpropSpecEps,
    SGDExactMomentum,
    SpecAdam,
    SpecGradient,
    build_model,
    default_optimizer,
    defaults,
    graph_model,
    make_loss,
    make_optimizer,
    source_names,
    summary_column,
    unsupported,
)
from tasks.spec import TaskSpec  # noqa: E402

keras_shared.require_backend("torch")
NAME = "keras-torch"


def version() -> str:
    """The framework's version string."""
    return f"{keras.__version__} (torch {torch.__version__})"


def devices() -> list[str]:
    """The devices torch sees, e.g. ["cpu", "cuda:0 NVIDIA H200"]."""
    return ["cpu", *(f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count()))]


def configure(settings: RunSettings) -> str:
    """Threads, determinism and seed for torch under Keras; return the device actually used."""
    torch.set_num_threads(settings.threads)
    try:
        torch.set_num_interop_threads(settings.threads)
    except RuntimeError:  # already set once in this process
        pass
    if settings.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required by deterministic cuBLAS
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.utils.deterministic.fill_uninitialized_memory = False  # a debugging aid that costs time
    # TF32 only with --precision tf32 (torch's cudnn.allow_tf32 is True by default: convolutions would use it)
    tf32 = settings.precision == "tf32" or settings.tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    keras_shared.set_random_seed(settings.seed)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if settings.device == "auto" else settings.device
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA device")
    return device


# ---------------------------------------------------------------- facts the workbench asks for

# dtype asked -> dtype really computed. Keras 3.15.1 on torch hands out float64 arrays, but --check
# measured float32-sized errors in them (logits 5e-7, gradients 1e-7 against the float64 reference):
# float64 is computed in float32, without a warning.
DTYPES = {"float32": "float32", "float64": "float32"}
PRECISIONS = {  # --precision per device kind: None where it runs, else why not (Keras' mixed policies, keras_shared)
    "cpu": {"fp32": None, "tf32": "TF32 is a CUDA matmul mode (Ampere and newer GPUs)", "bf16": None, "fp16": None},
    "cuda": {"fp32": None, "tf32": None, "bf16": None, "fp16": None},
}
EPS_STYLES = keras_shared.EPS_STYLES
HAS_GRADIENTS = True
UNBIASED_MOVING_VAR = keras_shared.UNBIASED_MOVING_VAR
SUMMARY_TITLE = keras_shared.SUMMARY_TITLE


def peak_gpu_mb() -> float | None:
    """Peak memory allocated by torch's CUDA caching allocator in this process."""
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def create(spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL) -> "Network":
    """The row's object: Keras has the spec network only."""
    return Network(spec, settings, model)


class TorchAdamCorrectedEps(TorchParallelOptimizer, AdamCorrectedEps):
    """AdamCorrectedEps's formula in torch._foreach ops over all variables at once, as Keras' own torch Adam.

    Keras on torch runs a custom optimizer's update_step eagerly, variable by variable, a dozen Keras ops each;
    on the MNIST MLP that made an epoch 1.8x as long as stock Adam's (benchmarks/overhead.py found it).
    """

    def _parallel_update_step(self, grads, variables, learning_rate):  # noqa: ANN001, ANN201
        """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)."""
        dtype = variables[0].dtype
        weights = [v.value for v in variables]
        grads = [self.dense(g) for g in grads]
        if self.l2:
            grads = torch._foreach_add(grads, weights, alpha=self.l2)
        m = [self._momentums[self._get_variable_index(variable)].value for variable in variables]
        v = [self._velocities[self._get_variable_index(variable)].value for variable in variables]
        step = keras.ops.cast(self.iterations + 1, dtype)
        m_correction = 1 - keras.ops.power(keras_shared.exact(self.beta_1, dtype), step)
        v_correction = 1 - keras.ops.power(keras_shared.exact(self.beta_2, dtype), step)
        torch._foreach_mul_(m, self.beta_1)
        torch._foreach_add_(m, grads, alpha=1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        step_sizes = torch._foreach_mul(m, keras.ops.cast(learning_rate, dtype) / m_correction)
        denominators = torch._foreach_add(torch._foreach_sqrt(torch._foreach_div(v, v_correction)), self.epsilon)
        torch._foreach_addcdiv_(weights, step_sizes, denominators, value=-1)


class Network(keras_shared.Network):
    """The shared Keras network on torch: `fit` on NumPy arrays, gradients by torch autograd."""

    faster_optimizers = {AdamCorrectedEps: TorchAdamCorrectedEps}

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients; moving statistics are restored afterwards."""
        saved = self.get_weights()
        variables, keys = self.trainable_variables()
        for v in variables:
            v.value.grad = None
        loss = self.loss_fn(self._targets(y), self.model(self._inputs(X), training=True))
        loss.backward()
        grads = {k: v.value.grad.detach().cpu().numpy() for k, v in zip(keys, variables)}
        self.set_weights(saved)
        return float(loss.detach().cpu()), grads


# ---------------------------------------------------------------- deployment

EXPORTS = {  # artifact -> what it is; the order is the export table's (no SavedModel: TensorFlow's)
    "model.keras": keras_shared.KERAS_FILE,
    "model.onnx": keras_shared.onnx_export("onnxscript"),
}
export = keras_shared.export
augment_native = keras_augment.augment_native  # --augment native: Keras preprocessing layers


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back as every Keras backend does (keras_shared.load)."""
    return keras_shared.load(artifact, path, spec, settings, Network(spec, settings))
