"""The differing-defaults table: topics, what the spec sets, why it matters, and how much it matters here; each
framework's cell comes from its adapter module (`defaults(spec)`, read from the installed library in its child
process); the measured size of a difference, on this spec's network, from workbench/teach/difference_sizes.py.

Which topics apply follows the spec's layers and optimizer: no BatchNorm rows for a network without
BatchNorm. A framework with nothing to say on a topic shows NOT_APPLICABLE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tasks.spec import (GELU, GRU, LSTM, AveragePooling2D, BatchNorm, Conv2D, Dense, Embedding, Flatten, LayerNorm,
                        MultiHeadSelfAttention, TaskSpec, has_layer)  # fmt: skip
from workbench.teach import difference_sizes as sizes

NOT_APPLICABLE = "-"


@dataclass(frozen=True)
class Topic:
    """One row of the table, framework-neutral."""

    name: str  # the key every adapter's defaults() answers
    applies: Callable[[TaskSpec], bool]
    spec_sets: Callable[[TaskSpec], str]
    why: str
    measure: sizes.Measure | None = None  # the size of the difference on the spec's network; None: nothing to measure


def _first(spec: TaskSpec, kind: type):  # noqa: ANN202 - a layer
    return next(layer for layer in spec.model.layers if isinstance(layer, kind))


TOPICS = (
    Topic("kernel init (Dense, Conv)", lambda s: has_layer(s, Dense) or has_layer(s, Conv2D), lambda s: s.init.kernel,
          "initial weights are drawn once in NumPy (tasks/init.py) and loaded into every framework"),
    Topic("bias init", lambda s: has_layer(s, Dense) or has_layer(s, Conv2D), lambda s: s.init.bias,
          "same: the canonical weights replace every framework's own init"),
    Topic("BatchNorm momentum", lambda s: has_layer(s, BatchNorm),
          lambda s: f"{_first(s, BatchNorm).momentum} (weight of the new batch statistic; 1 - m where a framework means the old value)",
          "frameworks define momentum in opposite directions", sizes.batchnorm_momentum),
    Topic("BatchNorm epsilon", lambda s: has_layer(s, BatchNorm), lambda s: str(_first(s, BatchNorm).eps),
          "eps is added to the variance: a different eps is a different function", sizes.batchnorm_eps),
    Topic("Adam epsilon", lambda s: s.optimizer.name == "adam", lambda s: f"{s.optimizer.eps} ({s.optimizer.eps_style})",
          "eps differs in value and in where it enters; the adapters add a custom Adam where needed", sizes.adam_eps),
    Topic("SGD learning rate", lambda s: s.optimizer.name == "sgd", lambda s: str(s.optimizer.lr),
          "every adapter passes the spec's lr explicitly", sizes.sgd_lr),
    Topic("Conv2D padding", lambda s: has_layer(s, Conv2D), lambda s: f"{_first(s, Conv2D).padding} per side",
          "stride-1 'same' with an odd kernel is symmetric, so it equals explicit padding"),
    Topic("image layout", lambda s: has_layer(s, Conv2D), lambda s: "NHWC (canonical)",
          "channels-first adapters transpose inputs and kernels (frameworks/layout.py)"),
    Topic("Flatten order", lambda s: has_layer(s, Flatten) and has_layer(s, Conv2D), lambda s: "H, W, C",
          "the first Dense after Flatten sees its inputs in a different order; layout.py permutes its rows", sizes.flatten_order),
    Topic("Embedding init", lambda s: has_layer(s, Embedding),
          lambda s: f"uniform(-{s.init.embedding_scale}, {s.init.embedding_scale})", "canonical weights again"),
    Topic("padding mask", lambda s: has_layer(s, Embedding),
          lambda s: "attention and pooling skip id 0 (below)" if has_layer(s, MultiHeadSelfAttention) else "pre-padded sequences, no mask",
          "every framework then sees the same padded steps"),
    Topic("LSTM biases", lambda s: has_layer(s, LSTM), lambda s: "one bias (a second bias, where a framework has one, stays 0)",
          "two biases add up: only their sum matters"),
    Topic("LSTM init", lambda s: has_layer(s, LSTM),
          lambda s: f"recurrent {s.init.recurrent}, forget bias {s.init.forget_bias}", "canonical weights again"),
    Topic("GRU gates and biases", lambda s: has_layer(s, GRU), lambda s: "gates z, r, h; reset after, two biases (tasks/spec_layers.py)",
          "the gate blocks are stacked in different orders, and a cell without the recurrent bias is another function"),
    Topic("LayerNorm epsilon", lambda s: has_layer(s, LayerNorm), lambda s: str(_first(s, LayerNorm).eps),
          "eps is added to each sample's variance: on small activations a different eps is a visibly different output",
          sizes.layernorm_eps),
    Topic("GELU approximation", lambda s: has_layer(s, GELU),
          lambda s: f"approximate={_first(s, GELU).approximate!r} ({'erf' if _first(s, GELU).approximate == 'none' else 'tanh'})",
          "the tanh formula is not erf: a small, systematic difference in every activation", sizes.gelu),
    Topic("attention projections", lambda s: has_layer(s, MultiHeadSelfAttention),
          lambda s: f"kernels (E, H, D) per projection, output (H, D, E); H={_first(s, MultiHeadSelfAttention).heads}, "
          f"D={_first(s, MultiHeadSelfAttention).head_dim}",
          "packed, per-projection and per-head layouts: frameworks/layout.py converts; a wrong head split is silent",
          sizes.attention_projections),
    Topic("attention padding mask", lambda s: has_layer(s, MultiHeadSelfAttention),
          lambda s: f"mask {_first(s, MultiHeadSelfAttention).mask!r}: keys whose id is 0 get weight 0",
          "True (or 1) means 'attend' in some APIs and 'ignore' in others", sizes.attention_mask),
    Topic("attention softmax dtype", lambda s: has_layer(s, MultiHeadSelfAttention),
          lambda s: f"{_first(s, MultiHeadSelfAttention).softmax_dtype} (the input's dtype: float64 in --check)",
          "a float32 softmax inside a float64 network caps its agreement near 1e-7", sizes.attention_softmax),
    Topic("AveragePooling2D padded edges", lambda s: has_layer(s, AveragePooling2D),
          lambda s: f"padding {_first(s, AveragePooling2D).padding}, count_include_pad={_first(s, AveragePooling2D).count_include_pad}",
          "an edge window divides by all its pixels or by the real ones only: up to 2.25x at a corner of a 3x3 window",
          sizes.avgpool_edges),
    Topic("loss input", lambda s: True, lambda s: "the last layer outputs logits; every loss is told so",
          "a loss that expects probabilities, given logits, trains on the wrong loss, silently"),
    Topic("batching and shuffling", lambda s: True,
          lambda s: f"batch {s.train.batch_size}, one shared order per epoch from seed {s.train.seed}",
          "every adapter walks the same batches in the same order: the frameworks' own shuffling is off"),
    Topic("RMSprop decay and epsilon", lambda s: s.optimizer.name == "rmsprop",
          lambda s: f"rho {s.optimizer.rho}, eps {s.optimizer.eps} {s.optimizer.eps_style} the square root",
          "the decay has two names and two defaults, and eps sits inside or outside the square root"),
    Topic("momentum velocity", lambda s: bool(s.optimizer.momentum),
          lambda s: f"momentum {s.optimizer.momentum}, velocity '{s.optimizer.velocity}' (tasks/spec.py)",
          "equal while lr is constant; once lr changes, a velocity that holds lr remembers the old one"),
    Topic("L2 penalty", lambda s: True,
          lambda s: f"{s.optimizer.weight_decay_style} {s.optimizer.weight_decay}" if s.optimizer.weight_decay else "none",
          "a default L2 term would make it a different objective; L2 in the gradient is not decoupled decay under Adam"),
)


def table_rows(spec: TaskSpec, cells: dict[str, dict[str, str]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for the frameworks in `cells` (framework -> topic -> its default).

    A topic is shown when it applies to the spec and at least one framework has a default for it. Its measured size
    (workbench/teach/difference_sizes.py): the spec's network at its canonical init, each framework's other default
    in turn; NOT_APPLICABLE where no framework's default differs or the topic has nothing to measure.
    """
    frameworks = list(cells)
    headers = ["topic", *frameworks, "spec sets", "why", "measured size"]
    rows, probe = [], None
    for topic in TOPICS:
        values = [cells[f].get(topic.name, NOT_APPLICABLE) for f in frameworks]
        if topic.applies(spec) and any(v != NOT_APPLICABLE for v in values):
            found = []
            if topic.measure is not None:
                probe = probe or sizes.probe(spec)
                found = topic.measure(probe, [v for v in values if v != NOT_APPLICABLE])
            rows.append([topic.name, *values, topic.spec_sets(spec), topic.why, "; ".join(found) or NOT_APPLICABLE])
    return headers, rows
