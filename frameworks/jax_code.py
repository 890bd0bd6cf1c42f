"""The spec's network as a JAX user writes it: `generate(spec)` returns a self-contained Flax NNX script.

An `nnx.Module` whose `__call__` reads top to bottom, the loss as a function of the model, the optax optimizer with
the spec's numbers, an `nnx.jit` training step, and the canonical weights, which Flax keeps in the canonical layout
(NHWC, kernels (in, out)): only the names differ, plus the gate order of a GRU. Imports only JAX, Flax, optax, NumPy.
"""

from __future__ import annotations

from frameworks.code_common import fixed_input_code, flags_code, graph_variables, header, number, print_code
from tasks.optimizers import decoupled_rate
from tasks.spec import (
    GELU,
    GRU,
    LSTM,
    Add,
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
    MaskedMeanPooling,
    MaxPool2D,
    MultiHeadSelfAttention,
    PositionEmbedding,
    ReLU,
    TaskSpec,
    layer_name,
    layer_shapes,
    param_key,
)
from tasks.spec_attention import PAD_ID, uses_padding_mask

FILE_NAME = "jax_model.py"  # not jax.py: a script named jax.py would be imported by its own `import jax`
RANDOM_STREAMS = (Dropout,)  # layers whose Flax modules keep random keys (Dropout's): built for real
SUPPORTED = (Dense, ReLU, Conv2D, MaxPool2D, BatchNorm, Flatten, Dropout, Embedding, LSTM,
             GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, LayerNorm, Add,
             MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling)  # fmt: skip
BATCHNORM_MOMENTUM = 0.99  # nnx.BatchNorm's default momentum (the weight of the OLD value)
LAYERNORM_EPS = 1e-6  # nnx.LayerNorm's default epsilon
ADAM_EPS = 1e-8  # optax.adam's default eps


def _module(layer: object, in_shape: tuple[int, ...]) -> tuple[str, str] | None:
    """(constructor, comment) of the Flax module holding this layer, or None for a layer written as a function call."""
    if isinstance(layer, Dense):
        return f"nnx.Linear({in_shape[-1]}, {layer.units}, **kw)", ""
    if isinstance(layer, (Conv2D, Conv1D)):
        k, p, dims = layer.kernel_size, layer.padding, 2 if isinstance(layer, Conv2D) else 1
        kernel, pads = ", ".join([str(k)] * dims) + "," * (dims == 1), ", ".join([f"({p}, {p})"] * dims) + "," * (dims == 1)
        return (f"nnx.Conv({in_shape[-1]}, {layer.filters}, ({kernel}), padding=({pads}), **kw)",
                "the spec's zeros on each side (Flax's default: \"SAME\")")  # fmt: skip
    if isinstance(layer, BatchNorm):
        return (f"nnx.BatchNorm({in_shape[-1]}, momentum={number(1 - layer.momentum)}, epsilon={number(layer.eps)}, **kw)",
                f"Flax's momentum weighs the old value: 1 - the spec's {number(layer.momentum)} (default {number(BATCHNORM_MOMENTUM)})")  # fmt: skip
    if isinstance(layer, Dropout):
        return f"nnx.Dropout({number(layer.rate)}, rngs=rngs)", ""
    if isinstance(layer, Embedding):
        return f"nnx.Embed({layer.vocab_size}, {layer.dim}, **kw)", ""
    if isinstance(layer, LSTM):
        return (f"nnx.RNN(nnx.OptimizedLSTMCell({in_shape[-1]}, {layer.units}, **kw), return_carry=True, rngs=False)",
                "gates i, f, g, o and one bias, as the spec; no random stream: __call__ gives the zero carry")  # fmt: skip
    if isinstance(layer, GRU):
        return f"nnx.RNN(ResetAfterGRUCell({in_shape[-1]}, {layer.units}, **kw), return_carry=True, rngs=False)", ""
    if isinstance(layer, LayerNorm):
        return (f"nnx.LayerNorm({in_shape[-1]}, epsilon={number(layer.eps)}, use_fast_variance=False, **kw)",
                f"Flax's default eps is {number(LAYERNORM_EPS)}; the variance as mean((x - mean)^2)")  # fmt: skip
    if isinstance(layer, MultiHeadSelfAttention):
        e, hd = in_shape[-1], layer.heads * layer.head_dim
        bias = "" if layer.bias else ", use_bias=False"
        return (f"nnx.MultiHeadAttention({layer.heads}, {e}, qkv_features={hd}, out_features={e}{bias}, attention_fn=attention, decode=False, **kw)",
                f"{layer.heads} heads of {layer.head_dim}")  # fmt: skip
    if isinstance(layer, PositionEmbedding):
        return f"nnx.Embed({layer.max_len}, {layer.dim}, **kw)", "one learned vector per position"
    if isinstance(layer, (ReLU, MaxPool2D, Flatten, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, Add, GELU, MaskedMeanPooling)):
        return None
    raise TypeError(f"no Flax code for layer {layer!r}")


def _call(layer: object, name: str, out: str, ins: list[str]) -> list[str]:
    """The lines of `__call__` that compute this layer's output `out` from `ins` (NHWC images, (N, L, C) sequences)."""
    x = ins[0]
    if isinstance(layer, ReLU):
        return [f"{out} = nnx.relu({x})"]
    if isinstance(layer, MaxPool2D):
        s = layer.pool_size
        return [f"{out} = nnx.max_pool({x}, ({s}, {s}), strides=({s}, {s}))"]
    if isinstance(layer, Flatten):
        return [f"{out} = {x}.reshape({x}.shape[0], -1)  # H, W, C order"]
    if isinstance(layer, LSTM):
        return [f"zeros = jnp.zeros(({x}.shape[0], {layer.units}), dtype)  # the carry (c, h) starts at zeros",
                f"(_, h), _ = self.{name}({x}, initial_carry=(zeros, zeros))", f"{out} = h  # the last hidden state"]  # fmt: skip
    if isinstance(layer, GRU):
        return [f"{out}, _ = self.{name}({x}, initial_carry=jnp.zeros(({x}.shape[0], {layer.units}), dtype))  # the carry: the last hidden state"]
    if isinstance(layer, GlobalMaxPool1D):
        return [f"{out} = {x}.max(axis=1)  # the maximum over the sequence"]
    if isinstance(layer, AveragePooling2D):
        s, st, p = layer.pool_size, layer.strides or layer.pool_size, layer.padding
        return [f"{out} = nnx.avg_pool({x}, ({s}, {s}), strides=({st}, {st}), padding=(({p}, {p}), ({p}, {p})), "
                f"count_include_pad={layer.count_include_pad})  # the spec states the divisor at padded edges"]  # fmt: skip
    if isinstance(layer, GlobalAveragePooling2D):
        return [f"{out} = {x}.mean(axis=(1, 2))  # the mean over H and W"]
    if isinstance(layer, Add):
        return [f"{out} = {' + '.join(ins)}"]
    if isinstance(layer, GELU):
        exact = layer.approximate == "none"
        return [f"{out} = nnx.gelu({x}, approximate={not exact})  # {'exact (erf); Flax defaults to the tanh approximation' if exact else 'the tanh approximation'}"]
    if isinstance(layer, PositionEmbedding):
        return [f"{out} = {x} + self.{name}(jnp.arange({x}.shape[1]))  # slot t gets row t"]
    if isinstance(layer, MultiHeadSelfAttention):
        mask = ", mask=keep[:, None, None, :]" if uses_padding_mask(layer) else ""
        return [f"{out} = self.{name}({x}{mask})  # self-attention{': the padding keys masked out' if mask else ''}"]
    if isinstance(layer, MaskedMeanPooling) and uses_padding_mask(layer):
        return [f"real = keep[..., None].astype({x}.dtype)",
                f"{out} = ({x} * real).sum(axis=1) / jnp.maximum(real.sum(axis=1), 1)  # the mean over the real tokens"]  # fmt: skip
    if isinstance(layer, MaskedMeanPooling):
        return [f"{out} = {x}.mean(axis=1)"]
    return [f"{out} = self.{name}({x})"]


def _network(spec: TaskSpec) -> list[str]:
    """class Net(nnx.Module) and `model = Net(nnx.Rngs(0))`."""
    shapes = layer_shapes(spec.model)
    lines = ["class Net(nnx.Module):", f'    """{spec.title or spec.name}."""', "", "    def __init__(self, rngs: nnx.Rngs):",
             "        kw = dict(param_dtype=dtype, rngs=rngs)  # Flax's default param_dtype is float32"]  # fmt: skip
    for i, (layer, (in_shape, _)) in enumerate(zip(spec.model.layers, shapes)):
        built = _module(layer, in_shape)
        if built:
            lines.append(f"        self.{layer_name(i, layer)} = {built[0]}{'  # ' + built[1] if built[1] else ''}")
    source, outs, ins = graph_variables(spec.model)
    lines += ["", "    def __call__(self, x: jax.Array) -> jax.Array:"]
    if any(uses_padding_mask(layer) for layer in spec.model.layers):
        lines.append(f"        keep = x != {PAD_ID}  # False at the padding slots (token id {PAD_ID}): attention and pooling skip them")
    if source != "x":
        lines.append(f"        {source} = x")
    for i, layer in enumerate(spec.model.layers):
        lines += [f"        {line}" for line in _call(layer, layer_name(i, layer), outs[i], ins[i])]
    if any(isinstance(layer, RANDOM_STREAMS) for layer in spec.model.layers):
        return lines + ["        return x", "", "", "model = Net(nnx.Rngs(0))"]
    return lines + ["        return x", "", "", "# with --weights every weight is loaded below: build the shapes only, not Flax's random init",
                    "model = nnx.eval_shape(lambda: Net(nnx.Rngs(0))) if args.weights else Net(nnx.Rngs(0))"]  # fmt: skip


def _gru_cell() -> list[str]:
    return [
        "class ResetAfterGRUCell(nnx.GRUCell):",
        '    """nnx.GRUCell with a recurrent bias too, as the spec\'s (and torch\'s, Keras\') GRU: Flax\'s dense_h has none."""',
        "",
        "    def __init__(self, in_features: int, hidden_features: int, **kw):",
        "        super().__init__(in_features, hidden_features, **kw)",
        "        self.dense_h = nnx.Linear(hidden_features, 3 * hidden_features, use_bias=True, **kw)",
        "",
        "",
        "def gru_gates(a: np.ndarray) -> np.ndarray:",
        '    """Gate blocks on the last axis: z, r, h (the canonical, Keras\' order) -> r, z, n (Flax\'s)."""',
        "    z, r, h = np.split(a, 3, axis=-1)",
        "    return np.concatenate([r, z, h], axis=-1)",
        "",
        "",
    ]


def _attention() -> list[str]:
    return [
        "def attention(query: jax.Array, key: jax.Array, value: jax.Array, mask: jax.Array | None = None, **_) -> jax.Array:",
        '    """softmax(q k^T / sqrt(D)) v per head, in the inputs\' dtype: Flax\'s default (jax.nn.dot_product_attention)',
        '    takes the softmax in float32 even for float64 inputs (8e-8 off)."""',
        '    scores = jnp.einsum("nqhd,nkhd->nhqk", query, key) / np.sqrt(query.shape[-1])',
        "    if mask is not None:",
        "        scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)  # masked keys get weight 0",
        '    return jnp.einsum("nhqk,nkhd->nqhd", jax.nn.softmax(scores, axis=-1), value)',
        "",
        "",
    ]


def _loss(spec: TaskSpec) -> list[str]:
    kind = spec.model.loss
    body = {"cross_entropy": "optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()  # takes logits",
            "binary_cross_entropy": "optax.sigmoid_binary_cross_entropy(logits[:, 0], y).mean()  # takes the logit",
            "mse": "optax.squared_error(logits[:, 0], y).mean()  # (logit - target)^2, targets -1/+1"}[kind]  # fmt: skip
    return ["def loss_fn(model: Net, X: jax.Array, y: jax.Array) -> jax.Array:", '    """The mean loss of the batch."""',
            "    logits = model(X)", f"    return {body}"]  # fmt: skip


def _optimizer(spec: TaskSpec) -> list[str]:
    """`tx = optax...(...)`, every number from the spec with why."""
    opt = spec.optimizer
    args = [f"    learning_rate={number(opt.lr)},  # the spec's learning rate"]
    if opt.name == "sgd":
        call = "optax.sgd"
        if opt.momentum:
            why = "a trace before the lr: the spec's velocity" if opt.velocity == "gradient" else "optax's trace holds no lr; the spec's does: the same while lr is constant"
            args.append(f"    momentum={number(opt.momentum)},  # {why}")
        if opt.nesterov:
            args.append("    nesterov=True,")
    elif opt.name == "rmsprop":
        call = "optax.rmsprop"
        args.append(f"    decay={number(opt.rho)},  # the spec's rho")
        args.append(f"    eps={number(opt.eps)},")
        args.append(f"    eps_in_sqrt={opt.eps_style == 'inside'},  # where the spec adds eps (optax's default: inside the square root)")
        if opt.centered:
            args.append("    centered=True,")
        if opt.momentum:
            args.append(f"    momentum={number(opt.momentum)},")
    else:
        decoupled = bool(opt.weight_decay) and opt.weight_decay_style == "decoupled"
        call = "optax.adamw" if decoupled else "optax.adam"
        args += [f"    b1={number(opt.beta_1)},  # the spec's (optax's defaults: 0.9, 0.999)", f"    b2={number(opt.beta_2)},"]
        if opt.eps_style == "corrected":
            args.append(f"    eps={number(opt.eps)},  # on sqrt(v_hat), as the spec (optax's default: {number(ADAM_EPS)})")
        else:
            args.append(f"    eps={number(opt.eps)},  # the spec adds it to sqrt(v) (Keras' Adam), optax to sqrt(v_hat): they part while t is small")
        if decoupled:
            args.append(f"    weight_decay={number(decoupled_rate(opt))},  # decoupled, times the current lr")
    lines = [f"tx = {call}(", *args, ")"]
    if opt.weight_decay and opt.weight_decay_style == "l2":
        lines.append(f"tx = optax.chain(optax.add_decayed_weights({number(opt.weight_decay)}), tx)  # L2: weight_decay * w added to the gradient first")
    if spec.train.lr_decay != 1.0:
        lines.append(f"# the spec multiplies lr by {number(spec.train.lr_decay)} after each epoch: learning_rate=optax.exponential_decay("
                     f"{number(opt.lr)}, steps_per_epoch, {number(spec.train.lr_decay)}, staircase=True)")  # fmt: skip
    return lines


def _weights(spec: TaskSpec) -> list[str]:
    """One put() per weight: Flax's layouts are the canonical ones; the GRU's gates are reordered."""
    names = {Dense: {"kernel": "kernel", "bias": "bias"}, Conv2D: {"kernel": "kernel", "bias": "bias"},
             Conv1D: {"kernel": "kernel", "bias": "bias"}, LayerNorm: {"scale": "gamma", "bias": "beta"},
             BatchNorm: {"scale": "gamma", "bias": "beta", "mean": "moving_mean", "var": "moving_var"},
             Embedding: {"embedding": "embeddings"}, PositionEmbedding: {"embedding": "embeddings"},
             LSTM: {"cell.dense_i.kernel": "kernel", "cell.dense_h.kernel": "recurrent_kernel", "cell.dense_h.bias": "bias"},
             MultiHeadSelfAttention: {f"{flax}.{kind}": f"{ours}_{kind}" for flax, ours in
                                      (("query", "query"), ("key", "key"), ("value", "value"), ("out", "output"))
                                      for kind in ("kernel", "bias")}}  # fmt: skip
    lines = []
    for i, layer in enumerate(spec.model.layers):
        name = layer_name(i, layer)
        if isinstance(layer, GRU):
            k, r, b = (f'w["{param_key(i, layer, n)}"]' for n in ("kernel", "recurrent_kernel", "bias"))
            lines += [f"    put(model.{name}.cell.dense_i.kernel, gru_gates({k}))  # gates z, r, h -> r, z, n",
                      f"    put(model.{name}.cell.dense_h.kernel, gru_gates({r}))",
                      f"    put(model.{name}.cell.dense_i.bias, gru_gates({b}[0]))  # row 0: the input bias",
                      f"    put(model.{name}.cell.dense_h.bias, gru_gates({b}[1]))  # row 1: the recurrent bias"]  # fmt: skip
            continue
        for flax, ours in names.get(type(layer), {}).items():
            if isinstance(layer, MultiHeadSelfAttention) and not layer.bias and ours.endswith("bias"):
                continue
            lines.append(f'    put(model.{name}.{flax}, w["{param_key(i, layer, ours)}"])')
    return lines


def generate(spec: TaskSpec) -> str:
    """The source of a self-contained JAX (Flax NNX + optax) script for this spec (see the module docstring)."""
    unknown = sorted({type(layer).__name__ for layer in spec.model.layers if not isinstance(layer, SUPPORTED)})
    if unknown:
        raise TypeError(f"no Flax code for {', '.join(unknown)}")
    how = "Flax NNX keeps the canonical layout (NHWC, kernels (in, out)): the weights change names, not shapes"
    lines = header(spec, "JAX (Flax NNX)", FILE_NAME, how)
    lines += ["import argparse", "import json", "", "import jax", "import jax.numpy as jnp", "import numpy as np", "import optax",
              "from flax import nnx", ""]  # fmt: skip
    lines += flags_code() + ["", 'jax.config.update("jax_enable_x64", args.dtype == "float64")  # JAX computes float64 only when asked',
                             "dtype = jnp.dtype(args.dtype)", "", ""]  # fmt: skip
    if any(isinstance(layer, GRU) for layer in spec.model.layers):
        lines += _gru_cell()
    if any(isinstance(layer, MultiHeadSelfAttention) for layer in spec.model.layers):
        lines += _attention()
    lines += ["# The network" + (": NHWC images, as Flax convolutions take them" if len(spec.model.input_shape) == 3 else "")]
    lines += _network(spec)
    lines += ['print("parameters:", sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param))))', "", ""]
    lines += ["# The loss and the optimizer", *_loss(spec), "", "", *_optimizer(spec), "", ""]
    lines += ["@nnx.jit", "def train_step(model: Net, optimizer: nnx.Optimizer, X: jax.Array, y: jax.Array) -> jax.Array:",
              '    """One optimizer step on one batch; returns its loss."""', "    loss, grads = nnx.value_and_grad(loss_fn)(model, X, y)",
              "    optimizer.update(model, grads)", "    return loss", "", ""]  # fmt: skip
    lines += fixed_input_code(spec)
    targets = {"cross_entropy": "jnp.asarray(y_fixed)", "binary_cross_entropy": "jnp.asarray(y_fixed, dtype=dtype)",
               "mse": "jnp.asarray(2.0 * y_fixed - 1.0, dtype=dtype)  # -1/+1 targets for the one logit"}  # fmt: skip
    lines += ["X = jnp.asarray(X_fixed)", f"y = {targets[spec.model.loss]}", "", "", "def put(variable: nnx.Variable, array: np.ndarray) -> None:",
              '    """Load one canonical array (set_value: BatchNorm\'s statistics start float32 whatever param_dtype says)."""',
              "    variable.set_value(jnp.asarray(array, dtype=dtype))", "", "", "if args.weights:",
              "    w = np.load(args.weights)  # arrays only: np.load refuses pickles"]  # fmt: skip
    lines += _weights(spec)
    lines += ["    model.eval()  # BatchNorm uses its running statistics, Dropout is off",
              f"    {print_code('logits', 'np.asarray(model(X)).tolist()')}", "",
              "optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)  # after the weights: its state takes their shapes and dtype",
              "model.train()", "for _ in range(args.steps):",
              f"    {print_code('loss', 'float(train_step(model, optimizer, X, y))')}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def unsupported(spec: TaskSpec) -> str | None:
    """Why this spec's network cannot be written as Flax code, or None if it can."""
    try:
        generate(spec)
    except TypeError as exc:
        return str(exc)
    return None
