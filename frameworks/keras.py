"""Keras adapter (TensorFlow backend): a `keras.Sequential` built from the spec, trained with `fit`.

Read it side by side with `frameworks/pytorch.py`: same public names, same order.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from frameworks import layout
from frameworks.base import SPEC_MODEL, OnBatch, RunSettings, Weights, native_stderr_to
from tasks.spec import (
    LSTM,
    NON_TRAINABLE,
    PARAM_NAMES,
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
    layer_name,
    param_key,
)

os.environ["KERAS_BACKEND"] = "tensorflow"  # this adapter is Keras on TensorFlow, whatever the user's default
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also hides tf.data "NodeDef mentions attribute" lines
with native_stderr_to(os.path.join(tempfile.gettempdir(), "framebench-tensorflow.log")):
    import keras
    import tensorflow as tf
if keras.backend.backend() != "tensorflow":
    raise ImportError(f"Keras was already imported with the {keras.backend.backend()!r} backend")

NAME = "keras"
EVAL_BATCH = 1024  # samples per forward pass when predicting


def version() -> str:
    """The framework's version string."""
    return f"{keras.__version__} (TensorFlow {tf.__version__})"


def configure(settings: RunSettings) -> str:
    """Apply threads, determinism, seed and TF32 settings; return the device actually used."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(settings.threads)
        tf.config.threading.set_inter_op_parallelism_threads(settings.threads)
    except RuntimeError:  # TensorFlow already started in this process (tests run several adapters)
        pass
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(settings.tf32)
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


def build_model(spec: TaskSpec) -> keras.Sequential:
    """One Keras layer per spec layer, named like the canonical weights (NHWC inside)."""
    int_input = spec.model.input_dtype == "int"
    layers: list[keras.layers.Layer] = [keras.Input(shape=spec.model.input_shape, dtype="int32" if int_input else None)]
    for i, layer in enumerate(spec.model.layers):
        name = layer_name(i, layer)
        if isinstance(layer, Dense):
            layers.append(keras.layers.Dense(layer.units, name=name))
        elif isinstance(layer, ReLU):
            layers.append(keras.layers.ReLU(name=name))
        elif isinstance(layer, Conv2D):
            # "same" pads (k-1)/2 on each side for an odd kernel at stride 1: symmetric, as the spec says.
            if 2 * layer.padding != layer.kernel_size - 1:
                raise ValueError(f"{name}: padding {layer.padding} is not 'same' for kernel {layer.kernel_size}")
            layers.append(keras.layers.Conv2D(layer.filters, layer.kernel_size, padding="same", name=name))
        elif isinstance(layer, MaxPool2D):
            layers.append(keras.layers.MaxPooling2D(layer.pool_size, name=name))
        elif isinstance(layer, BatchNorm):
            # Keras' momentum is the weight of the OLD value: 1 - PyTorch's. Its default eps is 1e-3.
            layers.append(keras.layers.BatchNormalization(momentum=1 - layer.momentum, epsilon=layer.eps, name=name))
        elif isinstance(layer, Flatten):
            layers.append(keras.layers.Flatten(name=name))  # NHWC order, the canonical one
        elif isinstance(layer, Dropout):
            layers.append(keras.layers.Dropout(layer.rate, name=name))
        elif isinstance(layer, Embedding):
            # mask_zero=False: padding is handled by pre-padding, as in PyTorch (no packing there).
            layers.append(keras.layers.Embedding(layer.vocab_size, layer.dim, mask_zero=False, name=name))
        elif isinstance(layer, LSTM):
            # Keras' defaults stated, not assumed (the canonical weights overwrite the initializers
            # anyway); the spec's gate activations are sigmoid/tanh, as in torch.nn.LSTM.
            layers.append(
                keras.layers.LSTM(
                    layer.units,
                    activation="tanh",
                    recurrent_activation="sigmoid",
                    kernel_initializer="glorot_uniform",
                    recurrent_initializer="orthogonal",
                    unit_forget_bias=True,
                    name=name,
                )
            )
        else:
            raise TypeError(f"layer {layer!r} has no Keras builder")
    return keras.Sequential(layers, name=spec.name)


class AdamCorrectedEps(keras.optimizers.Adam):
    """Adam with eps added to the bias-corrected sqrt(v_hat), as torch.optim.Adam does."""

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """w -= lr * m_hat / (sqrt(v_hat) + eps)."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        # an Embedding's gradient is IndexedSlices; made dense here, repeated ids summed, as in PyTorch
        gradient = ops.cast(tf.convert_to_tensor(gradient), variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        # convert_to_tensor, not cast: ops.cast(0.999, "float64") goes through float32 (0.99900001287)
        beta_1 = ops.convert_to_tensor(self.beta_1, dtype=variable.dtype)
        beta_2 = ops.convert_to_tensor(self.beta_2, dtype=variable.dtype)
        m_hat = ops.divide(m, 1 - ops.power(beta_1, step))
        v_hat = ops.divide(v, 1 - ops.power(beta_2, step))
        self.assign_sub(variable, ops.divide(ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), self.epsilon)))


def make_optimizer(opt: OptimizerSpec) -> keras.optimizers.Optimizer:
    """The spec's optimizer; keras.optimizers.Adam adds eps to the uncorrected sqrt(v)."""
    if opt.name == "sgd":
        return keras.optimizers.SGD(learning_rate=opt.lr, momentum=opt.momentum)
    cls = AdamCorrectedEps if opt.eps_style == "corrected" else keras.optimizers.Adam
    return cls(learning_rate=opt.lr, beta_1=opt.beta_1, beta_2=opt.beta_2, epsilon=opt.eps)


def make_loss(spec: TaskSpec) -> keras.losses.Loss:
    """Mean cross-entropy on logits: from_logits=True, since the last layer has no softmax."""
    if spec.model.loss == "cross_entropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return keras.losses.BinaryCrossentropy(from_logits=True)


class _BatchProgress(keras.callbacks.Callback):
    """Reports each finished step's batch size to the shared progress bar."""

    def __init__(self, on_batch: OnBatch, num_samples: int, batch_size: int):
        super().__init__()
        self.on_batch, self.num_samples, self.batch_size = on_batch, num_samples, batch_size

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch(min(self.batch_size, self.num_samples - batch * self.batch_size))


class Adapter:
    """The spec's network in Keras: `model.fit` on NumPy arrays, one epoch per call."""

    name = NAME
    epochwise = True

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL):
        self.spec, self.settings, self.model_name = spec, settings, model
        self.device = "/GPU:0" if settings.device == "cuda" else "/CPU:0"
        self.dtype = settings.dtype
        self.model: keras.Sequential | None = None
        self.loss_fn = make_loss(spec)

    @property
    def model_label(self) -> str:
        """Model name shown in the table."""
        return "keras.Sequential + fit" + (" + XLA" if self.settings.compile else "")

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """Create the model from the spec, load the canonical weights, compile with the optimizer."""
        keras.config.set_floatx(self.dtype)  # layers take their dtype from floatx when created
        keras.config.set_dtype_policy(self.dtype)  # ...unless a policy was cached by an earlier build
        self.loss_fn = make_loss(self.spec)  # ...and so do losses: one made before computes in the old floatx
        with tf.device(self.device):
            self.model = build_model(self.spec)
            self.set_weights(weights)
            # jit_compile stated: XLA is an optional variant (--compile); PyTorch runs uncompiled too.
            self.model.compile(
                optimizer=make_optimizer(self.spec.optimizer), loss=self.loss_fn, jit_compile=self.settings.compile
            )

    def num_params(self) -> int:
        """Trainable parameters as Keras counts them."""
        return int(sum(np.prod(w.shape) for w in self.model.trainable_weights))

    def get_weights(self) -> Weights:
        """Every weight in the canonical layout."""
        named = {layer.name: layer.get_weights() for layer in self.model.layers if layer.weights}
        return layout.from_keras(self.spec.model, named)

    def set_weights(self, weights: Weights) -> None:
        """Load canonical weights into each named layer."""
        for name, values in layout.to_keras(self.spec.model, weights).items():
            self.model.get_layer(name).set_weights([np.asarray(v, dtype=self.dtype) for v in values])

    # -------------------------------------------------------------- data
    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return X.astype(np.int32) if self.spec.model.input_dtype == "int" else X.astype(self.dtype, copy=False)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return y if self.spec.model.loss == "cross_entropy" else y.astype(self.dtype).reshape(-1, 1)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Convert the training arrays to tensors on the device, once (fit on NumPy would copy them every call)."""
        self.X, self.y = self._inputs(X), self._targets(y)
        with tf.device(self.device):
            self.X_tensor, self.y_tensor = tf.constant(self.X), tf.constant(self.y)

    def epoch_data(self, order: np.ndarray) -> tf.data.Dataset:
        """The epoch's batches in the shared order: tf.data gathers them from the tensors, ahead of the step."""
        X, y = self.X_tensor, self.y_tensor
        batches = tf.data.Dataset.from_tensor_slices(order).batch(self.spec.train.batch_size)
        return batches.map(lambda idx: (tf.gather(X, idx), tf.gather(y, idx))).prefetch(tf.data.AUTOTUNE)

    # -------------------------------------------------------------- training
    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver's per-epoch schedule)."""
        self.model.optimizer.learning_rate.assign(lr)

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch of `fit` on a tf.data pipeline in the shared order; mean loss over samples.

        With a dataset, `fit` neither batches nor shuffles: the order comes from the shared seed.
        """
        batch_size = self.spec.train.batch_size
        with tf.device(self.device):
            history = self.model.fit(
                self.epoch_data(order),
                epochs=1,
                shuffle=False,  # the default True does nothing for a dataset but warn
                verbose=0,
                callbacks=[_BatchProgress(on_batch, len(order), batch_size)],
            )
        return float(history.history["loss"][-1])

    def fit_all(self, X: np.ndarray, y: np.ndarray, texts: tuple[str, ...] | None = None) -> int:
        """Not used: the network trains epoch by epoch."""
        raise NotImplementedError("the Keras adapter trains epoch by epoch")

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch (used by the trajectory checks)."""
        with tf.device(self.device):
            return float(self.model.train_on_batch(self._inputs(X), self._targets(y)))

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients; moving statistics are left untouched."""
        saved = self.get_weights()
        with tf.device(self.device), tf.GradientTape() as tape:
            loss = self.loss_fn(self._targets(y), self.model(self._inputs(X), training=True))
        variables, keys = [], []
        for i, layer in enumerate(self.spec.model.layers):
            names = [n for n in PARAM_NAMES.get(type(layer), ()) if n not in NON_TRAINABLE]
            variables += self.model.get_layer(layer_name(i, layer)).trainable_weights
            keys += [param_key(i, layer, n) for n in names]
        grads = tape.gradient(loss, variables)
        self.set_weights(saved)
        return float(loss), {k: tf.convert_to_tensor(g).numpy() for k, g in zip(keys, grads)}  # dense, also for Embedding

    # -------------------------------------------------------------- inference
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits in inference mode (BatchNorm uses moving statistics, dropout off)."""
        with tf.device(self.device):
            if len(X) <= EVAL_BATCH:
                return np.asarray(self.model.predict_on_batch(self._inputs(X)))
            return self.model.predict(self._inputs(X), batch_size=EVAL_BATCH, verbose=0)
