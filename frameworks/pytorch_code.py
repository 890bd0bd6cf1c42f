"""The spec's network as a PyTorch user writes it: `generate(spec)` returns a self-contained script.

`nn.Sequential(...)` for a chain of plain modules, else an `nn.Module` with a `forward`; the loss, the optimizer
with the spec's numbers, a training step, and the canonical weights loaded with every layout change written out
(the same conversions as frameworks/layout.py, in plain NumPy). The script imports only torch and NumPy.
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
    is_chain,
    layer_inputs,
    layer_name,
    layer_shapes,
    param_key,
)
from tasks.spec_attention import PAD_ID, uses_padding_mask

FILE_NAME = "pytorch_model.py"  # not torch.py or pytorch.py beside keras_model.py: a script named like a package shadows it
SUPPORTED = (Dense, ReLU, Conv2D, MaxPool2D, BatchNorm, Flatten, Dropout, Embedding, LSTM,
             GRU, Conv1D, GlobalMaxPool1D, AveragePooling2D, GlobalAveragePooling2D, LayerNorm, Add,
             MultiHeadSelfAttention, GELU, PositionEmbedding, MaskedMeanPooling)  # fmt: skip
PLAIN = (Dense, ReLU, Conv2D, MaxPool2D, BatchNorm, Flatten, Dropout, AveragePooling2D)  # nn.Sequential can hold these
BATCHNORM_EPS, BATCHNORM_MOMENTUM = 1e-5, 0.1  # torch.nn.BatchNorm2d's defaults
LAYERNORM_EPS = 1e-5  # torch.nn.LayerNorm's default


def _module(layer: object, in_shape: tuple[int, ...]) -> tuple[str, str] | None:
    """(constructor, comment) of the torch module holding this layer, or None for a layer written in `forward`."""
    if isinstance(layer, Dense):
        return f"nn.Linear({in_shape[-1]}, {layer.units})", ""
    if isinstance(layer, ReLU):
        return "nn.ReLU()", ""
    if isinstance(layer, Conv2D):
        return f"nn.Conv2d({in_shape[-1]}, {layer.filters}, {layer.kernel_size}, padding={layer.padding})", "zeros on each side"
    if isinstance(layer, MaxPool2D):
        return f"nn.MaxPool2d({layer.pool_size})", ""
    if isinstance(layer, BatchNorm):
        norm = "nn.BatchNorm2d" if len(in_shape) == 3 else "nn.BatchNorm1d"
        same = layer.eps == BATCHNORM_EPS and layer.momentum == BATCHNORM_MOMENTUM
        why = "the spec's eps and momentum (torch's defaults)" if same else f"the spec's (torch's defaults: eps {number(BATCHNORM_EPS)}, momentum 0.1)"
        return f"{norm}({in_shape[-1]}, eps={number(layer.eps)}, momentum={number(layer.momentum)})", why
    if isinstance(layer, Flatten):
        return "nn.Flatten()", "C, H, W order: the next kernel's rows are permuted when loading" if len(in_shape) == 3 else ""
    if isinstance(layer, Dropout):
        return f"nn.Dropout({number(layer.rate)})", ""
    if isinstance(layer, AveragePooling2D):
        stride = layer.strides or layer.pool_size
        return (f"nn.AvgPool2d({layer.pool_size}, {stride}, padding={layer.padding}, count_include_pad={layer.count_include_pad})",
                "the spec states the divisor at padded edges")  # fmt: skip
    if isinstance(layer, Embedding):
        return f"nn.Embedding({layer.vocab_size}, {layer.dim})", ""
    if isinstance(layer, LSTM):
        return f"nn.LSTM({in_shape[-1]}, {layer.units}, batch_first=True)", "no packing: the sequences are pre-padded"
    if isinstance(layer, GRU):
        return f"nn.GRU({in_shape[-1]}, {layer.units}, batch_first=True)", "reset after, two biases, as the spec's GRU"
    if isinstance(layer, Conv1D):
        return f"nn.Conv1d({in_shape[-1]}, {layer.filters}, {layer.kernel_size}, padding={layer.padding})", ""
    if isinstance(layer, LayerNorm):
        why = "the spec's eps (torch's default)" if layer.eps == LAYERNORM_EPS else f"the spec's eps (torch's default: {number(LAYERNORM_EPS)})"
        return f"nn.LayerNorm({in_shape[-1]}, eps={number(layer.eps)})", why
    if isinstance(layer, MultiHeadSelfAttention):
        if layer.heads * layer.head_dim != in_shape[-1]:
            raise TypeError(f"nn.MultiheadAttention splits the width {in_shape[-1]} into heads: {layer.heads} x {layer.head_dim} does not")
        return (f"nn.MultiheadAttention({in_shape[-1]}, {layer.heads}, bias={layer.bias}, batch_first=True)",
                f"{layer.heads} heads of {layer.head_dim}")  # fmt: skip
    if isinstance(layer, PositionEmbedding):
        return f"nn.Embedding({layer.max_len}, {layer.dim})", "one learned vector per position"
    if isinstance(layer, (GlobalMaxPool1D, GlobalAveragePooling2D, Add, GELU, MaskedMeanPooling)):
        return None
    raise TypeError(f"no PyTorch code for layer {layer!r}")


def _forward(layer: object, name: str, out: str, ins: list[str], in_shape: tuple[int, ...]) -> list[str]:
    """The lines of `forward` that compute this layer's output `out` from `ins` (NCHW images, (N, L, C) sequences)."""
    x = ins[0]
    if isinstance(layer, ReLU):
        return [f"{out} = torch.relu({x})"]
    if isinstance(layer, Flatten):
        return [f"{out} = {x}.flatten(1)  # C, H, W order"]
    if isinstance(layer, LSTM):
        return [f"_, (h, _) = self.{name}({x})", f"{out} = h[-1]  # the last hidden state"]
    if isinstance(layer, GRU):
        return [f"_, h = self.{name}({x})", f"{out} = h[-1]  # the last hidden state"]
    if isinstance(layer, Conv1D):
        return [f"{out} = self.{name}({x}.transpose(1, 2)).transpose(1, 2)  # nn.Conv1d wants (N, C, L)"]
    if isinstance(layer, GlobalMaxPool1D):
        return [f"{out} = {x}.amax(dim=1)  # the maximum over the sequence"]
    if isinstance(layer, GlobalAveragePooling2D):
        return [f"{out} = {x}.mean(dim=(2, 3))  # the mean over H and W"]
    if isinstance(layer, LayerNorm) and len(in_shape) == 3:
        return [f"{out} = self.{name}({x}.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # normalise the channels, the last axis"]
    if isinstance(layer, Add):
        return [f"{out} = {' + '.join(ins)}"]
    if isinstance(layer, GELU):
        kind = "exact (erf)" if layer.approximate == "none" else "the tanh approximation"
        return [f'{out} = nn.functional.gelu({x}, approximate="{layer.approximate}")  # {kind}, as the spec says']
    if isinstance(layer, PositionEmbedding):
        return [f"{out} = {x} + self.{name}.weight[: {x}.shape[1]]  # slot t gets row t"]
    if isinstance(layer, MultiHeadSelfAttention):
        mask = ", key_padding_mask=padding" if uses_padding_mask(layer) else ""
        return [f"{out}, _ = self.{name}({x}, {x}, {x}{mask}, need_weights=False)"]
    if isinstance(layer, MaskedMeanPooling) and uses_padding_mask(layer):
        return [f"keep = (~padding).unsqueeze(-1).to({x}.dtype)",
                f"{out} = ({x} * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)  # the mean over the real tokens"]  # fmt: skip
    if isinstance(layer, MaskedMeanPooling):
        return [f"{out} = {x}.mean(dim=1)"]
    return [f"{out} = self.{name}({x})"]


def _network(spec: TaskSpec) -> list[str]:
    """`model = nn.Sequential(...)`, or a class Net(nn.Module) and `model = Net()`."""
    shapes = layer_shapes(spec.model)
    if is_chain(spec.model) and all(isinstance(layer, PLAIN) for layer in spec.model.layers):
        lines = ["model = nn.Sequential("]
        for layer, (in_shape, _) in zip(spec.model.layers, shapes):
            module, why = _module(layer, in_shape)
            lines.append(f"    {module},{'  # ' + why if why else ''}")
        return lines + [")"]
    lines = ["class Net(nn.Module):", f'    """{spec.title or spec.name}."""', "", "    def __init__(self):", "        super().__init__()"]
    for i, (layer, (in_shape, _)) in enumerate(zip(spec.model.layers, shapes)):
        built = None if isinstance(layer, (ReLU, Flatten)) else _module(layer, in_shape)
        if built:
            lines.append(f"        self.{layer_name(i, layer)} = {built[0]}{'  # ' + built[1] if built[1] else ''}")
        if isinstance(layer, LSTM):
            lines.append(f"        self.{layer_name(i, layer)}.bias_hh_l0.requires_grad_(False)  # the spec's LSTM has one bias: b_hh stays 0")
    source, outs, ins = graph_variables(spec.model)
    lines += ["", "    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    if any(uses_padding_mask(layer) for layer in spec.model.layers):
        lines.append(f"        padding = x == {PAD_ID}  # True at the padding slots (token id {PAD_ID}): attention and pooling skip them")
    if source != "x":
        lines.append(f"        {source} = x")
    for i, (layer, (in_shape, _)) in enumerate(zip(spec.model.layers, shapes)):
        lines += [f"        {line}" for line in _forward(layer, layer_name(i, layer), outs[i], ins[i], in_shape)]
    lines.append("        return x")
    return lines + ["", "", "model = Net()"]


def _after_image_flatten(spec: TaskSpec) -> dict[int, tuple[int, int, int]]:
    """Index of each Dense that reads a Flatten of an image -> that image's (H, W, C)."""
    shapes, sources, layers = layer_shapes(spec.model), layer_inputs(spec.model), spec.model.layers
    return {i: shapes[j][0] for i, layer in enumerate(layers) for j in sources[i][:1]
            if isinstance(layer, Dense) and j >= 0 and isinstance(layers[j], Flatten) and len(shapes[j][0]) == 3}  # fmt: skip


def _state(spec: TaskSpec) -> list[str]:
    """The `state = {...}` dict: torch's state_dict names <- the canonical arrays, each conversion written out."""
    sequential = is_chain(spec.model) and all(isinstance(layer, PLAIN) for layer in spec.model.layers)
    flattened, lines = _after_image_flatten(spec), ["    state = {"]
    shapes = layer_shapes(spec.model)
    for i, layer in enumerate(spec.model.layers):
        p = f"{i}." if sequential else f"{layer_name(i, layer)}."
        w = lambda name: f'w["{param_key(i, layer, name)}"]'  # noqa: E731
        if isinstance(layer, Dense) and i in flattened:
            h, wd, c = flattened[i]
            lines.append(f'        "{p}weight": {w("kernel")}.reshape({h}, {wd}, {c}, -1).transpose(2, 0, 1, 3).reshape({h * wd * c}, -1).T,'
                         "  # rows H, W, C -> C, H, W (torch's Flatten), then (in, out) -> (out, in)")  # fmt: skip
            lines.append(f'        "{p}bias": {w("bias")},')
        elif isinstance(layer, Dense):
            lines += [f'        "{p}weight": {w("kernel")}.T,  # (in, out) -> (out, in)', f'        "{p}bias": {w("bias")},']
        elif isinstance(layer, Conv2D):
            lines += [f'        "{p}weight": {w("kernel")}.transpose(3, 2, 0, 1),  # HWIO -> OIHW', f'        "{p}bias": {w("bias")},']
        elif isinstance(layer, Conv1D):
            lines += [f'        "{p}weight": {w("kernel")}.transpose(2, 1, 0),  # (k, in, out) -> (out, in, k)', f'        "{p}bias": {w("bias")},']
        elif isinstance(layer, BatchNorm):
            lines += [f'        "{p}weight": {w("gamma")},', f'        "{p}bias": {w("beta")},',
                      f'        "{p}running_mean": {w("moving_mean")},', f'        "{p}running_var": {w("moving_var")},']  # fmt: skip
        elif isinstance(layer, LayerNorm):
            lines += [f'        "{p}weight": {w("gamma")},', f'        "{p}bias": {w("beta")},']
        elif isinstance(layer, (Embedding, PositionEmbedding)):
            lines.append(f'        "{p}weight": {w("embeddings")},')
        elif isinstance(layer, MultiHeadSelfAttention):
            width = shapes[i][0][-1]  # E
            qkv = ", ".join(w(f"{n}_kernel") + f".reshape({width}, -1)" for n in ("query", "key", "value"))
            lines += [f'        "{p}in_proj_weight": np.concatenate([{qkv}], axis=1).T,  # q, k, v (E, H, D) -> one (3 H*D, E)',
                      f'        "{p}out_proj.weight": {w("output_kernel")}.reshape(-1, {width}).T,  # (H, D, E) -> (E, H*D)']  # fmt: skip
            if layer.bias:
                qkv = ", ".join(w(f"{n}_bias") + ".reshape(-1)" for n in ("query", "key", "value"))
                lines += [f'        "{p}in_proj_bias": np.concatenate([{qkv}]),', f'        "{p}out_proj.bias": {w("output_bias")},']
        elif isinstance(layer, LSTM):
            lines += [f'        "{p}weight_ih_l0": {w("kernel")}.T,  # (in, 4u) -> (4u, in); gates i, f, c, o in both',
                      f'        "{p}weight_hh_l0": {w("recurrent_kernel")}.T,', f'        "{p}bias_ih_l0": {w("bias")},',
                      f'        "{p}bias_hh_l0": np.zeros_like({w("bias")}),  # torch\'s second bias']  # fmt: skip
        elif isinstance(layer, GRU):
            lines += [f'        "{p}weight_ih_l0": gru_gates({w("kernel")}).T,  # gates z, r, h -> r, z, n; (in, 3u) -> (3u, in)',
                      f'        "{p}weight_hh_l0": gru_gates({w("recurrent_kernel")}).T,',
                      f'        "{p}bias_ih_l0": gru_gates({w("bias")}[0]),  # row 0: the input bias',
                      f'        "{p}bias_hh_l0": gru_gates({w("bias")}[1]),  # row 1: the recurrent bias']  # fmt: skip
    return lines + ["    }"]


def _optimizer(spec: TaskSpec) -> list[str]:
    """`optimizer = torch.optim...(...)`, every number from the spec with why; plus the lr schedule if any."""
    opt = spec.optimizer
    args = ["    model.parameters(),", f"    lr={number(opt.lr)},  # the spec's learning rate"]
    l2 = opt.weight_decay if opt.weight_decay_style == "l2" else 0.0
    if opt.name == "sgd":
        cls = "torch.optim.SGD"
        if opt.momentum:
            why = "v = momentum * v + g; the spec's velocity holds lr (Keras'): the same while lr is constant" if opt.velocity == "step" else "v = momentum * v + g"
            args.append(f"    momentum={number(opt.momentum)},  # {why}")
        if opt.dampening:
            args.append(f"    dampening={number(opt.dampening)},  # the spec's (torch's default: 0)")
        if opt.nesterov:
            args.append("    nesterov=True,")
    elif opt.name == "rmsprop":
        cls = "torch.optim.RMSprop"
        args.append(f"    alpha={number(opt.rho)},  # the spec's rho (torch's default alpha: 0.99)")
        where = "outside the square root, as torch" if opt.eps_style == "outside" else "inside the square root in the spec; torch adds it outside"
        args.append(f"    eps={number(opt.eps)},  # {where}")
        if opt.centered:
            args.append("    centered=True,")
        if opt.momentum:
            args.append(f"    momentum={number(opt.momentum)},")
    else:
        decoupled = bool(opt.weight_decay) and opt.weight_decay_style == "decoupled"
        cls = "torch.optim.AdamW" if decoupled else "torch.optim.Adam"
        args.append(f"    betas=({number(opt.beta_1)}, {number(opt.beta_2)}),  # the spec's (torch's defaults: 0.9, 0.999)")
        if opt.eps_style == "corrected":
            args.append(f"    eps={number(opt.eps)},  # the spec's eps, added to sqrt(v_hat) as torch does (torch's default: 1e-8)")
        else:
            args.append(f"    eps={number(opt.eps)},  # rescaled at every step in train_step: the spec adds it to sqrt(v), not sqrt(v_hat)")
        if decoupled:
            args.append(f"    weight_decay={number(decoupled_rate(opt))},  # decoupled, times the current lr (torch's default: 0.01)")
    if l2:
        args.append(f"    weight_decay={number(l2)},  # L2: weight_decay * w added to the gradient")
    lines = [f"optimizer = {cls}(", *args, ")"]
    if spec.train.lr_decay != 1.0:
        lines.append(f"scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma={number(spec.train.lr_decay)})"
                     "  # the spec's lr decay: scheduler.step() after each epoch")  # fmt: skip
    return lines


def _loss(spec: TaskSpec) -> str:
    if spec.model.loss == "cross_entropy":
        return "loss_fn = nn.CrossEntropyLoss()  # takes logits: the softmax is part of the loss"
    if spec.model.loss == "mse":
        return "loss_fn = nn.MSELoss()  # mean (logit - target)^2, targets -1/+1"
    return "loss_fn = nn.BCEWithLogitsLoss()  # takes the logit: the sigmoid is part of the loss"


def _targets(spec: TaskSpec) -> str:
    if spec.model.loss == "cross_entropy":
        return "y = torch.as_tensor(y_fixed)"
    if spec.model.loss == "mse":
        return "y = torch.as_tensor(2.0 * y_fixed - 1.0, dtype=dtype).reshape(-1, 1)  # -1/+1 targets for the one logit"
    return "y = torch.as_tensor(y_fixed, dtype=dtype).reshape(-1, 1)"


def _train_step(spec: TaskSpec) -> list[str]:
    opt = spec.optimizer
    lines = ["def train_step(X: torch.Tensor, y: torch.Tensor) -> float:", '    """One optimizer step on one batch; returns its loss."""']
    if opt.name == "adam" and opt.eps_style == "uncorrected":
        lines = ["step = 0  # steps taken: the eps rescaling below needs t", "", "", *lines, "    global step", "    step += 1",
                 "    # the spec adds eps to sqrt(v) (Keras' Adam); on torch's sqrt(v_hat) that is eps / sqrt(1 - beta_2^t)",
                 f'    optimizer.param_groups[0]["eps"] = {number(opt.eps)} / (1 - {number(opt.beta_2)} ** step) ** 0.5']  # fmt: skip
    lines.append("    model.train()")
    return lines + ["    optimizer.zero_grad()", "    loss = loss_fn(model(X), y)", "    loss.backward()", "    optimizer.step()",
                    "    return loss.item()"]  # fmt: skip


def generate(spec: TaskSpec) -> str:
    """The source of a self-contained PyTorch script for this spec (see the module docstring)."""
    unknown = sorted({type(layer).__name__ for layer in spec.model.layers if not isinstance(layer, SUPPORTED)})
    if unknown:
        raise TypeError(f"no PyTorch code for {', '.join(unknown)}")
    images = len(spec.model.input_shape) == 3
    lines = header(spec, "PyTorch", FILE_NAME, "PyTorch keeps images NCHW and kernels (out, in, ...): the weights are converted")
    lines += ["import argparse", "import json", "", "import numpy as np", "import torch", "from torch import nn", ""]
    lines += flags_code() + ["", "torch.manual_seed(0)", "dtype = getattr(torch, args.dtype)", "", ""]
    lines += ["# The network" + (": NCHW images inside, as torch convolutions want them" if images else "")]
    lines += _network(spec)
    to = ("model = model.to(dtype, memory_format=torch.channels_last)  # 4-D weights channels-last (NHWC in memory): "
          "oneDNN's fastest CPU kernels, same values") if images else "model = model.to(dtype)"
    lines += ["", to, 'print("parameters:", sum(p.numel() for p in model.parameters() if p.requires_grad))', "", ""]
    lines += ["# The loss and the optimizer", _loss(spec), *_optimizer(spec), "", ""]
    lines += [*_train_step(spec), "", ""]
    if any(isinstance(layer, GRU) for layer in spec.model.layers):
        lines += ["def gru_gates(a: np.ndarray) -> np.ndarray:", '    """Gate blocks on the last axis: z, r, h (the canonical, Keras\' order) -> r, z, n (torch\'s)."""',
                  "    z, r, h = np.split(a, 3, axis=-1)", "    return np.concatenate([r, z, h], axis=-1)", "", ""]  # fmt: skip
    lines += fixed_input_code(spec)
    lines.append("X = torch.as_tensor(X_fixed.transpose(0, 3, 1, 2))  # NHWC -> NCHW" if images else "X = torch.as_tensor(X_fixed)")
    lines += [_targets(spec), "", "if args.weights:", "    w = np.load(args.weights)  # arrays only: np.load refuses pickles"]
    lines += _state(spec)
    lines += ["    result = model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=False)",
              '    assert not result.unexpected_keys and all(k.endswith("num_batches_tracked") for k in result.missing_keys), result',
              "    model.eval()  # BatchNorm uses its running statistics, Dropout is off", "    with torch.no_grad():",
              f"        {print_code('logits', 'model(X).tolist()')}", "", "for _ in range(args.steps):",
              f"    {print_code('loss', 'train_step(X, y)')}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def unsupported(spec: TaskSpec) -> str | None:
    """Why this spec's network cannot be written as PyTorch code, or None if it can."""
    try:
        generate(spec)
    except TypeError as exc:
        return str(exc)
    return None
