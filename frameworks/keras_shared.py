"""The Keras model, optimizer, loss and Network class, written once for the three Keras backends.

Not an adapter itself: frameworks/keras.py (TensorFlow), keras_jax.py and keras_torch.py set
KERAS_BACKEND, import this module, and add only what differs per backend: the data pipeline,
device placement, dense gradients for Embedding, and `loss_and_gradients` (each backend's autodiff).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import tempfile
import warnings
from typing import Callable

import keras
import numpy as np

from frameworks import layout, onnx_runtime
from frameworks.base import SPEC_MODEL, Export, OnBatch, RunSettings, Weights, native_stderr_to
from tasks.optimizers import decoupled_rate
from tasks.reference import mse_targets
from tasks.spec import (
    GRU,
    LSTM,
    PARAM_NAMES,
    AveragePooling2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPool1D,
    LayerNorm,
    MaxPool2D,
    OptimizerSpec,
    ReLU,
    TaskSpec,
    is_chain,
    is_trainable,
    layer_inputs,
    layer_name,
    layer_shapes,
    param_key,
)
from tasks.spec import Add as AddLayer

EVAL_BATCH = 1024  # samples per forward pass when predicting
MIXED_POLICIES = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}  # --precision -> Keras dtype policy


TENSORFLOW_LOG = os.path.join(tempfile.gettempdir(), "framebench-tensorflow.log")  # TensorFlow's start-up lines


def set_random_seed(seed: int) -> None:
    """keras.utils.set_random_seed, with TensorFlow's start-up lines kept off stderr: in Keras 3.15.1 it
    imports TensorFlow to seed it whenever TensorFlow is installed, on every backend (rng_utils.py)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # ...and TensorFlow, once it starts a GPU, maps almost all of its memory: in a Keras-JAX or Keras-torch row that
    # memory belongs to the row's own backend, so TensorFlow takes only what it uses (not measured: no GPU here)
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    with native_stderr_to(TENSORFLOW_LOG):
        keras.utils.set_random_seed(seed)


def require_backend(name: str) -> None:
    """Keras fixes its backend at the first `import keras`: one process per backend."""
    if keras.backend.backend() != name:
        raise ImportError(f"Keras was already imported with the {keras.backend.backend()!r} backend, not {name!r}")


def tf_same_pool_padding(n: int, pool: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros that Keras' padding="same" adds to a pooled axis of length n (TensorFlow's rule)."""
    out = -(-n // stride)
    total = max((out - 1) * stride + pool - n, 0)
    return total // 2, total - total // 2


def avg_pool_padding(layer: AveragePooling2D, in_shape: tuple[int, ...]) -> str | None:
    """How Keras expresses the spec's average pooling: "valid", "same" (pads excluded from the divisor),
    "zero_pad" (explicit zeros, counted), or None when it cannot ('same' pads would be asymmetric here)."""
    if layer.padding == 0:
        return "valid"
    if layer.count_include_pad:
        return "zero_pad"  # ZeroPadding2D then a "valid" pool: the zeros are pixels, so they are counted
    stride = layer.strides or layer.pool_size
    symmetric = (layer.padding, layer.padding)
    return "same" if all(tf_same_pool_padding(n, layer.pool_size, stride) == symmetric for n in in_shape[:2]) else None


def _average_pooling(layer: AveragePooling2D, in_shape: tuple[int, ...], name: str) -> keras.layers.Layer:
    """The spec's AveragePooling2D: Keras' padding="same" never counts its pads, so counted pads are explicit zeros."""
    mode, stride = avg_pool_padding(layer, in_shape), layer.strides or layer.pool_size
    if mode is None:
        raise ValueError(f"{name}: Keras' 'same' pads {in_shape[:2]} asymmetrically, not {layer.padding} on each side")
    if mode == "zero_pad":
        return keras.Sequential([keras.layers.ZeroPadding2D(layer.padding),
                                 keras.layers.AveragePooling2D(layer.pool_size, stride, padding="valid")], name=name)  # fmt: skip
    return keras.layers.AveragePooling2D(layer.pool_size, stride, padding=mode, name=name)


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
            layers.append(_average_pooling(layer, in_shape, name))
        elif isinstance(layer, GlobalAveragePooling2D):
            layers.append(keras.layers.GlobalAveragePooling2D(name=name))
        elif isinstance(layer, LayerNorm):
            layers.append(keras.layers.LayerNormalization(axis=-1, epsilon=layer.eps, name=name))  # Keras' default eps: 1e-3
        elif isinstance(layer, AddLayer):
            layers.append(keras.layers.Add(name=name))
        else:
            raise TypeError(f"layer {layer!r} has no Keras builder")
    if is_chain(spec.model):
        return keras.Sequential(layers, name=spec.name)
    return graph_model(layers[0], layers[1:], layer_inputs(spec.model), spec.name)


def graph_model(inputs, layers: list, sources: list[tuple[int, ...]], name: str) -> keras.Model:  # noqa: ANN001 - a Keras tensor
    """The spec's graph form in Keras' functional API: layer i called on the outputs of layers `sources[i]` (-1: the input)."""
    outputs: list = []
    for layer, reads in zip(layers, sources):
        ins = [inputs if j < 0 else outputs[j] for j in reads]
        outputs.append(layer(ins if isinstance(layer, keras.layers.Add) else ins[0]))
    return keras.Model(inputs, outputs[-1], name=name)


@contextlib.contextmanager
def quiet_array_warning():  # noqa: ANN201 - a context manager
    """Under a mixed policy, Keras 3.15.1 turns tensors into NumPy with np.array(x) (backend/torch/core.py
    convert_to_numpy: predictions, the lr, and fit's per-batch logs, e.g. with a LossScaleOptimizer on torch), which
    NumPy 2 answers with a DeprecationWarning about __array__'s copy keyword on every call: Keras' own, it would be
    the row's note."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy", category=DeprecationWarning)
        yield


def exact(value: float, dtype: str):  # noqa: ANN201 - a backend tensor
    """A Python constant as a tensor of `dtype`. Not ops.cast: ops.cast(0.9, "float64") goes through float32
    (0.89999997615814), which stock keras.optimizers.SGD does to its momentum and Adam to its betas."""
    return keras.ops.convert_to_tensor(value, dtype=dtype)


class SpecGradient:
    """Mixin of framebench's Keras optimizers: the gradient made dense (a backend whose Embedding gradient is
    sparse sets `dense`), plus the spec's L2 term. Keras has no L2-in-gradient option: its weight_decay= is decoupled."""

    dense = staticmethod(lambda gradient: gradient)  # set per instance by make_optimizer
    l2 = 0.0  # the spec's weight_decay when its style is "l2"

    def spec_gradient(self, gradient, variable):  # noqa: ANN001, ANN201
        """dense(gradient) + l2 * variable, in the variable's dtype."""
        gradient = keras.ops.cast(self.dense(gradient), variable.dtype)
        if not self.l2:
            return gradient
        return keras.ops.add(gradient, keras.ops.multiply(exact(self.l2, variable.dtype), variable))


class SGDExactMomentum(SpecGradient, keras.optimizers.SGD):
    """Keras' SGD formula (v = momentum * v - lr * g; w += v; Nesterov w += momentum * v - lr * g), with the
    momentum exact in float64 and the spec's L2 term."""

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """One step of the formula above."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = self.spec_gradient(gradient, variable)
        if not self.momentum:
            self.assign_sub(variable, ops.multiply(gradient, lr))
            return
        m = self.momentums[self._get_variable_index(variable)]
        momentum = exact(self.momentum, variable.dtype)
        self.assign(m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, lr)))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, lr)))
        else:
            self.assign_add(variable, m)


class RMSpropSpecEps(SpecGradient, keras.optimizers.RMSprop):
    """Keras' RMSprop formula with eps where the spec puts it: outside the square root (PyTorch) or inside (Keras,
    `eps_inside`); momentum as Keras: m = momentum * m + lr * g / denominator, w -= m."""

    eps_inside = False

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """One step of the formula above."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = self.spec_gradient(gradient, variable)
        index = self._get_variable_index(variable)
        rho = exact(self.rho, variable.dtype)
        s = self._velocities[index]
        self.assign(s, ops.add(ops.multiply(rho, s), ops.multiply(1 - rho, ops.square(gradient))))
        variance = s
        if self.centered:
            g_avg = self._average_gradients[index]
            self.assign(g_avg, ops.add(ops.multiply(rho, g_avg), ops.multiply(1 - rho, gradient)))
            variance = ops.subtract(s, ops.square(g_avg))
        eps = exact(self.epsilon, variable.dtype)
        denominator = ops.sqrt(ops.add(variance, eps)) if self.eps_inside else ops.add(ops.sqrt(variance), eps)
        increment = ops.divide(ops.multiply(lr, gradient), denominator)
        if self.momentum > 0:
            m = self._momentums[index]
            self.assign(m, ops.add(ops.multiply(exact(self.momentum, variable.dtype), m), increment))
            self.assign_sub(variable, m)
        else:
            self.assign_sub(variable, increment)


class SpecAdam(SpecGradient, keras.optimizers.Adam):
    """Keras' Adam moments m and v from the spec's gradient (made dense, plus L2), the betas exact in float64; each
    subclass's `step(m, v, lr, 1 - b1^t, 1 - b2^t)` is the weight update, eps where its formula puts it."""

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """m += (1 - b1) (g - m); v += (1 - b2) (g^2 - v); w -= step(...)."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = self.spec_gradient(gradient, variable)
        t = ops.cast(self.iterations + 1, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        beta_1, beta_2 = exact(self.beta_1, variable.dtype), exact(self.beta_2, variable.dtype)
        self.assign_sub(variable, self.step(m, v, lr, 1 - ops.power(beta_1, t), 1 - ops.power(beta_2, t)))


class AdamUncorrectedEps(SpecAdam):
    """Keras' own Adam formula, eps added to the uncorrected sqrt(v). The stock class on TensorFlow updates m and v from
    an Embedding's IndexedSlices with repeated ids unsummed (the first step moves such a row by up to sqrt(count) x lr:
    docs/differences.md); this one gets the gradient dense."""

    def step(self, m, v, lr, correction_1, correction_2):  # noqa: ANN001, ANN201
        """lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)."""
        ops = keras.ops
        alpha = ops.divide(ops.multiply(lr, ops.sqrt(correction_2)), correction_1)
        return ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))


class AdamCorrectedEps(SpecAdam):
    """Adam with eps added to the bias-corrected sqrt(v_hat), as torch.optim.Adam does."""

    def step(self, m, v, lr, correction_1, correction_2):  # noqa: ANN001, ANN201
        """lr * m_hat / (sqrt(v_hat) + eps)."""
        ops = keras.ops
        m_hat, v_hat = ops.divide(m, correction_1), ops.divide(v, correction_2)
        return ops.divide(ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), self.epsilon))


def make_optimizer(opt: OptimizerSpec, dense=None, faster: dict | None = None) -> keras.optimizers.Optimizer:  # noqa: ANN001
    """The spec's optimizer, every number passed explicitly; `dense`: the backend's dense-gradient function;
    `faster`: a backend's own class for one of the classes below, same formula (Network.faster_optimizers).

    Stock keras.optimizers are used where they compute the spec's formula: plain SGD, and, where gradients are never
    sparse (dense is None: JAX, torch) and there is no L2, RMSprop with eps inside the square root and Adam with eps on
    the uncorrected sqrt(v) (its betas round through float32 in float64 runs, which those backends compute in float32
    anyway: docs/differences.md). Keras' weight_decay= is decoupled and multiplied by the current lr
    (base_optimizer._apply_weight_decay); L2 in the gradient is SpecGradient's.
    """
    faster = faster or {}
    l2 = opt.weight_decay if opt.weight_decay_style == "l2" else 0.0
    decoupled = decoupled_rate(opt) if opt.weight_decay and opt.weight_decay_style == "decoupled" else None
    if opt.name == "sgd":
        # Keras' velocity holds lr (v = momentum * v - lr * g): the spec's "step" velocity; Network.set_learning_rate
        # rescales it for "gradient". Keras has no dampening (unsupported says so).
        stock = not opt.momentum and not l2
        cls = keras.optimizers.SGD if stock else SGDExactMomentum
        optimizer = faster.get(cls, cls)(learning_rate=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov)
    elif opt.name == "rmsprop":
        # Keras puts eps inside the square root, and its rho is the spec's (PyTorch: alpha, default 0.99). Not the
        # stock class where gradients can be sparse: on TensorFlow it squares an Embedding's IndexedSlices slice by
        # slice, so a repeated id gets sum(g^2) instead of (sum g)^2 (docs/differences.md)
        stock = opt.eps_style == "inside" and not l2 and dense is None
        cls = keras.optimizers.RMSprop if stock else RMSpropSpecEps
        optimizer = faster.get(cls, cls)(learning_rate=opt.lr, rho=opt.rho, momentum=opt.momentum, epsilon=opt.eps, centered=opt.centered)
        if not stock:
            optimizer.eps_inside = opt.eps_style == "inside"
    else:
        # Keras' own Adam puts eps on the uncorrected sqrt(v) (torch: on the corrected one). Not the stock class where
        # gradients can be sparse (TensorFlow's IndexedSlices: an Embedding's repeated ids unsummed) or with L2
        stock = dense is None and not l2
        cls = AdamCorrectedEps if opt.eps_style == "corrected" else keras.optimizers.Adam if stock else AdamUncorrectedEps
        optimizer = faster.get(cls, cls)(learning_rate=opt.lr, beta_1=opt.beta_1, beta_2=opt.beta_2, epsilon=opt.eps, weight_decay=decoupled)
    if isinstance(optimizer, SpecGradient):
        optimizer.l2 = l2
        if dense is not None:
            optimizer.dense = dense
    return optimizer


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


class Network:
    """The spec's network in Keras: `model.fit`, one epoch per call. Each backend subclasses it."""

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
        return built + " + fit" + (" + XLA" if self.settings.compile else "")

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
        """Keras' jit_compile, stated: TensorFlow's XLA is the optional --compile variant (a backend may differ)."""
        return self.settings.compile

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

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and canonical gradients: each backend's own autodiff (see its module)."""
        raise TypeError(f"{type(self).__module__} does not define loss_and_gradients")

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


# ---------------------------------------------------------------- facts shared by the three backends

UNBIASED_MOVING_VAR = False  # BatchNormalization's moving_variance takes the biased batch variance
# eps placements run exactly, per family: Adam's torch style via AdamCorrectedEps, its Keras style via AdamUncorrectedEps
# on TensorFlow (exact in float64) and stock Adam on JAX and torch (exact in float32; their float64 is float32: their
# DTYPES); RMSprop both ways.
EPS_STYLES = {"adam": ("corrected", "uncorrected"), "rmsprop": ("outside", "inside")}
SUMMARY_TITLE = "(NHWC)"  # shown after the framework name


def unsupported(spec: TaskSpec) -> str | None:
    """Keras builds every layer of the spec vocabulary (a Conv2D needs 'same' padding, checked in build_model);
    what its optimizers cannot express, it says."""
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
    }


def source_names(spec: TaskSpec, dense=None) -> dict[str, list[str]]:  # noqa: ANN001
    """The functions --explain shows for each role, plus the helpers this spec needs on a backend whose gradients
    `dense` makes dense (make_optimizer's argument: TensorFlow's picks framebench's Adam where JAX and torch use Keras')."""
    optimizer = make_optimizer(spec.optimizer, dense)
    custom = [c.__name__ for c in type(optimizer).__mro__ if c.__module__ == __name__]  # e.g. AdamCorrectedEps, SpecAdam
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
