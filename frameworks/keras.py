"""Keras on TensorFlow: the shared Keras model (frameworks/keras_shared.py) with TensorFlow's own pieces.

Read it side by side with `frameworks/pytorch.py`: same public names, same order. What is
TensorFlow's here: tf.device placement, a tf.data pipeline for each epoch, IndexedSlices
gradients of Embedding made dense, and tf.GradientTape for the gradient checks.
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable

import numpy as np

from frameworks.base import SPEC_MODEL, THREADS_VAR, RunSettings, Weights, native_stderr_to

os.environ["KERAS_BACKEND"] = "tensorflow"  # this adapter is Keras on TensorFlow, whatever the user's default
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also hides tf.data "NodeDef mentions attribute" lines
if THREADS_VAR in os.environ:  # TensorFlow's thread pools start with the first op: set them before the import
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = os.environ[THREADS_VAR]
with native_stderr_to(os.path.join(tempfile.gettempdir(), "framebench-tensorflow.log")):
    import keras
    import tensorflow as tf

from frameworks import keras_augment, keras_shared  # noqa: E402 - after the backend is chosen
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
    summary_column,
    unsupported,
)
from tasks.spec import TaskSpec  # noqa: E402

keras_shared.require_backend("tensorflow")
NAME = "keras"


def version() -> str:
    """The framework's version string."""
    return f"{keras.__version__} (TensorFlow {tf.__version__})"


def devices() -> list[str]:
    """The devices TensorFlow sees, e.g. ["cpu", "cuda:0 NVIDIA H200"] (none with tensorflow-cpu)."""
    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return ["cpu", *(f"cuda:{i} {name}" for i, name in enumerate(names))]


def configure(settings: RunSettings) -> str:
    """Apply threads, determinism, seed and TF32 settings; return the device actually used."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(settings.threads)
        tf.config.threading.set_inter_op_parallelism_threads(settings.threads)
    except RuntimeError:  # TensorFlow already started in this process (tests run several adapters)
        pass
    keras_shared.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    # TensorFlow's default is on (TF32 matmuls and convolutions on Ampere+): off unless --precision tf32
    tf.config.experimental.enable_tensor_float_32_execution(settings.precision == "tf32" or settings.tf32)
    gpus = tf.config.list_physical_devices("GPU")
    device = ("cuda" if gpus else "cpu") if settings.device == "auto" else settings.device
    if device == "cuda":
        if not gpus:
            raise RuntimeError("--device cuda: TensorFlow sees no GPU (tensorflow-cpu is installed?)")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)  # take GPU memory as needed
    elif gpus:
        tf.config.set_visible_devices([], "GPU")
    return device


# ---------------------------------------------------------------- facts the workbench asks for

DTYPES = {"float32": "float32", "float64": "float64"}  # dtype asked -> dtype really computed
PRECISIONS = {  # --precision per device kind: None where it runs, else why not (Keras' mixed policies, keras_shared)
    "cpu": {"fp32": None, "tf32": "TF32 is a CUDA matmul mode (Ampere and newer GPUs)", "bf16": None, "fp16": None},
    "cuda": {"fp32": None, "tf32": None, "bf16": None, "fp16": None},
}
EPS_STYLES = keras_shared.EPS_STYLES
HAS_GRADIENTS = True
UNBIASED_MOVING_VAR = keras_shared.UNBIASED_MOVING_VAR
SUMMARY_TITLE = keras_shared.SUMMARY_TITLE


def peak_gpu_mb() -> float | None:
    """Peak memory TensorFlow allocated on the first GPU in this process."""
    if not tf.config.list_logical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def source_names(spec: TaskSpec) -> dict[str, list[str]]:
    """--explain's functions per role: the shared ones, with the optimizer classes TensorFlow's sparse gradients call for."""
    return keras_shared.source_names(spec, Network.dense_gradient)


def create(spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL) -> "Network":
    """The row's object: Keras has the spec network only."""
    return Network(spec, settings, model)


class Network(keras_shared.Network):
    """The shared Keras network on TensorFlow: tf.device placement and a tf.data pipeline."""

    dense_gradient = staticmethod(tf.convert_to_tensor)  # an Embedding's gradient is IndexedSlices: dense, repeated ids summed

    def placed(self):  # noqa: ANN201 - a context manager
        """Variables and steps on the row's device."""
        return tf.device("/GPU:0" if self.settings.device == "cuda" else "/CPU:0")

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


# ---------------------------------------------------------------- deployment

EXPORTS = {  # artifact -> what it is; the order is the export table's
    "model.keras": keras_shared.KERAS_FILE,
    "saved_model": keras_shared.SAVED_MODEL,
    "model.onnx": keras_shared.onnx_export("tf2onnx"),
}
export = keras_shared.export
augment_native = keras_augment.augment_native  # --augment native: Keras preprocessing layers


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back: the SavedModel with tf.saved_model.load, the others as every Keras backend does."""
    network = Network(spec, settings)
    if artifact == "saved_model":
        with network.placed():
            loaded = tf.saved_model.load(path)
        # Keep `loaded` itself alive: holding only `loaded.serve` lets Python free the object that owns the
        # variables, and the next call fails ("Called a function referencing variables which have been deleted").
        return lambda X: loaded.serve(tf.constant(network._inputs(X))).numpy()
    return keras_shared.load(artifact, path, spec, settings, network)
