"""Framework defaults that differ, read from the installed libraries, and what the spec sets instead.

Which rows apply is derived from the spec's layer types and optimizer: no BatchNorm rows for a
network without BatchNorm. Every default is read from the library itself (signatures, fresh
layers, docstrings), so the table follows the installed versions.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from tasks.spec import LSTM, BatchNorm, Conv2D, Dense, Embedding, Flatten, TaskSpec

NOT_APPLICABLE = "-"


@dataclass(frozen=True)
class DefaultRow:
    """One difference: each framework's default, the value the spec sets, and why it matters."""

    topic: str
    pytorch: str
    keras: str
    sklearn: str
    spec: str
    why: str


def _default(fn: object, name: str) -> object:
    """The default value of parameter `name` in the signature of `fn`."""
    return inspect.signature(fn).parameters[name].default


def _torch_line(fn: object, needle: str) -> str:
    """The first line of `fn`'s source containing `needle`, stripped (e.g. torch's init call)."""
    for line in inspect.getsource(fn).splitlines():
        if needle in line and not line.strip().startswith("#"):
            return line.strip()
    return f"(no line with {needle!r} in {getattr(fn, '__qualname__', fn)})"


def _keras_fit_batch_size() -> str:
    """Keras documents fit's batch_size default (the signature says None) in the docstring."""
    import keras

    found = re.search(r"`batch_size`\s+will\s+default\s+to\s+(\d+)", inspect.getdoc(keras.Model.fit) or "")
    return found.group(1) if found else "(not documented)"


def _has(spec: TaskSpec, kind: type) -> bool:
    return any(isinstance(layer, kind) for layer in spec.model.layers)


def default_rows(spec: TaskSpec, with_sklearn_mlp: bool) -> list[DefaultRow]:
    """The rows that apply to this spec, defaults read from torch, keras and scikit-learn."""
    import keras
    import torch
    from sklearn.neural_network import MLPClassifier
    from torch import nn
    from torch.utils.data import DataLoader

    sk = (lambda text: text) if with_sklearn_mlp else (lambda text: NOT_APPLICABLE)  # noqa: E731
    mlp = MLPClassifier()
    rows: list[DefaultRow] = []
    if _has(spec, Dense) or _has(spec, Conv2D):
        dense = keras.layers.Dense(1)
        rows.append(DefaultRow(
            "kernel init (Dense, Conv)",
            _torch_line(nn.Linear.reset_parameters, "kaiming_uniform_"),
            type(dense.kernel_initializer).__name__,
            sk("uniform(+-sqrt(6 / (fan_in + fan_out))), i.e. Glorot, from random_state"),
            spec.init.kernel,
            "initial weights are drawn once in NumPy (tasks/init.py) and loaded into every framework",
        ))  # fmt: skip
        rows.append(DefaultRow(
            "bias init",
            _torch_line(nn.Linear.reset_parameters, "init.uniform_(self.bias"),
            type(dense.bias_initializer).__name__,
            sk("uniform, same bound as the kernel"),
            spec.init.bias,
            "same: the canonical weights replace every framework's own init",
        ))  # fmt: skip
    if _has(spec, BatchNorm):
        bn, layer = keras.layers.BatchNormalization(), next(l for l in spec.model.layers if isinstance(l, BatchNorm))
        rows.append(DefaultRow(
            "BatchNorm momentum",
            f"{_default(nn.BatchNorm2d, 'momentum')} (weight of the NEW batch statistic)",
            f"{bn.momentum} (weight of the OLD running value)",
            NOT_APPLICABLE,
            f"{layer.momentum} (PyTorch meaning; Keras gets 1 - {layer.momentum})",
            "the two libraries define momentum in opposite directions",
        ))  # fmt: skip
        rows.append(DefaultRow(
            "BatchNorm epsilon", str(_default(nn.BatchNorm2d, "eps")), str(bn.epsilon), NOT_APPLICABLE,
            str(layer.eps), "eps is added to the variance: a different eps is a different function",
        ))  # fmt: skip
    if spec.optimizer.name == "adam":
        rows.append(DefaultRow(
            "Adam epsilon",
            f"{_default(torch.optim.Adam, 'eps')}, added to sqrt(v_hat) (bias-corrected)",
            f"{_default(keras.optimizers.Adam, 'epsilon')}, added to sqrt(v) (uncorrected)",
            sk(f"{mlp.epsilon}, added to sqrt(v) (uncorrected)"),
            f"{spec.optimizer.eps} ({spec.optimizer.eps_style})",
            "eps differs in value and in where it enters; the adapters add a custom Adam where needed",
        ))  # fmt: skip
    if spec.optimizer.name == "sgd":
        rows.append(DefaultRow(
            "SGD learning rate", str(_default(torch.optim.SGD, "lr")), str(_default(keras.optimizers.SGD, "learning_rate")),
            sk(str(mlp.learning_rate_init)), str(spec.optimizer.lr), "every adapter passes the spec's lr explicitly",
        ))  # fmt: skip
    if _has(spec, Conv2D):
        rows.append(DefaultRow(
            "Conv2D padding",
            f"padding={_default(nn.Conv2d, 'padding')!r} (explicit pixels per side)",
            f"padding={_default(keras.layers.Conv2D, 'padding')!r} ('same' or 'valid' only)",
            NOT_APPLICABLE,
            f"{next(l for l in spec.model.layers if isinstance(l, Conv2D)).padding} per side",
            "stride-1 'same' with an odd kernel is symmetric, so it equals torch's explicit padding",
        ))  # fmt: skip
        rows.append(DefaultRow(
            "image layout", "NCHW (channels first)", f"{keras.config.image_data_format()} (NHWC)", NOT_APPLICABLE,
            "NHWC (canonical)", "the torch adapter transposes inputs and kernels (frameworks/layout.py)",
        ))  # fmt: skip
    if _has(spec, Flatten) and _has(spec, Conv2D):
        rows.append(DefaultRow(
            "Flatten order", "C, H, W", "H, W, C", NOT_APPLICABLE, "H, W, C",
            "the first Dense after Flatten sees its inputs in a different order; layout.py permutes its rows",
        ))  # fmt: skip
    if _has(spec, Embedding):
        emb = keras.layers.Embedding(2, 2)
        rows.append(DefaultRow(
            "Embedding init", _torch_line(nn.Embedding.reset_parameters, "init.normal_"), f"{type(emb.embeddings_initializer).__name__}"
            f"({emb.embeddings_initializer.minval}, {emb.embeddings_initializer.maxval})", NOT_APPLICABLE,
            f"uniform(-{spec.init.embedding_scale}, {spec.init.embedding_scale})", "canonical weights again",
        ))  # fmt: skip
        rows.append(DefaultRow(
            "padding mask", "none (pack sequences to skip padding)", f"Embedding mask_zero={emb.mask_zero}",
            NOT_APPLICABLE, "pre-padded sequences, no mask", "both frameworks then see the same padded steps",
        ))  # fmt: skip
    if _has(spec, LSTM):
        lstm = keras.layers.LSTM(1)
        rows.append(DefaultRow(
            "LSTM biases", "two: bias_ih and bias_hh", "one bias", NOT_APPLICABLE,
            "one bias (torch gets it in bias_ih, bias_hh = 0)", "two biases add up: only their sum matters",
        ))  # fmt: skip
        rows.append(DefaultRow(
            "LSTM init", _torch_line(nn.RNNBase.reset_parameters, "init.uniform_"),
            f"recurrent {type(lstm.cell.recurrent_initializer).__name__}, unit_forget_bias={lstm.cell.unit_forget_bias}",
            NOT_APPLICABLE, f"recurrent {spec.init.recurrent}, forget bias {spec.init.forget_bias}",
            "canonical weights again",
        ))  # fmt: skip
    loss_cls = keras.losses.SparseCategoricalCrossentropy if spec.model.loss == "cross_entropy" else keras.losses.BinaryCrossentropy
    rows.append(DefaultRow(
        "loss input", "nn.CrossEntropyLoss / BCEWithLogitsLoss take logits",
        f"{loss_cls.__name__} from_logits={_default(loss_cls, 'from_logits')} (expects probabilities)",
        sk("softmax built into the output layer"), "last layer outputs logits; Keras gets from_logits=True",
        "with from_logits=False on logits Keras trains on the wrong loss, silently",
    ))  # fmt: skip
    rows.append(DefaultRow(
        "batching and shuffling",
        f"your own loop (DataLoader: batch_size={_default(DataLoader, 'batch_size')}, shuffle={_default(DataLoader, 'shuffle')})",
        f"fit: batch_size {_keras_fit_batch_size()}, shuffle={_default(keras.Model.fit, 'shuffle')}",
        sk(f"batch_size={mlp.batch_size!r} (min(200, n)), shuffle={mlp.shuffle}"),
        f"batch {spec.train.batch_size}, one shared order per epoch from seed {spec.train.seed}",
        "every adapter walks the same batches in the same order: shuffle=False in fit" + (" and MLPClassifier" if with_sklearn_mlp else ""),
    ))  # fmt: skip
    if with_sklearn_mlp:
        rows.append(DefaultRow(
            "L2 penalty", f"Adam weight_decay={_default(torch.optim.Adam, 'weight_decay')}",
            f"Adam weight_decay={keras.optimizers.Adam().weight_decay}", f"alpha={mlp.alpha}", "none (alpha=0.0)",
            "MLPClassifier's default L2 term would make it a different objective",
        ))  # fmt: skip
    return rows


def table_rows(rows: list[DefaultRow], frameworks: list[str]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells for the frameworks shown (the spec and why columns always)."""
    headers = ["topic", *frameworks, "spec sets", "why"]
    return headers, [[r.topic, *(getattr(r, f) for f in frameworks), r.spec, r.why] for r in rows]
