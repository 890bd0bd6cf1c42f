"""Keras on TensorFlow (the engine "keras"): only what is TensorFlow's; the adapter is frameworks/keras.py.

Read it side by side with keras_jax.py and keras_torch.py: same names, same order. What is TensorFlow's here:
its thread pools and op determinism, tf.device placement, a tf.data pipeline for each epoch, IndexedSlices
gradients of Embedding made dense, tf.GradientTape for the gradient checks, and the SavedModel export.
"""

from __future__ import annotations

import os

import numpy as np

from frameworks.base import THREADS_VAR, RunSettings, Weights, device_kind
from frameworks.tensorflow_log import native_stderr_to

os.environ["KERAS_BACKEND"] = "tensorflow"  # this module is Keras on TensorFlow, whatever the user's default
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also hides tf.data "NodeDef mentions attribute" lines
if THREADS_VAR in os.environ:  # TensorFlow's thread pools start with the first op: set them before the import
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = os.environ[THREADS_VAR]
with native_stderr_to():
    import keras  # noqa: F401 - its first import, on this backend
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # disable_op_determinism: not in tf.config

from frameworks import keras_export  # noqa: E402 - after the backend is chosen

NAME = "keras"


def version() -> str:
    """The backend's name and version."""
    return f"TensorFlow {tf.__version__}"


def devices() -> list[str]:
    """The devices TensorFlow sees, e.g. ["cpu", "cuda:0 NVIDIA H200"] (none with tensorflow-cpu)."""
    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return ["cpu", *(f"cuda:{i} {name}" for i, name in enumerate(names))]


DETERMINISM = {  # what configure() sets, per device kind
    "cpu": "tf.config.experimental.enable_op_determinism() (graph mode; the XLA mode runs without it, since Keras "
    "turns jit_compile off while it is on, and XLA's CPU programs run alike every time); intra- and inter-op threads "
    "set to --threads",
    "cuda": "tf.config.experimental.enable_op_determinism() (graph mode; the XLA mode: XLA_FLAGS "
    "--xla_gpu_deterministic_ops=true instead), TF32 off unless --precision tf32; an op without a deterministic GPU "
    "kernel raises: its row is an error row that names it",
}


def configure(settings: RunSettings) -> str:
    """Threads, determinism and TF32; the device kind actually used (the adapter seeds)."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(settings.threads)
        tf.config.threading.set_inter_op_parallelism_threads(settings.threads)
    except RuntimeError:  # TensorFlow already started in this process (tests run several adapters)
        pass
    xla_mode = settings.mode == "compiled"
    if settings.deterministic and xla_mode:
        # Keras silently runs jit_compile=True without XLA while op determinism is on (model_supports_jit in
        # keras/src/trainers/trainer.py): the XLA mode turns it off (on a GPU, XLA's deterministic ops instead: below)
        tf_config.disable_op_determinism()
    elif settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    # TensorFlow's default is on (TF32 matmuls and convolutions on Ampere+): off unless --precision tf32
    tf.config.experimental.enable_tensor_float_32_execution(settings.precision == "tf32" or settings.tf32)
    gpus = tf.config.list_physical_devices("GPU")
    device = device_kind(settings.device, bool(gpus), "TensorFlow sees no GPU (tensorflow-cpu is installed?)")
    if device == "cuda":
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)  # take GPU memory as needed
        if settings.deterministic and xla_mode and "--xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
            # read when XLA compiles its first program, after this
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_gpu_deterministic_ops=true".strip()
    elif gpus:
        tf.config.set_visible_devices([], "GPU")
    return device


DTYPES = {"float32": "float32", "float64": "float64"}  # dtype asked -> dtype really computed
MODES = {  # --mode on TensorFlow: Keras' default is a graph, not op-by-op eager; the compiled mode adds XLA
    "eager": "tf.function graph (Keras' default, jit_compile=False): the traced train step runs TensorFlow's own "
    "kernels one by one, no XLA (Keras' run_eagerly=True, true op-by-op eager, is not a mode here)",
    "compiled": "XLA (jit_compile=True): the traced train step compiled by XLA into fused kernels",
}
COMPILED_LABEL = " + XLA"  # what the model column adds in the compiled mode


def peak_gpu_mb() -> float | None:
    """Peak memory TensorFlow allocated on the first GPU in this process."""
    if not tf.config.list_logical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


class Backend:
    """What the Keras Network does on TensorFlow: tf.device placement, a tf.data pipeline, tf.GradientTape."""

    dense_gradient = staticmethod(tf.convert_to_tensor)  # an Embedding's gradient is IndexedSlices: dense, repeated ids summed

    def placed(self):  # noqa: ANN201 - a context manager
        """Variables and steps on the row's device."""
        return tf.device("/GPU:0" if self.settings.device == "cuda" else "/CPU:0")

    def build(self, weights: Weights) -> None:
        """The shared build, then Keras' train step wrapped to count its traces: its Python body runs only while
        tf.function traces it (once per input signature, with XLA or without)."""
        super().build(weights)
        step, self.traces = self.model.train_step, 0

        def counted_step(data):  # noqa: ANN001, ANN202 - Keras' (x, y) batch in, its logs out
            self.traces += 1
            return step(data)

        self.model.train_step = counted_step

    def compilations(self) -> int:
        """Traces of the training step so far (1: never retraced; a smaller last batch may add one)."""
        return self.traces

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Convert the training arrays to tensors on the device, once (fit on NumPy would copy them every call)."""
        super().set_train_data(X, y)
        with self.placed():
            self.X_tensor, self.y_tensor = tf.constant(self.X), tf.constant(self.y)

    def epoch_data(self, order: np.ndarray) -> dict:
        """The epoch's batches in the shared order: tf.data gathers them from the tensors, ahead of the step."""
        X, y = self.X_tensor, self.y_tensor
        batches = tf.data.Dataset.from_tensor_slices(order).batch(self.spec.train.batch_size)
        return {"x": batches.map(lambda idx: (tf.gather(X, idx), tf.gather(y, idx))).prefetch(tf.data.AUTOTUNE)}

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients (tf.GradientTape); moving statistics are left untouched."""
        saved = self.get_weights()
        variables, keys = self.trainable_variables()
        with self.placed(), tf.GradientTape() as tape:
            loss = self.loss_fn(self._targets(y), self.model(self._inputs(X), training=True))
        grads = tape.gradient(loss, variables)
        self.set_weights(saved)
        return float(loss), {k: tf.convert_to_tensor(g).numpy() for k, g in zip(keys, grads)}  # dense, also for Embedding


EXPORTS = {  # artifact -> what it is; the order is the export table's
    "model.keras": keras_export.KERAS_FILE,
    "saved_model": keras_export.SAVED_MODEL,
    "model.onnx": keras_export.onnx_export("tf2onnx"),
}
