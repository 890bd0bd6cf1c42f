"""Keras on JAX: the shared Keras model (frameworks/keras_shared.py) on the JAX backend.

Read it side by side with `frameworks/keras.py`. What is JAX's here: `fit` on NumPy arrays
(no tf.data), the gradient through `model.stateless_call` and `jax.value_and_grad`, and dtypes:
without `jax_enable_x64`, JAX computes float64 in float32, and Keras 3 says nothing about it.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from frameworks.base import DEVICE_VAR, THREADS_VAR, SPEC_MODEL, RunSettings, Weights

os.environ["KERAS_BACKEND"] = "jax"  # set before the first `import keras` in this process
if os.environ.get(DEVICE_VAR) == "cpu":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a CPU row never touches a GPU
if "xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):  # deterministic GPU reductions, read at start
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_gpu_deterministic_ops=true".strip()
if THREADS_VAR in os.environ:  # XLA's CPU thread pool, read when the backend starts (XLA_FLAGS' thread options do not limit it)
    os.environ["PJRT_NPROC"] = os.environ[THREADS_VAR]
import jax  # noqa: E402
import keras  # noqa: E402

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

keras_shared.require_backend("jax")
NAME = "keras-jax"


def version() -> str:
    """The framework's version string."""
    return f"{keras.__version__} (JAX {jax.__version__})"


def devices() -> list[str]:
    """The devices JAX sees, e.g. ["cpu", "cuda:0 NVIDIA H200"]."""
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    return ["cpu", *(f"cuda:{d.id} {d.device_kind}" for d in gpus)]


def configure(settings: RunSettings) -> str:
    """Seed, matmul precision; the device JAX really uses (threads come from the child's environment: XLA has no
    runtime setter; determinism from XLA_FLAGS, set before the import)."""
    # JAX's default matmul precision lets float32 matmuls and convolutions run in TF32 on a GPU: "highest" unless tf32
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if settings.precision == "tf32" else "highest")
    keras_shared.set_random_seed(settings.seed)
    has_gpu = len(devices()) > 1
    device = ("cuda" if has_gpu else "cpu") if settings.device == "auto" else settings.device
    if device == "cuda" and not has_gpu:
        raise RuntimeError("--device cuda: JAX sees no GPU (a CPU-only jaxlib is installed?)")
    return device


# ---------------------------------------------------------------- facts the workbench asks for

# Keras 3 on JAX without jax_enable_x64: float64 layers compute in float32 (the checks measure it).
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
    """Peak bytes in use on the first GPU, from JAX's device memory statistics."""
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    stats = gpus[0].memory_stats() if gpus else None
    return stats["peak_bytes_in_use"] / 2**20 if stats else None


def create(spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL) -> "Network":
    """The row's object: Keras has the spec network only."""
    return Network(spec, settings, model)


class Network(keras_shared.Network):
    """The shared Keras network on JAX: `fit` on NumPy arrays, gradients by jax.value_and_grad."""

    def jit_compile(self) -> bool:
        """Always: jit is how Keras runs on JAX. jit_compile=False runs every step op by op: measured on MNIST
        (5,000 images, 1 thread) 1.42 s per epoch, against 0.07-0.08 s for the plain Keras-JAX script's
        default ("auto", jitted); so there is no --compile variant to offer either."""
        return True

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients through the stateless model; no variable changes."""
        variables, keys = self.trainable_variables()
        trainable = [v.value for v in self.model.trainable_variables]
        frozen = [v.value for v in self.model.non_trainable_variables]
        X, y_true = self._inputs(X), self._targets(y)

        def loss_of(trainable_values: list) -> jax.Array:
            y_hat, _ = self.model.stateless_call(trainable_values, frozen, X, training=True)
            return self.loss_fn(y_true, y_hat)

        loss, grads = jax.value_and_grad(loss_of)(trainable)
        index = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        return float(loss), {k: np.asarray(grads[index[id(v)]]) for k, v in zip(keys, variables)}


# ---------------------------------------------------------------- deployment

EXPORTS = {  # artifact -> what it is; the order is the export table's (no SavedModel: TensorFlow's)
    "model.keras": keras_shared.KERAS_FILE,
    "model.onnx": keras_shared.onnx_export("jax2onnx"),
}
export = keras_shared.export
augment_native = keras_augment.augment_native  # --augment native: Keras preprocessing layers


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back as every Keras backend does (keras_shared.load)."""
    return keras_shared.load(artifact, path, spec, settings, Network(spec, settings))
