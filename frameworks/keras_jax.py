"""Keras on JAX (the engine "keras-jax"): only what is JAX's; the adapter is frameworks/keras.py.

Read it side by side with keras_tensorflow.py and keras_torch.py: same names, same order. What is JAX's here:
`fit` on NumPy arrays (no tf.data), always jitted, the gradient through `model.stateless_call` and
`jax.value_and_grad`, and dtypes: without `jax_enable_x64`, JAX computes float64 in float32, and Keras 3 says
nothing about it.
"""

from __future__ import annotations

import os

import numpy as np

from frameworks import jax_runtime  # XLA's environment, then jax; configure() before the first computation
from frameworks.base import RunSettings, Weights

os.environ["KERAS_BACKEND"] = "jax"  # set before the first `import keras` in this process
import jax  # noqa: E402

from frameworks import keras_export  # noqa: E402 - after the backend is chosen

NAME = "keras-jax"


def version() -> str:
    """The backend's name and version."""
    return f"JAX {jax.__version__}"


devices = jax_runtime.devices
DETERMINISM = jax_runtime.DETERMINISM


def configure(settings: RunSettings) -> str:
    """Threads, determinism, platform and matmul precision as the JAX engine sets them (frameworks/jax_runtime.py),
    before Keras' first computation; the device kind JAX really uses (the adapter seeds). No jax_enable_x64: DTYPES."""
    return jax_runtime.configure(settings)


# Keras 3 on JAX without jax_enable_x64: float64 layers compute in float32 (the checks measure it).
DTYPES = {"float32": "float32", "float64": "float32"}
MODES = {  # --mode on JAX: jit only (Backend.jit_compile says why there is no eager mode)
    "compiled": "jax.jit of Keras' train step (how Keras runs on JAX; XLA compiles it once per batch shape)",
}
COMPILED_LABEL = ""  # the model column says nothing more: every keras-jax row is jitted
peak_gpu_mb = jax_runtime.peak_gpu_mb


class Backend:
    """What the Keras Network does on JAX: always jitted, gradients by jax.value_and_grad."""

    def jit_compile(self) -> bool:
        """Always: jit is how Keras runs on JAX. jit_compile=False runs every step op by op: measured on MNIST
        (5,000 images, 1 thread) 1.42 s per epoch, against 0.07-0.08 s for the plain Keras-JAX script's
        default ("auto", jitted); so jit is its only --mode (compiled)."""
        return True

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients through the stateless model, jitted as Keras' own train step is
        (op by op, every primitive of the forward and backward pass compiles on its own: 23 s of a 59 s tiny-spec
        check); no variable changes."""
        variables, keys = self.trainable_variables()
        trainable = [v.value for v in self.model.trainable_variables]
        frozen = [v.value for v in self.model.non_trainable_variables]

        def loss_of(trainable_values: list, frozen_values: list, X: jax.Array, y_true: jax.Array) -> jax.Array:
            y_hat, _ = self.model.stateless_call(trainable_values, frozen_values, X, training=True)
            return self.loss_fn(y_true, y_hat)

        loss, grads = jax.jit(jax.value_and_grad(loss_of))(trainable, frozen, self._inputs(X), self._targets(y))
        index = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        return float(loss), {k: np.asarray(grads[index[id(v)]]) for k, v in zip(keys, variables)}


EXPORTS = {  # artifact -> what it is; the order is the export table's (no SavedModel: TensorFlow's)
    "model.keras": keras_export.KERAS_FILE,
    "model.onnx": keras_export.onnx_export("jax2onnx"),
}
