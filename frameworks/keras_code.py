"""The spec's network as a Keras user writes it: `generate(spec)` returns a self-contained script.

`keras.Sequential([...])` for a chain, the functional API for a graph (or where the padding mask is an input of a
layer); the loss, the optimizer with the spec's numbers, `fit`, and the canonical weights, which are Keras' own
layout: each weighted layer is named like its canonical weights and takes them with `set_weights`. One file serves
the three Keras backends: `KERAS_BACKEND=jax python keras_model.py`, as Keras users choose one.
"""

from __future__ import annotations

from frameworks.code_common import fixed_input_code, flags_code, graph_variables, header, number, print_code
from tasks.optimizers import decoupled_rate
from tasks.spec import (
    GELU,
    GRU,
    LSTM,
    PARAM_NAMES,
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
    is_chain,
    layer_inputs,
    layer_name,
    layer_shapes,
    param_key,
)
from tasks.spec_attention import PAD_ID, uses_padding_mask

FILE_NAME = "keras_model.py"  # not keras.py: a script named keras.py would be imported by its own `import keras`
SUPPORTED = (Dense, ReLU, Conv2D, MaxPool2D, BatchNorm, Flatten, Dropout, Embedding, LSTM,
             GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, LayerNorm, Add,
             MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling)  # fmt: skip
BATCHNORM_EPS, LAYERNORM_EPS = 1e-3, 1e-3  # keras.layers.BatchNormalization's and LayerNormalization's default epsilon
ADAM_EPS = 1e-7  # keras.optimizers.Adam's default epsilon
L = "keras.layers."


def tf_same_padding(n: int, pool: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros that Keras' padding="same" adds to an axis of length n (TensorFlow's rule)."""
    total = max((-(-n // stride) - 1) * stride + pool - n, 0)
    return total // 2, total - total // 2


def _conv_padding(kernel_size: int, padding: int) -> str | None:
    """Keras' padding= for the spec's symmetric zeros, or None where it has no name ("same" is (k-1)/2 each side)."""
    return "valid" if padding == 0 else "same" if 2 * padding == kernel_size - 1 else None


def _fused_relu(spec: TaskSpec) -> set[int]:
    """Indices of the ReLUs written as activation="relu" of the Dense or Conv just before (read by nothing else)."""
    sources, fused = layer_inputs(spec.model), set()
    for i, layer in enumerate(spec.model.layers):
        j = sources[i][0]
        readers = sum(j in s for s in sources)
        if isinstance(layer, ReLU) and j >= 0 and readers == 1 and isinstance(spec.model.layers[j], (Dense, Conv2D, Conv1D)):
            fused.add(i)
    return fused


def _layers(layer: object, i: int, in_shape: tuple[int, ...], relu: bool) -> list[tuple[str, str]]:
    """[(layer constructor, comment)] for one spec layer (two where Keras needs explicit zero padding first)."""
    name = f'name="{layer_name(i, layer)}"'
    act = 'activation="relu", ' if relu else ""
    if isinstance(layer, Dense):
        return [(f"{L}Dense({layer.units}, {act}{name})", "")]
    if isinstance(layer, ReLU):
        return [(f"{L}ReLU()", "")]
    if isinstance(layer, (Conv2D, Conv1D)):
        cls = "Conv2D" if isinstance(layer, Conv2D) else "Conv1D"
        mode = _conv_padding(layer.kernel_size, layer.padding)
        if mode is None:
            pad = "ZeroPadding2D" if isinstance(layer, Conv2D) else "ZeroPadding1D"
            return [(f"{L}{pad}({layer.padding})", "the spec's zeros on each side"),
                    (f'{L}{cls}({layer.filters}, {layer.kernel_size}, padding="valid", {act}{name})', "")]  # fmt: skip
        why = f"(k - 1) / 2 = {layer.padding} zeros on each side, the spec's" if mode == "same" else "no padding, the spec's"
        return [(f'{L}{cls}({layer.filters}, {layer.kernel_size}, padding="{mode}", {act}{name})', why)]
    if isinstance(layer, MaxPool2D):
        return [(f"{L}MaxPooling2D({layer.pool_size})", "")]
    if isinstance(layer, BatchNorm):
        why = f"Keras' momentum weighs the old value: 1 - the spec's {number(layer.momentum)}; its default eps is {number(BATCHNORM_EPS)}"
        return [(f"{L}BatchNormalization(momentum={number(1 - layer.momentum)}, epsilon={number(layer.eps)}, {name})", why)]
    if isinstance(layer, Flatten):
        return [(f"{L}Flatten()", "H, W, C order, the canonical one" if len(in_shape) == 3 else "")]
    if isinstance(layer, Dropout):
        return [(f"{L}Dropout({number(layer.rate)})", "")]
    if isinstance(layer, Embedding):
        return [(f"{L}Embedding({layer.vocab_size}, {layer.dim}, {name})", "")]
    if isinstance(layer, LSTM):
        return [(f"{L}LSTM({layer.units}, {name})", "Keras' defaults are the spec's: tanh, sigmoid gates, one bias")]
    if isinstance(layer, GRU):
        return [(f"{L}GRU({layer.units}, reset_after=True, {name})", "Keras 3's default, stated: two biases, as the spec")]
    if isinstance(layer, GlobalMaxPool1D):
        return [(f"{L}GlobalMaxPooling1D()", "")]
    if isinstance(layer, AveragePooling2D):
        return _average_pooling(layer, in_shape)
    if isinstance(layer, GlobalAveragePooling2D):
        return [(f"{L}GlobalAveragePooling2D()", "")]
    if isinstance(layer, LayerNorm):
        return [(f"{L}LayerNormalization(epsilon={number(layer.eps)}, {name})", f"Keras' default eps is {number(LAYERNORM_EPS)}")]
    if isinstance(layer, Add):
        return [(f"{L}Add()", "")]
    if isinstance(layer, MultiHeadSelfAttention):
        bias = "" if layer.bias else "use_bias=False, "
        return [(f"{L}MultiHeadAttention(num_heads={layer.heads}, key_dim={layer.head_dim}, {bias}{name})", "")]
    if isinstance(layer, GELU):
        if layer.approximate == "none":  # not Activation("gelu"): on TensorFlow it is 5e-9 off in float64 (tf.nn.gelu, measured)
            return [(f"{L}Activation(lambda x: 0.5 * x * (1.0 + keras.ops.erf(x / np.sqrt(2.0))))",
                     "exact GELU written out: tf.nn.gelu, behind Activation(\"gelu\"), is 5e-9 off in float64")]  # fmt: skip
        return [(f"{L}Activation(lambda x: keras.activations.gelu(x, approximate=True))", "the tanh approximation, as the spec says")]
    if isinstance(layer, PositionEmbedding):
        return [(f"PositionEmbedding({layer.max_len}, {layer.dim}, {name})", "")]
    if isinstance(layer, MaskedMeanPooling):
        return [(f"{L}GlobalAveragePooling1D()", "the mean over the real tokens: the mask leaves the padding out" if uses_padding_mask(layer) else "")]
    raise TypeError(f"no Keras code for layer {layer!r}")


def _average_pooling(layer: AveragePooling2D, in_shape: tuple[int, ...]) -> list[tuple[str, str]]:
    """Keras' padding="same" never counts its pads: counted pads are explicit zeros, uncounted ones "same" where symmetric."""
    stride, p = layer.strides or layer.pool_size, layer.padding
    pool = f"{L}AveragePooling2D({layer.pool_size}, strides={stride}, padding="
    if p == 0:
        return [(pool + '"valid")', "")]
    if layer.count_include_pad:
        return [(f"{L}ZeroPadding2D({p})", "zeros that count in the mean, as the spec says"), (pool + '"valid")', "")]
    if all(tf_same_padding(n, layer.pool_size, stride) == (p, p) for n in in_shape[:2]):
        return [(pool + '"same")', f"{p} on each side, left out of the mean, as the spec says")]
    raise TypeError(f"Keras' 'same' pads {in_shape[:2]} asymmetrically, not {p} on each side")


def _sequential(spec: TaskSpec) -> bool:
    return is_chain(spec.model) and not any(uses_padding_mask(layer) for layer in spec.model.layers)


def _network(spec: TaskSpec) -> list[str]:
    """`model = keras.Sequential([...])`, or the functional API: one variable per layer output."""
    shapes, fused = layer_shapes(spec.model), _fused_relu(spec)
    dtype = ', dtype="int32"' if spec.model.input_dtype == "int" else ""
    if _sequential(spec):
        lines = ["model = keras.Sequential(", "    [", f"        keras.Input(shape={spec.model.input_shape}{dtype}),"]
        for i, (layer, (in_shape, _)) in enumerate(zip(spec.model.layers, shapes)):
            if i not in fused:
                relu = i + 1 in fused
                lines += [f"        {code},{'  # ' + why if why else ''}" for code, why in _layers(layer, i, in_shape, relu)]
        return lines + ["    ],", f'    name="{spec.name}",', ")"]
    lines = [f"inputs = keras.Input(shape={spec.model.input_shape}{dtype})"]
    if any(uses_padding_mask(layer) for layer in spec.model.layers):
        lines.append(f"keep = keras.ops.not_equal(inputs, {PAD_ID})  # False at the padding slots (token id {PAD_ID})")
    sources, (_, outs, _) = layer_inputs(spec.model), graph_variables(spec.model)
    for i, (layer, (in_shape, _)) in enumerate(zip(spec.model.layers, shapes)):
        if i in fused:
            continue
        ins = ["inputs" if j < 0 else outs[j] for j in sources[i]]
        out = outs[i + 1] if i + 1 in fused else outs[i]  # the ReLU it carries is the output
        x = f"[{', '.join(ins)}]" if isinstance(layer, Add) else ins[0]
        built = _layers(layer, i, in_shape, i + 1 in fused)
        for code, why in built[:-1]:  # explicit zero padding first
            lines.append(f"{out} = {code}({x}){'  # ' + why if why else ''}")
            x = out
        code, why = built[-1]
        if isinstance(layer, MultiHeadSelfAttention):
            mask = ", attention_mask=keras.ops.expand_dims(keep, 1)" if uses_padding_mask(layer) else ""
            call = f"({x}, {x}{mask})"  # query and value: self-attention
            why = why or ("the padding keys masked out" if mask else "")
        elif isinstance(layer, MaskedMeanPooling) and uses_padding_mask(layer):
            call = f"({x}, mask=keep)"
        else:
            call = f"({x})"
        lines.append(f"{out} = {code}{call}{'  # ' + why if why else ''}")
    return lines + [f'model = keras.Model(inputs, x, name="{spec.name}")']


def _position_embedding_class() -> list[str]:
    return [
        "class PositionEmbedding(keras.layers.Layer):",
        '    """Adds a learned vector per position, slot t gets row t (keras-io\'s TokenAndPositionEmbedding, positions only)."""',
        "",
        "    def __init__(self, max_len: int, dim: int, **kwargs):",
        "        super().__init__(**kwargs)",
        '        self.embeddings = self.add_weight(shape=(max_len, dim), initializer="uniform", name="embeddings")',
        "",
        "    def call(self, x):",
        "        return x + self.embeddings[: x.shape[1]]",
        "",
        "",
    ]


def _loss(spec: TaskSpec) -> str:
    if spec.model.loss == "cross_entropy":
        return "loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # the last layer outputs logits, no softmax"
    if spec.model.loss == "mse":
        return "loss = keras.losses.MeanSquaredError()  # mean (logit - target)^2, targets -1/+1"
    return "loss = keras.losses.BinaryCrossentropy(from_logits=True)  # the last layer outputs the logit, no sigmoid"


def _optimizer(spec: TaskSpec) -> list[str]:
    """`optimizer = keras.optimizers...(...)`, every number from the spec with why."""
    opt = spec.optimizer
    args = [f"    learning_rate={number(opt.lr)},  # the spec's learning rate"]
    if opt.name == "sgd":
        cls = "SGD"
        if opt.momentum:
            why = "v = momentum * v - lr * g, the spec's velocity" if opt.velocity == "step" else "Keras' v holds lr: the spec's v = momentum * v + g while lr is constant"
            args.append(f"    momentum={number(opt.momentum)},  # {why}")
        if opt.nesterov:
            args.append("    nesterov=True,")
    elif opt.name == "rmsprop":
        cls = "RMSprop"
        args.append(f"    rho={number(opt.rho)},  # the spec's decay of the mean squared gradient")
        where = "inside the square root, as Keras" if opt.eps_style == "inside" else "outside the square root in the spec; Keras adds it inside"
        args.append(f"    epsilon={number(opt.eps)},  # {where}")
        if opt.momentum:
            args.append(f"    momentum={number(opt.momentum)},")
        if opt.centered:
            args.append("    centered=True,")
    else:
        decoupled = bool(opt.weight_decay) and opt.weight_decay_style == "decoupled"
        cls = "AdamW" if decoupled else "Adam"
        args.append(f"    beta_1={number(opt.beta_1)},  # the spec's (Keras' defaults: 0.9, 0.999)")
        args.append(f"    beta_2={number(opt.beta_2)},")
        if opt.eps_style == "uncorrected":
            args.append(f"    epsilon={number(opt.eps)},  # the spec's eps, added to sqrt(v) as Keras does (default {number(ADAM_EPS)})")
        else:
            args.append(f"    epsilon={number(opt.eps)},  # the spec's (default {number(ADAM_EPS)}); Keras adds it to sqrt(v), the spec to sqrt(v_hat)")
        if decoupled:
            args.append(f"    weight_decay={number(decoupled_rate(opt))},  # decoupled, times the current lr")
    lines = [f"optimizer = keras.optimizers.{cls}(", *args, ")"]
    if opt.weight_decay and opt.weight_decay_style == "l2":
        lines.append(f"# the spec also adds {number(opt.weight_decay)} * w to every gradient (L2): Keras' weight_decay= is decoupled, not this")
    return lines


def _weights(spec: TaskSpec) -> list[str]:
    """One set_weights per weighted layer: Keras' layout is the canonical one, only the order of the list matters."""
    lines = []
    for i, layer in enumerate(spec.model.layers):
        names = [n for n in PARAM_NAMES.get(type(layer), ()) if not (isinstance(layer, MultiHeadSelfAttention) and not layer.bias and "bias" in n)]
        if isinstance(layer, MultiHeadSelfAttention):  # Keras holds kernel then bias per projection
            names = [f"{p}_{kind}" for p in ("query", "key", "value", "output") for kind in ("kernel", "bias") if f"{p}_{kind}" in names]
        arrays = [f'w["{param_key(i, layer, n)}"]' for n in names]
        if len(arrays) > 4:
            lines += [f'    model.get_layer("{layer_name(i, layer)}").set_weights([', *(f"        {a}," for a in arrays), "    ])"]
        elif arrays:
            lines.append(f'    model.get_layer("{layer_name(i, layer)}").set_weights([{", ".join(arrays)}])')
    return lines


def generate(spec: TaskSpec) -> str:
    """The source of a self-contained Keras script for this spec (see the module docstring)."""
    unknown = sorted({type(layer).__name__ for layer in spec.model.layers if not isinstance(layer, SUPPORTED)})
    if unknown:
        raise TypeError(f"no Keras code for {', '.join(unknown)}")
    how = "Keras keeps the canonical layout (NHWC, kernels (in, out)); the backend is KERAS_BACKEND's (tensorflow, jax or torch)"
    lines = header(spec, "Keras", FILE_NAME, how)
    lines += ["import argparse", "import json", "", "import keras", "import numpy as np", ""]
    lines += flags_code() + ["", "keras.utils.set_random_seed(0)", "keras.config.set_floatx(args.dtype)  # layers take their dtype from floatx", "", ""]
    if any(isinstance(layer, PositionEmbedding) for layer in spec.model.layers):
        lines += _position_embedding_class()
    lines += ["# The network"] + _network(spec)
    lines += ['print("parameters:", sum(int(np.prod(v.shape)) for v in model.trainable_weights))', "", ""]
    lines += ["# The loss and the optimizer: fit trains", _loss(spec), *_optimizer(spec), "model.compile(optimizer=optimizer, loss=loss)"]
    if spec.train.lr_decay != 1.0:
        lines.append(f"schedule = keras.callbacks.LearningRateScheduler(lambda epoch: {number(spec.optimizer.lr)} * {number(spec.train.lr_decay)} ** epoch)"
                     "  # the spec's decay per epoch")  # fmt: skip
    lines += ["", ""] + fixed_input_code(spec)
    target = "2.0 * y_fixed - 1.0  # -1/+1 targets for the one logit" if spec.model.loss == "mse" else "y_fixed"
    lines += ["X = X_fixed", f"y = {target}", "", "if args.weights:", "    w = np.load(args.weights)  # arrays only: np.load refuses pickles"]
    lines += _weights(spec)
    lines += ["    logits = model(X, training=False)  # BatchNorm uses its moving statistics, Dropout is off",
              f"    {print_code('logits', 'keras.ops.convert_to_numpy(logits).tolist()')}", "", "if args.steps:"]  # fmt: skip
    callbacks = ", callbacks=[schedule]" if spec.train.lr_decay != 1.0 else ""
    lines += [f"    history = model.fit(X, y, batch_size={spec.train.batch_size}, epochs=args.steps, shuffle=False, verbose=0{callbacks})"
              "  # one step per epoch on the fixed batch", "    for value in history.history[\"loss\"]:",
              f"        {print_code('loss', 'value')}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def unsupported(spec: TaskSpec) -> str | None:
    """Why this spec's network cannot be written as Keras code, or None if it can."""
    try:
        generate(spec)
    except TypeError as exc:
        return str(exc)
    return None
