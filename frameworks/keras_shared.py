"""The Keras model, optimizer, loss and Network class, written once for the three Keras backends.

Not an adapter itself: frameworks/keras.py (TensorFlow), keras_jax.py and keras_torch.py set
KERAS_BACKEND, import this module, and add only what differs per backend: the data pipeline,
device placement, dense gradients for Embedding, and `loss_and_gradients` (each backend's autodiff).
"""

from __future__ import annotations

import contextlib
import inspect
import re
import warnings
from typing import Callable

import keras
import numpy as np

from frameworks import layout, onnx_runtime
from frameworks.base import SPEC_MODEL, Export, OnBatch, RunSettings, Weights
from tasks.spec import (
    LSTM,
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
    is_trainable,
    layer_name,
    param_key,
)

EVAL_BATCH = 1024  # samples per forward pass when predicting


def require_backend(name: str) -> None:
    """Keras fixes its backend at the first `import keras`: one process per backend."""
    if keras.backend.backend() != name:
        raise ImportError(f"Keras was already imported with the {keras.backend.backend()!r} backend, not {name!r}")


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

    def dense(self, gradient):  # noqa: ANN001, ANN201
        """The gradient as a dense tensor (a backend whose Embedding gradient is sparse overrides this)."""
        return gradient

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """w -= lr * m_hat / (sqrt(v_hat) + eps)."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(self.dense(gradient), variable.dtype)
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


def make_optimizer(opt: OptimizerSpec, corrected: type = AdamCorrectedEps) -> keras.optimizers.Optimizer:
    """The spec's optimizer; keras.optimizers.Adam adds eps to the uncorrected sqrt(v)."""
    if opt.name == "sgd":
        return keras.optimizers.SGD(learning_rate=opt.lr, momentum=opt.momentum)
    cls = corrected if opt.eps_style == "corrected" else keras.optimizers.Adam
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


class Network:
    """The spec's network in Keras: `model.fit`, one epoch per call. Each backend subclasses it."""

    kind = "network"
    corrected_adam: type = AdamCorrectedEps  # the backend's torch-style Adam

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL):
        self.spec, self.settings, self.model_name = spec, settings, model
        self.dtype = settings.dtype
        self.model: keras.Sequential | None = None
        self.loss_fn = make_loss(spec)

    @property
    def model_label(self) -> str:
        """Model name shown in the table."""
        return "keras.Sequential + fit" + (" + XLA" if self.settings.compile else "")

    def placed(self):  # noqa: ANN201 - a context manager
        """Where the model's variables and steps live (TensorFlow: tf.device; others: their default)."""
        return contextlib.nullcontext()

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """Create the model from the spec, load the canonical weights, compile with the optimizer."""
        keras.config.set_floatx(self.dtype)  # layers take their dtype from floatx when created
        keras.config.set_dtype_policy(self.dtype)  # ...unless a policy was cached by an earlier build
        self.loss_fn = make_loss(self.spec)  # ...and so do losses: one made before computes in the old floatx
        with self.placed():
            self.model = build_model(self.spec)
            self.set_weights(weights)
            # jit_compile stated: XLA is an optional variant (--compile) where the backend has one.
            self.model.compile(
                optimizer=make_optimizer(self.spec.optimizer, self.corrected_adam),
                loss=self.loss_fn,
                jit_compile=self.settings.compile,
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

    def trainable_variables(self) -> tuple[list, list[str]]:
        """The trainable variables in canonical order, and their canonical names."""
        variables, keys = [], []
        for i, layer in enumerate(self.spec.model.layers):
            names = [n for n in PARAM_NAMES.get(type(layer), ()) if is_trainable(param_key(i, layer, n))]
            variables += self.model.get_layer(layer_name(i, layer)).trainable_weights
            keys += [param_key(i, layer, n) for n in names]
        return variables, keys

    # -------------------------------------------------------------- data
    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return X.astype(np.int32) if self.spec.model.input_dtype == "int" else X.astype(self.dtype, copy=False)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return y if self.spec.model.loss == "cross_entropy" else y.astype(self.dtype).reshape(-1, 1)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Keep the training arrays in the model's dtypes, once."""
        self.X, self.y = self._inputs(X), self._targets(y)

    def epoch_data(self, order: np.ndarray) -> dict:
        """`fit`'s data arguments for one epoch in the shared order: NumPy arrays gathered in that order."""
        return {"x": self.X[order], "y": self.y[order], "batch_size": self.spec.train.batch_size}

    # -------------------------------------------------------------- training
    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver's per-epoch schedule)."""
        self.model.optimizer.learning_rate.assign(lr)

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch of `fit` on the shared order; mean loss over samples.

        shuffle=False: the order comes from the shared seed, not from fit.
        """
        batch_size = self.spec.train.batch_size
        with self.placed():
            history = self.model.fit(
                **self.epoch_data(order),
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=[_BatchProgress(on_batch, len(order), batch_size)],
            )
        return float(history.history["loss"][-1])

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch (used by the trajectory checks)."""
        with self.placed():
            return float(self.model.train_on_batch(self._inputs(X), self._targets(y)))

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients: each backend's own autodiff (see its module)."""
        raise TypeError(f"{type(self).__module__} does not define loss_and_gradients")

    # -------------------------------------------------------------- inference
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits in inference mode (BatchNorm uses moving statistics, dropout off)."""
        with self.placed():
            if len(X) <= EVAL_BATCH:
                return np.asarray(self.model.predict_on_batch(self._inputs(X)))
            return np.asarray(self.model.predict(self._inputs(X), batch_size=EVAL_BATCH, verbose=0))

    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for X from a Keras sub-model (inference mode); already canonical NHWC."""
        probe = keras.Model(self.model.inputs, [layer.output for layer in self.model.layers])
        with self.placed():
            return [np.asarray(out) for out in probe.predict_on_batch(self._inputs(X))]


# ---------------------------------------------------------------- facts shared by the three backends

UNBIASED_MOVING_VAR = False  # BatchNormalization's moving_variance takes the biased batch variance
# Adam eps styles run exactly: the torch style via AdamCorrectedEps; the stock keras.optimizers.Adam
# (uncorrected) rounds beta_1 and beta_2 through float32 in float64 runs (docs/differences.md).
ADAM_STYLES = ("corrected",)
SUMMARY_TITLE = "(NHWC)"  # shown after the framework name


def unsupported(spec: TaskSpec) -> str | None:
    """Keras builds every layer of the spec vocabulary (a Conv2D needs 'same' padding, checked in build_model)."""
    return None


def default_optimizer(name: str) -> OptimizerSpec | None:
    """What `keras.optimizers.Adam()` / `SGD()` give without arguments."""
    if name == "adam":
        adam = inspect.signature(keras.optimizers.Adam).parameters
        return OptimizerSpec(name="adam", beta_1=adam["beta_1"].default, beta_2=adam["beta_2"].default,
                             eps=adam["epsilon"].default, eps_style="uncorrected")  # fmt: skip
    if name == "sgd":
        return OptimizerSpec(name="sgd", momentum=inspect.signature(keras.optimizers.SGD).parameters["momentum"].default)
    return None


def _default(fn: object, name: str) -> object:
    return inspect.signature(fn).parameters[name].default


def _fit_batch_size() -> str:
    """Keras documents fit's batch_size default (the signature says None) in the docstring."""
    found = re.search(r"`batch_size`\s+will\s+default\s+to\s+(\d+)", inspect.getdoc(keras.Model.fit) or "")
    return found.group(1) if found else "(not documented)"


def defaults(spec: TaskSpec) -> dict[str, str]:
    """Keras' defaults for the topics of the differing-defaults table, read from fresh layers and signatures."""
    dense, bn, emb, lstm = keras.layers.Dense(1), keras.layers.BatchNormalization(), keras.layers.Embedding(2, 2), keras.layers.LSTM(1)
    loss_cls = keras.losses.SparseCategoricalCrossentropy if spec.model.loss == "cross_entropy" else keras.losses.BinaryCrossentropy
    return {
        "kernel init (Dense, Conv)": type(dense.kernel_initializer).__name__,
        "bias init": type(dense.bias_initializer).__name__,
        "BatchNorm momentum": f"{bn.momentum} (weight of the OLD running value)",
        "BatchNorm epsilon": str(bn.epsilon),
        "Adam epsilon": f"{_default(keras.optimizers.Adam, 'epsilon')}, added to sqrt(v) (uncorrected)",
        "SGD learning rate": str(_default(keras.optimizers.SGD, "learning_rate")),
        "Conv2D padding": f"padding={_default(keras.layers.Conv2D, 'padding')!r} ('same' or 'valid' only)",
        "image layout": f"{keras.config.image_data_format()} (NHWC)",
        "Flatten order": "H, W, C",
        "Embedding init": f"{type(emb.embeddings_initializer).__name__}"
        f"({emb.embeddings_initializer.minval}, {emb.embeddings_initializer.maxval})",
        "padding mask": f"Embedding mask_zero={emb.mask_zero}",
        "LSTM biases": "one bias",
        "LSTM init": f"recurrent {type(lstm.cell.recurrent_initializer).__name__}, unit_forget_bias={lstm.cell.unit_forget_bias}",
        "loss input": f"{loss_cls.__name__} from_logits={_default(loss_cls, 'from_logits')} (expects probabilities)",
        "batching and shuffling": f"fit: batch_size {_fit_batch_size()}, shuffle={_default(keras.Model.fit, 'shuffle')}",
        "L2 penalty": f"Adam weight_decay={keras.optimizers.Adam().weight_decay}",
    }


def source_names(spec: TaskSpec) -> dict[str, list[str]]:
    """The functions --explain shows for each role (the same for every backend), plus helpers this spec needs."""
    corrected_adam = spec.optimizer.name == "adam" and spec.optimizer.eps_style == "corrected"
    return {
        "Build the model from the spec": ["build_model"],
        "The optimizer": ["make_optimizer", *(["AdamCorrectedEps"] if corrected_adam else [])],
        "The loss": ["make_loss"],
        "One training epoch": ["Network.fit_epoch", "Network.epoch_data"],
    }


def summary_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """(output shape, params) of every Keras layer: its output shape and count_params()."""
    cells = []
    for layer in build_model(spec).layers:
        trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        state = layer.count_params() - trainable
        cells.append((str(tuple(int(d) for d in layer.output.shape[1:])), f"{trainable:,}" + (f" + {state:,} state" if state else "")))
    return cells


# ---------------------------------------------------------------- deployment, shared by the three backends

KERAS_FILE = Export("native (Keras predict)", "keras.saving.load_model(safe_mode=True)")  # a traced function on TF
SAVED_MODEL = Export("exported program", "tf.saved_model.load")  # TensorFlow backend only


def onnx_export(converter: str) -> Export:
    """The ONNX artifact; Keras converts through a different package on each backend."""
    return Export("ONNX Runtime", "onnxruntime.InferenceSession", ("onnx", converter, "onnxruntime"))


def export(network: Network, artifact: str, path: str) -> str:
    """Write one artifact of the trained model (the backends list which ones they can in EXPORTS)."""
    model = network.model
    with network.placed():
        if artifact == "model.keras":
            # A fresh, uncompiled copy: the compiled model's file names the torch-style Adam, an unregistered
            # class, and load_model cannot rebuild it ("Could not locate class 'TFAdamCorrectedEps'").
            copy = build_model(network.spec)
            copy.set_weights(model.get_weights())
            copy.save(path)
            return "keras.Model.save (an uncompiled copy: no optimizer)"
        if artifact == "saved_model":
            model.export(path, format="tf_saved_model", verbose=False)
            return "model.export(format='tf_saved_model')"
        if artifact == "model.onnx":
            # Keras exports only a model it has called: predict() on JAX runs stateless_call and leaves
            # model._called False ("The model provided has never called."), so call it once here.
            shape = (1, *network.spec.model.input_shape)
            model(network._inputs(np.zeros(shape, dtype=np.int64 if network.spec.model.input_dtype == "int" else np.float32)))
            with warnings.catch_warnings():  # tf2onnx's FutureWarning about np.object, on every export
                warnings.simplefilter("ignore", FutureWarning)
                model.export(path, format="onnx", verbose=False)
            return "model.export(format='onnx')"
    raise ValueError(f"Keras has no artifact {artifact!r}")


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings, network: Network) -> Callable[[np.ndarray], np.ndarray]:
    """Read a shared artifact back with Keras' own loader or ONNX Runtime; `network` is the backend's, unbuilt."""
    if artifact == "model.keras":
        network.model = keras.saving.load_model(path, safe_mode=True, compile=False)  # no lambda layers, no code
        return network.predict
    if artifact == "model.onnx":
        return onnx_runtime.predictor(path, settings.threads, network._inputs)  # NHWC floats, int32 ids: as Keras takes them
    raise ValueError(f"Keras has no artifact {artifact!r}")
