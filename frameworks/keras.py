"""Keras adapter for the three Keras engines: keras (on TensorFlow), keras-jax and keras-torch.

Read it side by side with `frameworks/pytorch.py`: same public names, same order. Keras fixes its backend at its
first import (KERAS_BACKEND, which the registry sets per engine); what differs per backend lives in one module each,
side by side: keras_tensorflow.py, keras_jax.py, keras_torch.py (devices, configure, dtypes, placement, the data
pipeline, autodiff, the artifacts). The optimizers framebench adds are in keras_optimizers.py, export in keras_export.py.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import warnings
from typing import Callable

import numpy as np

from frameworks.base import SPEC_MODEL, EVAL_BATCH, OnBatch, RunSettings, Weights, imports_hidden
from frameworks.base import default_of as _default

BACKEND = os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the registry sets it per engine
# `import keras` also imports scikit-learn (its wrappers; 2.1 s) and, on TensorFlow and torch, JAX (its Orbax callback;
# 1.6 s) when installed, guarded by `except ImportError`; this adapter uses neither, so its first import runs with them
# hidden: each Keras row starts 2.4 s (TensorFlow) to 3 s (torch) sooner. Both are importable again afterwards.
with imports_hidden(("sklearn",) if BACKEND == "jax" else ("sklearn", "jax")):
    if BACKEND == "jax":
        from frameworks import keras_jax as backend
    elif BACKEND == "torch":
        from frameworks import keras_torch as backend
    elif BACKEND == "tensorflow":
        from frameworks import keras_tensorflow as backend
    else:
        raise ImportError(f"KERAS_BACKEND={BACKEND!r}: framebench runs Keras on tensorflow, jax or torch")
import keras  # noqa: E402

from frameworks import keras_augment, keras_export, keras_layers, layout  # noqa: E402
from frameworks.keras_layers import attention_defaults, attention_layer, average_pooling, avg_pool_padding, graph_model, tf_same_pool_padding  # noqa: E402, F401
from frameworks.keras_optimizers import (  # noqa: E402, F401 - re-exported for --explain
    AdamCorrectedEps, AdamUncorrectedEps, RMSpropSpecEps, SGDExactMomentum, SpecAdam, SpecGradient, exact, make_optimizer,
)  # fmt: skip
from frameworks.tensorflow_log import set_random_seed  # noqa: E402
from tasks.reference import mse_targets  # noqa: E402
from tasks.spec import (  # noqa: E402
    GRU, LSTM, Add as AddLayer, AveragePooling2D, BatchNorm, Conv1D, Conv2D, Dense, Dropout, Embedding, Flatten,
    GlobalAveragePooling2D, GlobalMaxPool1D, LayerNorm, MaxPool2D, OptimizerSpec, ReLU, TaskSpec, is_chain, is_trainable, layer_inputs, layer_name, layer_shapes, param_key,
)  # fmt: skip

if keras.backend.backend() != BACKEND:  # Keras fixes its backend at the first `import keras`: one per process
    raise ImportError(f"Keras was already imported with the {keras.backend.backend()!r} backend, not {BACKEND!r}")
MIXED_POLICIES = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}  # --precision -> Keras dtype policy
NAME = backend.NAME


def version() -> str:
    """The framework's version string, with its backend's."""
    return f"{keras.__version__} ({backend.version()})"


devices = backend.devices
DETERMINISM = backend.DETERMINISM


def configure(settings: RunSettings) -> str:
    """The backend's threads, determinism and precision settings (its module), then the seed; the device kind used."""
    device = backend.configure(settings)
    set_random_seed(settings.seed)
    return device


# ---------------------------------------------------------------- facts the workbench asks for

DTYPES = backend.DTYPES  # dtype asked -> dtype really computed
PRECISIONS = {  # --precision per device kind: None where it runs, else why not (Keras' mixed policies, MIXED_POLICIES)
    "cpu": {"fp32": None, "tf32": "TF32 is a CUDA matmul mode (Ampere and newer GPUs)", "bf16": None, "fp16": None},
    "cuda": {"fp32": None, "tf32": None, "bf16": None, "fp16": None},
}
MODES = backend.MODES  # --mode: what each execution mode runs on this backend (the first is the default)
# eps placements run exactly, per family: Adam's torch style via AdamCorrectedEps, its Keras style via AdamUncorrectedEps
# on TensorFlow (exact in float64) and stock Adam on JAX and torch (exact in float32; their float64 is float32: their
# DTYPES); RMSprop both ways.
EPS_STYLES = {"adam": ("corrected", "uncorrected"), "rmsprop": ("outside", "inside")}
HAS_GRADIENTS = True  # each backend's autodiff: its Backend.loss_and_gradients
UNBIASED_MOVING_VAR = False  # BatchNormalization's moving_variance takes the biased batch variance
SUMMARY_TITLE = "(NHWC)"  # shown after the framework name


def unsupported(spec: TaskSpec) -> str | None:
    """Keras builds every layer of the spec vocabulary; what its optimizers cannot express, it says."""
    for layer, (in_shape, _) in zip(spec.model.layers, layer_shapes(spec.model)):
        if isinstance(layer, AveragePooling2D) and avg_pool_padding(layer, in_shape) is None:
            return f"Keras' AveragePooling2D 'same' pads {in_shape[:2]} asymmetrically, not {layer.padding} on each side"
    opt = spec.optimizer
    if opt.dampening:
        return "Keras' SGD has no dampening"
    return None


def default_optimizer(name: str) -> OptimizerSpec | None:
    """What keras.optimizers gives for preset `name` with no arguments but the learning rate."""
    if name in ("adam", "adamw"):
        adam = inspect.signature(keras.optimizers.Adam if name == "adam" else keras.optimizers.AdamW).parameters
        wd = adam["weight_decay"].default
        return OptimizerSpec(name="adam", beta_1=adam["beta_1"].default, beta_2=adam["beta_2"].default,
                             eps=adam["epsilon"].default, eps_style="uncorrected", weight_decay=wd or 0.0,
                             weight_decay_style="decoupled" if wd else "l2")  # fmt: skip
    if name == "sgd":
        sgd = inspect.signature(keras.optimizers.SGD).parameters
        return OptimizerSpec(name="sgd", momentum=sgd["momentum"].default, nesterov=sgd["nesterov"].default, velocity="step")
    if name in ("momentum", "nesterov"):
        return None  # SGD(momentum=0.0) by default: a momentum value must be chosen
    if name == "rmsprop":
        rms = inspect.signature(keras.optimizers.RMSprop).parameters
        return OptimizerSpec(name="rmsprop", rho=rms["rho"].default, eps=rms["epsilon"].default, eps_style="inside",
                             centered=rms["centered"].default, momentum=rms["momentum"].default, velocity="step")  # fmt: skip
    return None


peak_gpu_mb = backend.peak_gpu_mb


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
        "GRU gates and biases": f"gates z, r, h; reset_after={_default(keras.layers.GRU, 'reset_after')} (two biases)",
        "LayerNorm epsilon": str(_default(keras.layers.LayerNormalization, "epsilon")),
        "AveragePooling2D padded edges": f"padding={_default(keras.layers.AveragePooling2D, 'padding')!r}; 'same' never counts its pads",
        "loss input": f"{loss_cls.__name__} from_logits={_default(loss_cls, 'from_logits')} (expects probabilities)",
        "batching and shuffling": f"fit: batch_size {_fit_batch_size()}, shuffle={_default(keras.Model.fit, 'shuffle')}",
        "RMSprop decay and epsilon": f"rho={_default(keras.optimizers.RMSprop, 'rho')}, "
        f"epsilon={_default(keras.optimizers.RMSprop, 'epsilon')} inside the square root",
        "momentum velocity": f"v = momentum * v - lr * g, w += v (momentum={_default(keras.optimizers.SGD, 'momentum')})",
        "L2 penalty": f"Adam weight_decay={keras.optimizers.Adam().weight_decay}; AdamW "
        f"weight_decay={_default(keras.optimizers.AdamW, 'weight_decay')} (decoupled, x lr); no L2-in-gradient option",
        **attention_defaults(),  # GELU and attention, in frameworks/keras_layers.py
    }


def source_names(spec: TaskSpec) -> dict[str, list[str]]:
    """The functions --explain shows for each role, plus the optimizer classes this spec needs on this backend (one
    whose gradients can be sparse, TensorFlow's, picks framebench's Adam where JAX and torch use Keras')."""
    optimizer = make_optimizer(spec.optimizer, Network.dense_gradient)
    custom = [c.__name__ for c in type(optimizer).__mro__ if c.__module__ == make_optimizer.__module__]  # e.g. SpecAdam
    return {
        "Build the model from the spec": ["build_model", *(["graph_model"] if not is_chain(spec.model) else [])],
        "The optimizer": ["make_optimizer", *custom],
        "The loss": ["make_loss"],
        "One training epoch": ["Network.fit_epoch", "Network.epoch_data"],
    }


def summary_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """(output shape, params) of every Keras layer: its output shape and count_params()."""
    cells = []
    model = build_model(spec)
    for layer in (model.get_layer(layer_name(i, layer)) for i, layer in enumerate(spec.model.layers)):
        trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        state = layer.count_params() - trainable
        cells.append((str(tuple(int(d) for d in layer.output.shape[1:])), f"{trainable:,}" + (f" + {state:,} state" if state else "")))
    return cells


def create(spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL) -> "Network":
    """The row's object: Keras has the spec network only."""
    return Network(spec, settings, model)


# ---------------------------------------------------------------- the model


def build_model(spec: TaskSpec) -> keras.Sequential:
    """One Keras layer per spec layer, named like the canonical weights (NHWC inside)."""
    int_input = spec.model.input_dtype == "int"
    layers: list[keras.layers.Layer] = [keras.Input(shape=spec.model.input_shape, dtype="int32" if int_input else None)]
    for i, (layer, (in_shape, _)) in enumerate(zip(spec.model.layers, layer_shapes(spec.model))):
        name = layer_name(i, layer)
        if isinstance(layer, Dense):
            layers.append(keras.layers.Dense(layer.units, name=name))
        elif isinstance(layer, ReLU):
            layers.append(keras.layers.ReLU(name=name))
        elif isinstance(layer, Conv2D):
            # "same" pads (k-1)/2 on each side for an odd kernel at stride 1: symmetric, as the spec says; "valid" none;
            # any other padding is an explicit ZeroPadding2D before a "valid" convolution.
            same = 2 * layer.padding == layer.kernel_size - 1
            if layer.padding and not same:
                layers.append(keras.layers.ZeroPadding2D(layer.padding, name=f"{name}_padding"))
            layers.append(keras.layers.Conv2D(layer.filters, layer.kernel_size, padding="same" if same else "valid", name=name))
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
            layers.append(keras.layers.LSTM(layer.units, activation="tanh", recurrent_activation="sigmoid", kernel_initializer="glorot_uniform",
                                            recurrent_initializer="orthogonal", unit_forget_bias=True, name=name))  # fmt: skip
        elif isinstance(layer, GRU):
            # reset_after=True (Keras 3's default, stated): two biases, the reset gate applied after the recurrent
            # matmul, as torch.nn.GRU. Keras orders the gates z, r, h: the canonical order.
            layers.append(keras.layers.GRU(layer.units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, name=name))
        elif isinstance(layer, Conv1D):
            if layer.padding not in (0, (layer.kernel_size - 1) / 2):
                raise ValueError(f"{name}: padding {layer.padding} is neither 'valid' nor 'same' for kernel {layer.kernel_size}")
            layers.append(keras.layers.Conv1D(layer.filters, layer.kernel_size, padding="same" if layer.padding else "valid", name=name))
        elif isinstance(layer, GlobalMaxPool1D):
            layers.append(keras.layers.GlobalMaxPooling1D(name=name))
        elif isinstance(layer, AveragePooling2D):
            layers.append(average_pooling(layer, in_shape, name))
        elif isinstance(layer, GlobalAveragePooling2D):
            layers.append(keras.layers.GlobalAveragePooling2D(name=name))
        elif isinstance(layer, LayerNorm):
            layers.append(keras.layers.LayerNormalization(axis=-1, epsilon=layer.eps, name=name))  # Keras' default eps: 1e-3
        elif isinstance(layer, AddLayer):
            layers.append(keras.layers.Add(name=name))
        elif (built := attention_layer(layer, in_shape, name)) is not None:  # the transformer's: keras_layers.py
            layers.append(built)
        else:
            raise TypeError(f"layer {layer!r} has no Keras builder")
    if is_chain(spec.model):
        return keras.Sequential(layers, name=spec.name)
    return graph_model(layers[0], layers[1:], layer_inputs(spec.model), spec.name)


@contextlib.contextmanager
def quiet_array_warning():  # noqa: ANN201 - a context manager
    """Under a mixed policy, Keras 3.15.1 turns tensors into NumPy with np.array(x) (backend/torch/core.py
    convert_to_numpy: predictions, the lr, and fit's per-batch logs, e.g. with a LossScaleOptimizer on torch), which
    NumPy 2 answers with a DeprecationWarning about __array__'s copy keyword on every call: Keras' own, it would be
    the row's note."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy", category=DeprecationWarning)
        yield


def make_loss(spec: TaskSpec) -> keras.losses.Loss:
    """Mean cross-entropy on logits: from_logits=True, since the last layer has no softmax; or mean squared error."""
    if spec.model.loss == "cross_entropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if spec.model.loss == "mse":
        return keras.losses.MeanSquaredError()
    return keras.losses.BinaryCrossentropy(from_logits=True)


class _BatchProgress(keras.callbacks.Callback):
    """Reports each finished step's batch size to the shared progress bar."""

    def __init__(self, on_batch: OnBatch, num_samples: int, batch_size: int):
        super().__init__()
        self.on_batch, self.num_samples, self.batch_size = on_batch, num_samples, batch_size

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch(min(self.batch_size, self.num_samples - batch * self.batch_size))


class KerasNetwork:
    """The spec's network in Keras: `model.fit`, one epoch per call. Network mixes in the backend's own steps."""

    kind = "network"
    dense_gradient = None  # a backend whose gradients can be sparse (TensorFlow's IndexedSlices) makes them dense
    faster_optimizers: dict = {}  # framebench optimizer class -> the backend's own version of it (keras_torch)

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL):
        self.spec, self.settings, self.model_name = spec, settings, model
        self.dtype = settings.dtype
        self.model: keras.Sequential | None = None
        self.loss_fn = make_loss(spec)

    @property
    def model_label(self) -> str:
        """Model name shown in the table."""
        built = "keras.Sequential" if is_chain(self.spec.model) else "keras.Model (functional)"  # a graph spec
        return built + " + fit" + (backend.COMPILED_LABEL if self.settings.mode == "compiled" else "")

    def placed(self):  # noqa: ANN201 - a context manager
        """Where the model's variables and steps live (TensorFlow: tf.device; others: their default)."""
        return contextlib.nullcontext()

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """Create the model from the spec, load the canonical weights, compile with the optimizer."""
        keras.config.set_floatx(self.dtype)  # layers take their dtype from floatx when created
        # ...unless a policy was cached by an earlier build. --precision bf16/fp16: Keras' mixed policy (float32
        # variables, bfloat16/float16 compute; losses stay float32, as floatx)
        keras.config.set_dtype_policy(MIXED_POLICIES.get(self.settings.precision, self.dtype))
        self.loss_fn = make_loss(self.spec)  # ...and so do losses: one made before computes in the old floatx
        with self.placed():
            self.model = build_model(self.spec)
            self.set_weights(weights)
            optimizer = make_optimizer(self.spec.optimizer, self.dense_gradient, self.faster_optimizers)
            if self.settings.precision == "fp16":  # dynamic loss scaling, stated (compile would also add it for fp16)
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.model.compile(
                optimizer=optimizer,
                loss=self.loss_fn,
                jit_compile=self.jit_compile(),
            )

    def jit_compile(self) -> bool:
        """Keras' jit_compile, stated: on in the compiled mode (its backend's MODES say what that is)."""
        return self.settings.mode == "compiled"

    def uncompiled_copy(self) -> keras.Model:
        """A fresh model from the spec with these weights and no optimizer (what the .keras export saves)."""
        copy = build_model(self.spec)
        copy.set_weights(self.model.get_weights())
        return copy

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
            names = [n for n in layout.keras_param_names(layer) if is_trainable(param_key(i, layer, n))]  # Keras' order
            variables += self.model.get_layer(layer_name(i, layer)).trainable_weights
            keys += [param_key(i, layer, n) for n in names]
        return variables, keys

    # -------------------------------------------------------------- data
    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return X.astype(np.int32) if self.spec.model.input_dtype == "int" else X.astype(self.dtype, copy=False)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        if self.spec.model.loss == "cross_entropy":
            return y
        y = mse_targets(y) if self.spec.model.loss == "mse" else y  # -1/+1 targets for the logit
        return y.astype(self.dtype).reshape(-1, 1)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Keep the training arrays in the model's dtypes, once."""
        self.X, self.y = self._inputs(X), self._targets(y)

    def epoch_data(self, order: np.ndarray) -> dict:
        """`fit`'s data arguments for one epoch in the shared order: NumPy arrays gathered in that order."""
        return {"x": self.X[order], "y": self.y[order], "batch_size": self.spec.train.batch_size}

    # -------------------------------------------------------------- training
    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver's per-epoch schedule).

        Keras' momentum velocity holds lr ("step" velocity). For the spec's "gradient" velocity (v holds g, as in
        PyTorch) it is rescaled by new lr / old lr, which is that velocity in Keras' units.
        """
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)  # inside a LossScaleOptimizer
        with quiet_array_warning():
            old = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        if self.spec.optimizer.velocity == "gradient" and old != lr:
            for m in getattr(optimizer, "momentums", None) or getattr(optimizer, "_momentums", None) or []:
                m.assign(keras.ops.multiply(m, exact(lr / old, m.dtype)))
        optimizer.learning_rate.assign(lr)

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch of `fit` on the shared order; mean loss over samples.

        shuffle=False: the order comes from the shared seed, not from fit.
        """
        batch_size = self.spec.train.batch_size
        with self.placed(), quiet_array_warning():  # fit's per-batch logs go through convert_to_numpy too
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

    # -------------------------------------------------------------- inference
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits in inference mode (BatchNorm uses moving statistics, dropout off)."""
        with self.placed(), quiet_array_warning():
            if len(X) <= EVAL_BATCH:
                logits = np.asarray(self.model.predict_on_batch(self._inputs(X)))
            else:
                logits = np.asarray(self.model.predict(self._inputs(X), batch_size=EVAL_BATCH, verbose=0))
        return logits.astype(np.float32) if self.settings.precision in MIXED_POLICIES else logits  # half -> float32

    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for X from a Keras sub-model (inference mode); already canonical NHWC."""
        named = [self.model.get_layer(layer_name(i, layer)) for i, layer in enumerate(self.spec.model.layers)]  # spec order
        probe = keras.Model(self.model.inputs, [layer.output for layer in named])
        with self.placed():
            return [np.asarray(out) for out in probe.predict_on_batch(self._inputs(X))]


class Network(backend.Backend, KerasNetwork):
    """The shared Keras network with the backend's own steps (placement, data pipeline, autodiff: its Backend)."""


# ---------------------------------------------------------------- deployment (frameworks/keras_export.py)

EXPORTS = backend.EXPORTS
export = keras_export.export


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back with Keras' own loader, TensorFlow's (the SavedModel) or ONNX Runtime."""
    return keras_export.load(artifact, path, Network(spec, settings))


augment_native = keras_augment.augment_native  # --augment native: Keras preprocessing layers
attention_weights = keras_layers.attention_weights  # the attention maps: per-head weights of one review
