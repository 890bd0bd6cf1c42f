"""Keras on PyTorch (the engine "keras-torch"): only what is torch's; the adapter is frameworks/keras.py.

Read it side by side with keras_tensorflow.py and keras_jax.py: same names, same order. What is torch's here:
`fit` on NumPy arrays (no tf.data), torch's device (KERAS_TORCH_DEVICE), its runtime settings (shared with the
PyTorch engine: frameworks/torch_runtime.py), the gradient through torch autograd on the variables' torch tensors,
and Adam in torch._foreach ops.
"""

from __future__ import annotations

import os

import numpy as np

from frameworks.base import DEVICE_VAR, Weights

os.environ["KERAS_BACKEND"] = "torch"  # set before the first `import keras` in this process
if os.environ.get(DEVICE_VAR) == "cpu":
    os.environ["KERAS_TORCH_DEVICE"] = "cpu"  # Keras would otherwise take cuda whenever torch sees one
import keras  # noqa: E402
import torch  # noqa: E402
from keras.src.backend.torch.optimizers.torch_parallel_optimizer import TorchParallelOptimizer  # noqa: E402

from frameworks import keras_export, torch_runtime  # noqa: E402
from frameworks.keras_optimizers import AdamCorrectedEps, exact  # noqa: E402

NAME = "keras-torch"


def version() -> str:
    """The backend's name and version."""
    return f"torch {torch.__version__}"


devices = torch_runtime.devices
DETERMINISM = torch_runtime.DETERMINISM
configure = torch_runtime.configure  # threads, determinism, TF32 and the device kind (the adapter seeds)
# dtype asked -> dtype really computed. Keras 3.15.1 on torch hands out float64 arrays, but --check
# measured float32-sized errors in them (logits 5e-7, gradients 1e-7 against the float64 reference):
# float64 is computed in float32, without a warning.
DTYPES = {"float32": "float32", "float64": "float32"}
MODES = {  # --mode on torch: Keras' jit_compile="auto" runs eagerly on torch, so both are stated
    "eager": "Keras on torch eagerly (jit_compile=False): every Keras op a torch call from Python",
    "compiled": "jit_compile=True: Keras wraps its train, test and predict steps in torch.compile (dynamo + inductor)",
}
COMPILED_LABEL = " + torch.compile"  # what the model column adds in the compiled mode
peak_gpu_mb = torch_runtime.peak_gpu_mb


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
        m_correction = 1 - keras.ops.power(exact(self.beta_1, dtype), step)
        v_correction = 1 - keras.ops.power(exact(self.beta_2, dtype), step)
        torch._foreach_mul_(m, self.beta_1)
        torch._foreach_add_(m, grads, alpha=1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        step_sizes = torch._foreach_mul(m, keras.ops.cast(learning_rate, dtype) / m_correction)
        denominators = torch._foreach_add(torch._foreach_sqrt(torch._foreach_div(v, v_correction)), self.epsilon)
        torch._foreach_addcdiv_(weights, step_sizes, denominators, value=-1)


class Backend:
    """What the Keras Network does on torch: Adam in _foreach ops, gradients by torch autograd."""

    faster_optimizers = {AdamCorrectedEps: TorchAdamCorrectedEps}
    graphs = 0  # graphs dynamo compiled during `fit` so far (the compiled mode)

    def fit_epoch(self, order: np.ndarray, on_batch) -> float:  # noqa: ANN001 - OnBatch
        """The shared epoch of `fit`, counting the graphs torch.compile made for it (fit runs no other step)."""
        compiled = self.settings.mode == "compiled"
        before = torch_runtime.graphs_compiled() if compiled else 0
        loss = super().fit_epoch(order, on_batch)
        self.graphs += torch_runtime.graphs_compiled() - before if compiled else 0
        return loss

    def compilations(self) -> int | None:
        """Graphs dynamo compiled for Keras' train step so far (a new batch shape may add one); None eager."""
        return self.graphs if self.settings.mode == "compiled" else None

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


EXPORTS = {  # artifact -> what it is; the order is the export table's (no SavedModel: TensorFlow's)
    "model.keras": keras_export.KERAS_FILE,
    "model.onnx": keras_export.onnx_export("onnxscript"),
}
