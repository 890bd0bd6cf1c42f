"""JAX adapter: a Flax NNX module built from the spec, trained by an explicit loop over a `jax.jit` step.

Read it side by side with `frameworks/pytorch.py`: same public names, same order. Flax keeps the
canonical layouts (NHWC, Dense (in, out), Conv HWIO), so frameworks/layout.py only renames. What Keras on
JAX shares with it (XLA's environment, configure's settings, devices) is in jax_runtime.py; Flax layers in jax_layers.py.
"""

from __future__ import annotations

import contextlib
import functools
import inspect

import numpy as np

from frameworks import jax_runtime  # first: it sets XLA's environment, then imports jax
import jax  # noqa: E402, I001
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from flax import __version__ as flax_version, nnx  # noqa: E402

from frameworks import jax_augment, jax_layers, layout  # noqa: E402
from frameworks.base import EVAL_BATCH, SPEC_MODEL, OnBatch, RunSettings, Weights  # noqa: E402
from frameworks.base import default_of as _default  # noqa: E402
from frameworks.jax_layers import (  # noqa: E402, F401 - re-exported for --explain
    LastHidden, LastHiddenGRU, ResetAfterGRUCell, SpecModel, add, flatten, global_average_pool2d, global_max_pool1d,
    ATTENTION_LAYERS, ATTENTION_SOFTMAX, PaddingMaskedAttention, attention_defaults, attention_module,
)  # fmt: skip
from frameworks.jax_optimizers import NATIVE_VELOCITY, make_optimizer, scale_by_adam_uncorrected_eps, spec_optimizer  # noqa: E402, F401
from tasks.flops import train_flops  # noqa: E402
from tasks.pipeline import batch_slices  # noqa: E402
from tasks.reference import mse_targets  # noqa: E402
from tasks.spec import (  # noqa: E402
    GRU, LSTM, NON_TRAINABLE, AveragePooling2D, BatchNorm, Conv1D, Conv2D, Dense, Dropout, Embedding,
    Flatten, GlobalAveragePooling2D, GlobalMaxPool1D, LayerNorm, MaxPool2D, OptimizerSpec, ReLU, TaskSpec, is_chain, layer_inputs, layer_shapes,
)  # fmt: skip
from tasks.spec import Add as AddLayer  # noqa: E402

NAME = "jax"


def version() -> str:
    """The framework's version string."""
    return f"{jax.__version__} (Flax {flax_version}, optax {optax.__version__})"


devices = jax_runtime.devices
DETERMINISM = jax_runtime.DETERMINISM


def configure(settings: RunSettings) -> str:
    """Threads, determinism, platform and matmul precision as Keras on JAX sets them (jax_runtime.py), then float64;
    return the device kind actually used. This runs before any JAX work in the row's child process."""
    # JAX computes in float32 by default and silently turns float64 arrays into float32: float64
    # needs jax_enable_x64, which is process-wide, so it is on exactly when float64 is asked for.
    jax.config.update("jax_enable_x64", settings.dtype == "float64")
    # JAX has no global seed: dropout keys come from nnx.Rngs(settings.seed) in Network.
    return jax_runtime.configure(settings)


# ---------------------------------------------------------------- facts the workbench asks for

DTYPES = {"float32": "float32", "float64": "float64"}  # dtype asked -> dtype really computed (x64 on for float64)
# --precision per device kind: None where it runs, else why not. Flax NNX has no mixed-precision policy: bf16 is each
# layer's dtype=bfloat16 (compute) with param_dtype=float32 (master weights, gradients, optax state), the loss in
# float32 (COMPUTE_DTYPES). fp16 would also need loss scaling written by hand (optax has none): not written yet.
COMPUTE_DTYPES = {"bf16": jnp.bfloat16}
NO_FP16 = "fp16 needs loss scaling, which optax does not have and framebench's Flax adapter does not write yet"
PRECISIONS = {
    "cpu": {"fp32": None, "tf32": "TF32 is a CUDA matmul mode (Ampere and newer GPUs)", "bf16": None, "fp16": NO_FP16},
    "cuda": {"fp32": None, "tf32": None, "bf16": None, "fp16": NO_FP16},
}
MODES = {  # --mode: what each execution mode runs (jax.jit first, the default)
    "compiled": "jax.jit of the whole training step (forward, backward, optax update): XLA compiles it once per "
    "batch shape, a smaller last batch once more (its compilations count shows it)",
    "eager": "op by op under jax.disable_jit (for teaching, small networks only): every jnp call dispatched from "
    "Python, nothing compiled as one program",
}
OP_BY_OP_MAX_FLOPS = 100_000  # training FLOPs per sample above which op by op is refused: digits (28,608) runs, mnist (1.4M) not


def mode_unsupported(spec: TaskSpec, mode: str) -> str | None:
    """Why the spec's network cannot run in `mode`: op by op is for teaching on small networks, else None."""
    if mode != "eager" or (flops := train_flops(spec.model)) <= OP_BY_OP_MAX_FLOPS:
        return None
    return (f"op-by-op JAX (--mode eager) is for small networks: this one needs {flops:,} training FLOPs per sample, "
            f"above {OP_BY_OP_MAX_FLOPS:,}; use --mode compiled")  # fmt: skip


# eps placements run exactly, per family: optax.adam and scale_by_adam_uncorrected_eps; optax.rmsprop's eps_in_sqrt
EPS_STYLES = {"adam": ("corrected", "uncorrected"), "rmsprop": ("outside", "inside")}
HAS_GRADIENTS = True
UNBIASED_MOVING_VAR = False  # nnx.BatchNorm's running var takes the biased batch variance (measured)
SUMMARY_TITLE = "(Flax NNX, NHWC)"  # shown after the framework name
SUPPORTED = (Dense, ReLU, Conv2D, MaxPool2D, BatchNorm, Flatten, Dropout, Embedding, LSTM,
             GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, LayerNorm, AddLayer, *ATTENTION_LAYERS)


def unsupported(spec: TaskSpec) -> str | None:
    """Why this adapter cannot build the spec's network or express its optimizer, or None."""
    missing = sorted({type(layer).__name__ for layer in spec.model.layers if not isinstance(layer, SUPPORTED)})
    if missing:
        return f"no Flax builder for {', '.join(missing)}"
    if spec.optimizer.dampening:
        return "optax.sgd's trace has no dampening"
    return None


def default_optimizer(name: str) -> OptimizerSpec | None:
    """What optax gives for preset `name` with no arguments but the learning rate."""
    if name in ("adam", "adamw"):
        fn = optax.adam if name == "adam" else optax.adamw
        # eps_root (inside the sqrt) is 0 by default, so eps is added to sqrt(v_hat): torch's placement
        style = "corrected" if _default(fn, "eps_root") == 0 else "eps_root inside sqrt"
        wd = _default(optax.adamw, "weight_decay") if name == "adamw" else 0.0
        return OptimizerSpec(
            name="adam", beta_1=_default(fn, "b1"), beta_2=_default(fn, "b2"), eps=_default(fn, "eps"), eps_style=style,
            weight_decay=wd, weight_decay_style="decoupled" if name == "adamw" else "l2",
        )  # fmt: skip
    if name == "sgd":
        return OptimizerSpec(name="sgd", momentum=_default(optax.sgd, "momentum") or 0.0)  # None: no momentum
    if name in ("momentum", "nesterov"):
        return None  # optax.sgd(momentum=None) by default: a momentum value must be chosen
    if name == "rmsprop":
        momentum = _default(optax.rmsprop, "momentum") or 0.0
        return OptimizerSpec(name="rmsprop", rho=_default(optax.rmsprop, "decay"), eps=_default(optax.rmsprop, "eps"),
                             eps_style="inside" if _default(optax.rmsprop, "eps_in_sqrt") else "outside",
                             centered=_default(optax.rmsprop, "centered"), momentum=momentum, velocity="step")  # fmt: skip
    return None


peak_gpu_mb = jax_runtime.peak_gpu_mb
_initializer = jax_layers.initializer_words  # a jax.nn.initializers function in words


def defaults(spec: TaskSpec) -> dict[str, str]:
    """Flax NNX's and optax's defaults for the differing-defaults table, read from the installed libraries."""
    cell = nnx.OptimizedLSTMCell(1, 1, rngs=nnx.Rngs(0))
    init = nnx.OptimizedLSTMCell.__init__
    sgd_lr = _default(optax.sgd, "learning_rate")
    return {
        "kernel init (Dense, Conv)": _initializer(_default(nnx.Linear.__init__, "kernel_init")),
        "bias init": _initializer(_default(nnx.Linear.__init__, "bias_init")),
        "BatchNorm momentum": f"{_default(nnx.BatchNorm.__init__, 'momentum')} (weight of the OLD running value)",
        "BatchNorm epsilon": str(_default(nnx.BatchNorm.__init__, "epsilon")),
        "Adam epsilon": f"{_default(optax.adam, 'eps')}, added to sqrt(v_hat) (bias-corrected); "
        f"eps_root={_default(optax.adam, 'eps_root')} inside the sqrt",
        "SGD learning rate": "required (no default)" if sgd_lr is inspect.Parameter.empty else str(sgd_lr),
        "Conv2D padding": f"padding={_default(nnx.Conv.__init__, 'padding')!r} (or explicit (low, high) pairs)",
        "image layout": "NHWC (channels last; nnx.Conv has no channels-first option)",
        "Flatten order": "H, W, C (no Flatten layer: x.reshape(n, -1) on NHWC)",
        "Embedding init": _initializer(_default(nnx.Embed.__init__, "embedding_init")),
        "padding mask": f"none (nnx.RNN seq_lengths={_default(nnx.RNN.__call__, 'seq_lengths')}; "
        "lengths stop each sequence at its end)",
        "LSTM biases": "one: in dense_h" + (" (dense_i has none)" if cell.dense_i.bias is None else ""),
        "LSTM init": f"kernel {_initializer(_default(init, 'kernel_init'))}, recurrent "
        f"{_initializer(_default(init, 'recurrent_kernel_init'))}, bias {_initializer(_default(init, 'bias_init'))}",
        "GRU gates and biases": "nnx.GRUCell: gates r, z, n; reset after; bias on dense_i only"
        + (" (dense_h has none: no recurrent bias)" if nnx.GRUCell(1, 1, rngs=nnx.Rngs(0)).dense_h.bias is None else ""),
        "LayerNorm epsilon": f"{_default(nnx.LayerNorm.__init__, 'epsilon')}, "
        f"use_fast_variance={_default(nnx.LayerNorm.__init__, 'use_fast_variance')}",
        "AveragePooling2D padded edges": f"nnx.avg_pool count_include_pad={_default(nnx.avg_pool, 'count_include_pad')}",
        "loss input": "optax.softmax_cross_entropy_with_integer_labels / sigmoid_binary_cross_entropy take logits",
        "batching and shuffling": "your own loop (JAX has no data loader)",
        "RMSprop decay and epsilon": f"decay={_default(optax.rmsprop, 'decay')}, eps={_default(optax.rmsprop, 'eps')} "
        + ("inside" if _default(optax.rmsprop, "eps_in_sqrt") else "outside") + " the square root",
        "momentum velocity": "optax.sgd: trace v = g + momentum * v before the lr; optax.rmsprop: the trace after it (holds lr)",
        "L2 penalty": f"optax.adam has none (optax.adamw: weight_decay={_default(optax.adamw, 'weight_decay')}, decoupled, x lr; "
        "optax.add_decayed_weights before an optimizer is L2)",
        **attention_defaults(),  # GELU and attention, in frameworks/jax_layers.py
    }


def source_names(spec: TaskSpec) -> dict[str, list[str]]:
    """The functions --explain shows for each role, with the helpers this spec needs."""
    uncorrected_adam = spec.optimizer.name == "adam" and spec.optimizer.eps_style == "uncorrected"
    return {
        "Build the model from the spec": ["build_model", "SpecModel", *(["LastHidden"] if _has(spec, LSTM) else []),
                                          *(["add"] if _has(spec, AddLayer) else []),
                                          *(["LastHiddenGRU", "ResetAfterGRUCell"] if _has(spec, GRU) else [])],
        "The optimizer": ["make_optimizer", "spec_optimizer", *(["scale_by_adam_uncorrected_eps"] if uncorrected_adam else [])],
        "The loss": ["make_loss"],
        "One training epoch": ["Network.fit_epoch", "make_train_step"],
    }


def _has(spec: TaskSpec, kind: type) -> bool:
    return any(isinstance(layer, kind) for layer in spec.model.layers)


def summary_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """(output shape, params) of every Flax layer: its output for a dummy batch of 2, its Param and BatchStat sizes."""
    model = nnx.eval_shape(lambda: build_model(spec, jnp.float32, nnx.Rngs(0)))  # shapes only: no random init to run
    view = nnx.view(model, use_running_average=True, deterministic=True, raise_if_not_found=False)
    outputs = nnx.eval_shape(lambda m: m.layer_outputs(_dummy_inputs(spec)), view)
    cells = []
    for layer, out in zip(model.layers, outputs):
        trainable = jax_layers.variable_count(layer, nnx.Param)
        state = jax_layers.variable_count(layer, nnx.BatchStat)  # BatchNorm: running mean and var
        cells.append((str(tuple(out.shape[1:])), f"{trainable:,}" + (f" + {state:,} state" if state else "")))
    return cells


def _dummy_inputs(spec: TaskSpec) -> jax.Array:
    return jnp.zeros((2, *spec.model.input_shape), dtype=jnp.int32 if spec.model.input_dtype == "int" else jnp.float32)


def create(spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL) -> "Network":
    """The row's object: JAX has the spec network only."""
    return Network(spec, settings, model)


# ---------------------------------------------------------------- the model


def build_model(spec: TaskSpec, dtype: jnp.dtype, rngs: nnx.Rngs, compute_dtype: jnp.dtype | None = None) -> SpecModel:
    """One Flax layer (or function) per spec layer; weights in `dtype` (Flax's default is float32), compute in
    `compute_dtype` (mixed precision, e.g. bfloat16) or else in `dtype`."""
    typed = {"dtype": compute_dtype or dtype, "param_dtype": dtype, "rngs": rngs}
    layers: list = []
    for layer, (in_shape, _) in zip(spec.model.layers, layer_shapes(spec.model)):
        if isinstance(layer, Dense):
            layers.append(nnx.Linear(in_shape[-1], layer.units, **typed))
        elif isinstance(layer, ReLU):
            layers.append(nnx.relu)
        elif isinstance(layer, Conv2D):
            p = layer.padding  # explicit symmetric padding instead of Flax's default "SAME"
            kernel = (layer.kernel_size,) * 2
            layers.append(nnx.Conv(in_shape[-1], layer.filters, kernel, padding=((p, p), (p, p)), **typed))
        elif isinstance(layer, MaxPool2D):
            s = (layer.pool_size,) * 2
            layers.append(functools.partial(nnx.max_pool, window_shape=s, strides=s, padding="VALID"))
        elif isinstance(layer, BatchNorm):
            # Flax's momentum is the weight of the OLD value: 1 - PyTorch's (default 0.99). eps from the spec.
            layers.append(nnx.BatchNorm(in_shape[-1], momentum=1 - layer.momentum, epsilon=layer.eps, **typed))
        elif isinstance(layer, Flatten):
            layers.append(flatten)
        elif isinstance(layer, Dropout):
            layers.append(nnx.Dropout(layer.rate, rngs=rngs))
        elif isinstance(layer, Embedding):
            layers.append(nnx.Embed(layer.vocab_size, layer.dim, **typed))
        elif isinstance(layer, LSTM):
            layers.append(LastHidden(in_shape[-1], layer.units, dtype, rngs, compute_dtype))
        elif isinstance(layer, GRU):
            layers.append(LastHiddenGRU(in_shape[-1], layer.units, dtype, rngs, compute_dtype))
        elif isinstance(layer, Conv1D):
            p = layer.padding
            layers.append(nnx.Conv(in_shape[-1], layer.filters, (layer.kernel_size,), padding=((p, p),), **typed))
        elif isinstance(layer, GlobalMaxPool1D):
            layers.append(global_max_pool1d)
        elif isinstance(layer, AveragePooling2D):
            s, p = (layer.strides or layer.pool_size,) * 2, layer.padding
            # Flax's count_include_pad defaults to True (torch's default); the spec states it
            layers.append(functools.partial(nnx.avg_pool, window_shape=(layer.pool_size,) * 2, strides=s, padding=((p, p), (p, p)),
                                            count_include_pad=layer.count_include_pad))  # fmt: skip
        elif isinstance(layer, GlobalAveragePooling2D):
            layers.append(global_average_pool2d)
        elif isinstance(layer, LayerNorm):
            # Flax's default eps is 1e-6 (torch 1e-5, Keras 1e-3); use_fast_variance=False: var = mean((x - mean)^2),
            # not mean(x^2) - mean^2, as the reference and the other frameworks
            layers.append(nnx.LayerNorm(in_shape[-1], epsilon=layer.eps, use_fast_variance=False, **typed))
        elif isinstance(layer, AddLayer):
            layers.append(add)
        elif (module := attention_module(layer, in_shape, typed)) is not None:  # the transformer's: jax_layers.py
            layers.append(module)
        else:
            raise TypeError(f"layer {layer!r} has no Flax builder")
    return SpecModel(layers, () if is_chain(spec.model) else tuple(layer_inputs(spec.model)))


def make_loss(spec: TaskSpec):  # noqa: ANN201 - (logits, y) -> mean loss
    """Mean cross-entropy on logits: softmax with integer labels, or sigmoid on the one logit; or mean squared error
    on the logit against -1/+1 targets (Network._targets makes them). bfloat16 logits (mixed precision) are cast to
    float32 first, as torch.autocast and Keras' mixed policies compute the loss."""
    if spec.model.loss == "cross_entropy":
        loss = lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()  # noqa: E731
    elif spec.model.loss == "mse":
        loss = lambda logits, y: optax.squared_error(logits[:, 0], y).mean()  # noqa: E731 - (z - t)^2, not l2_loss's half
    else:
        loss = lambda logits, y: optax.sigmoid_binary_cross_entropy(logits[:, 0], y).mean()  # noqa: E731
    return lambda logits, y: loss(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)), y)


def make_train_step(loss_fn):  # noqa: ANN001, ANN201
    """One jitted optimizer step on the batch X[idx], y[idx]: pure in (graphdef, state), the state donated.

    Flax's functional API: split the model and optimizer into a static graphdef and a pytree of
    arrays once, merge them inside the step, return the new state. XLA compiles once per batch
    shape: in the first epoch, and again for a smaller last batch.
    """

    @functools.partial(jax.jit, donate_argnums=1)
    def train_step(graphdef: nnx.GraphDef, state: nnx.State, X: jax.Array, y: jax.Array, idx: jax.Array) -> tuple:
        model, optimizer = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(lambda m: loss_fn(m(X[idx]), y[idx]))(model)
        optimizer.update(model, grads)  # BatchNorm's running statistics were updated by the forward pass
        return nnx.state((model, optimizer)), loss

    return train_step


class Network:
    """The spec's network in Flax NNX: an explicit loop over device arrays calling a jitted step."""

    kind = "network"

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str = SPEC_MODEL):
        if settings.dtype == "float64" and not jax.config.jax_enable_x64:
            raise RuntimeError("float64 needs jax_enable_x64: call frameworks.jax.configure(settings) first")
        self.spec, self.settings, self.model_name = spec, settings, model
        self.dtype = jnp.dtype(settings.dtype)
        self.compiled = settings.mode != "eager"  # "" or "compiled": jax.jit; "eager": op by op (jax.disable_jit)
        self.model_label = "flax.nnx.Module + " + ("jax.jit step" if self.compiled else "op-by-op step (jax.disable_jit)")
        self.running = contextlib.nullcontext if self.compiled else jax.disable_jit  # the mode's context for every call
        self.loss_fn = make_loss(spec)
        self._train_step = make_train_step(self.loss_fn)
        grad_fn = lambda graphdef, state, X, y: nnx.value_and_grad(lambda m: self.loss_fn(m(X), y))(nnx.merge(graphdef, state))  # noqa: E731
        self._loss_and_grad = jax.jit(grad_fn)
        self.model: SpecModel | None = None

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """Create the module from the spec, load the canonical weights, create the optimizer."""
        seed, compute = self.settings.seed, COMPUTE_DTYPES.get(self.settings.precision)
        make = lambda: build_model(self.spec, self.dtype, nnx.Rngs(params=seed, dropout=seed), compute)  # noqa: E731
        # Flax's random init (an XLA program per weight shape, seconds on a CNN) would be overwritten: build shapes
        # only, then load; where state stays abstract (Dropout's keys), build it for real, so the keys are Flax's own.
        self.model = nnx.eval_shape(make)
        self.set_weights(weights)
        if any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(nnx.state(self.model))):
            self.model = make()
            self.set_weights(weights)
        self.optimizer = nnx.Optimizer(self.model, make_optimizer(self.spec.optimizer, self.dtype), wrt=nnx.Param)

    def num_params(self) -> int:
        """Trainable parameters (nnx.Param) as Flax holds them."""
        return jax_layers.variable_count(self.model, nnx.Param)

    def _variables(self) -> dict[str, nnx.Variable]:
        """Every Param and BatchStat of the model by dotted path, e.g. 'layers.0.kernel'."""
        kinds = (nnx.Param, nnx.BatchStat)
        return {".".join(map(str, path)): node for path, node in nnx.iter_graph(self.model) if isinstance(node, kinds)}

    def get_weights(self) -> Weights:
        """Every weight in the canonical layout."""
        return layout.from_flax(self.spec.model, {k: np.asarray(v[...]) for k, v in self._variables().items()})

    def set_weights(self, weights: Weights) -> None:
        """Load canonical weights into the module's variables, in this network's dtype."""
        variables = self._variables()
        for path, value in layout.to_flax(self.spec.model, weights).items():
            # set_value, not v[...] = value: nnx.BatchNorm creates its running mean and var in
            # float32 whatever param_dtype says, and an in-place write would keep them float32.
            variables[path].set_value(jnp.asarray(value, dtype=self.dtype))

    # -------------------------------------------------------------- data
    def _inputs(self, X: np.ndarray) -> jax.Array:
        return jnp.asarray(X, dtype=jnp.int32 if self.spec.model.input_dtype == "int" else self.dtype)

    def _targets(self, y: np.ndarray) -> jax.Array:
        if self.spec.model.loss == "cross_entropy":
            return jnp.asarray(y, dtype=jnp.int32)
        return jnp.asarray(mse_targets(y) if self.spec.model.loss == "mse" else y, dtype=self.dtype)  # mse: -1/+1 targets

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Put the training arrays on the device, once; each step gathers its batch there."""
        self.X, self.y = self._inputs(X), self._targets(y)

    # -------------------------------------------------------------- training
    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver's per-epoch schedule).

        Where the spec's velocity is not optax's (NATIVE_VELOCITY), the momentum trace is rescaled so that it
        means the spec's velocity in optax's units: by old / new lr for "step", new / old for "gradient".
        """
        opt, state = self.spec.optimizer, self.optimizer.opt_state
        old = float(state.hyperparams["learning_rate"][...])
        native = NATIVE_VELOCITY.get(opt.name)
        if opt.momentum and native and native != opt.velocity and old != lr:
            factor = old / lr if native == "gradient" else lr / old
            traces = [s for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, optax.TraceState))
                      if isinstance(s, optax.TraceState)]  # fmt: skip
            for variable in jax.tree.leaves(traces, is_leaf=lambda x: isinstance(x, nnx.Variable)):
                variable[...] = variable[...] * factor
        state.hyperparams["learning_rate"][...] = lr

    def compilations(self) -> int | None:
        """XLA compilations of the jitted step so far (its cache: one per batch shape); None op by op."""
        return self._train_step._cache_size() if self.compiled else None

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch over the device arrays in the shared order; mean loss over samples."""
        graphdef, state = nnx.split((self.model, self.optimizer))
        losses, sizes = [], []
        for batch in batch_slices(len(order), self.spec.train.batch_size):
            idx = order[batch]
            with self.running():
                state, loss = self._train_step(graphdef, state, self.X, self.y, idx)
            losses.append(loss)  # still on the device: the loop does not wait for the step
            sizes.append(len(idx))
            on_batch(len(idx))
        nnx.update((self.model, self.optimizer), state)
        batch_losses = np.asarray(jax.device_get(losses), dtype=np.float64)  # one wait per epoch, not per step
        return float(batch_losses @ np.asarray(sizes) / len(order))

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch (used by the trajectory checks)."""
        graphdef, state = nnx.split((self.model, self.optimizer))
        with self.running():
            state, loss = self._train_step(graphdef, state, self._inputs(X), self._targets(y), np.arange(len(X)))
        nnx.update((self.model, self.optimizer), state)
        return float(loss)

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss (batch statistics, dropout off as in the reference) and canonical gradients.

        The running statistics are left untouched: the jitted copy updates its own, never merged back.
        """
        view = nnx.view(self.model, use_running_average=False, deterministic=True, raise_if_not_found=False)
        with self.running():
            loss, grads = self._loss_and_grad(*nnx.split(view), self._inputs(X), self._targets(y))
        flat = {".".join(map(str, path)): np.asarray(v[...]) for path, v in nnx.to_flat_state(grads)}
        canonical = layout.from_flax(self.spec.model, flat)
        return float(loss), {k: v for k, v in canonical.items() if k.split(".")[1] not in NON_TRAINABLE}

    # -------------------------------------------------------------- inference
    def _eval_split(self) -> tuple[nnx.GraphDef, nnx.State]:
        """The model in evaluation mode (BatchNorm uses running statistics, dropout off), split."""
        return nnx.split(nnx.view(self.model, use_running_average=True, deterministic=True, raise_if_not_found=False))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits in evaluation mode, as NumPy in the dtype computed."""
        graphdef, state = self._eval_split()
        with self.running():
            outputs = [jax_layers.forward(graphdef, state, self._inputs(X[i : i + EVAL_BATCH])) for i in range(0, len(X), EVAL_BATCH)]
        logits = np.concatenate(jax.device_get(outputs))
        return logits.astype(np.float32) if self.settings.precision in COMPUTE_DTYPES else logits  # bfloat16 -> float32

    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for X (evaluation mode); Flax's NHWC is already the canonical layout."""
        graphdef, state = self._eval_split()
        with self.running():
            return [np.asarray(out) for out in jax_layers.layer_outputs(graphdef, state, self._inputs(X))]


augment_native = jax_augment.augment_native  # --augment native: jax.random crop and flip, jitted
attention_weights = jax_layers.attention_weights  # the attention maps: per-head weights of one review
