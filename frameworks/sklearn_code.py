"""The spec's network as a scikit-learn user writes it: `MLPClassifier`, where the engine can build the network.

MLPClassifier builds Dense + ReLU softmax classifiers with its own optimizer (sgd or adam) from its arguments:
`generate(spec)` writes that call with the spec's numbers, `partial_fit` as the training step, and the canonical
weights copied into `coefs_` and `intercepts_` (the canonical (in, out) layout). Imports only scikit-learn and NumPy.
"""

from __future__ import annotations

from frameworks.code_common import fixed_input_code, flags_code, header, number, print_code
from tasks.spec import Dense, ReLU, TaskSpec, is_chain, param_key

FILE_NAME = "sklearn_model.py"  # not sklearn.py: a script named sklearn.py would be imported by its own `import sklearn`
SUPPORTED = (Dense, ReLU)
ADAM_EPS = 1e-8  # MLPClassifier's default epsilon


def unsupported(spec: TaskSpec) -> str | None:
    """Why MLPClassifier cannot be this spec's network and optimizer, or None if it can."""
    layers = spec.model.layers
    pattern = all(isinstance(layer, Dense if i % 2 == 0 else ReLU) for i, layer in enumerate(layers)) and len(layers) % 2 == 1
    if not (pattern and is_chain(spec.model) and spec.model.loss == "cross_entropy" and len(spec.model.input_shape) == 1):
        return "MLPClassifier builds Dense + ReLU softmax classifiers only (Dense, ReLU, ..., Dense on feature vectors)"
    if layers[-1].units < 3:
        return "MLPClassifier uses one logistic output for 2 classes, not 2 logits"
    opt = spec.optimizer
    if opt.name not in ("sgd", "adam"):
        return f"MLPClassifier has no {opt.name} solver (solver='sgd' or 'adam' only)"
    if opt.dampening or opt.weight_decay:
        return "MLPClassifier's SGD has no dampening, and its alpha is L2 on coefs_ only, not on every weight"
    return None


def _estimator(spec: TaskSpec) -> list[str]:
    """`model = MLPClassifier(...)`, every number from the spec with why."""
    opt = spec.optimizer
    hidden = tuple(layer.units for layer in spec.model.layers if isinstance(layer, Dense))[:-1]
    args = [f"    hidden_layer_sizes={hidden},  # the spec's Dense layers but the last (the output layer is implied)",
            '    activation="relu",', f'    solver="{opt.name}",',
            "    alpha=0.0,  # no L2 penalty: its default 1e-4 (on coefs_ only) is not in the spec",
            f"    batch_size={spec.train.batch_size},  # the spec's batch size",
            '    learning_rate="constant",', f"    learning_rate_init={number(opt.lr)},  # the spec's learning rate"]  # fmt: skip
    if opt.name == "adam":
        args += [f"    beta_1={number(opt.beta_1)},", f"    beta_2={number(opt.beta_2)},"]
        where = "added to sqrt(v), as its Adam does" if opt.eps_style == "uncorrected" else f"its Adam adds it to sqrt(v), the spec to sqrt(v_hat) (default {number(ADAM_EPS)})"
        args.append(f"    epsilon={number(opt.eps)},  # the spec's eps, {where}")
    else:
        args += [f"    momentum={number(opt.momentum)},  # its velocity holds lr: v = momentum * v - lr * g (default 0.9)",
                 f"    nesterovs_momentum={opt.nesterov},  # default True"]  # fmt: skip
    args += ["    shuffle=False,  # partial_fit sees one batch at a time", "    random_state=0,"]
    return ["model = MLPClassifier(", *args, ")"]


def generate(spec: TaskSpec) -> str:
    """The source of a self-contained scikit-learn script for this spec; ValueError where MLPClassifier cannot build it."""
    reason = unsupported(spec)
    if reason:
        raise ValueError(reason)
    classes = spec.model.layers[-1].units
    how = "MLPClassifier keeps kernels (in, out), the canonical layout, in coefs_ and intercepts_"
    lines = header(spec, "scikit-learn", FILE_NAME, how)
    lines += ["import argparse", "import json", "", "import numpy as np", "from sklearn.neural_network import MLPClassifier", ""]
    lines += flags_code() + ["", ""] + fixed_input_code(spec) + ["X, y = X_fixed, y_fixed  # MLPClassifier computes in X's dtype", "", ""]
    lines += ["# The network, the loss (always softmax cross-entropy) and the optimizer: MLPClassifier builds them from its arguments"]
    lines += _estimator(spec)
    lines += ["# it creates its weights in the first partial_fit (which also takes one step); the canonical weights replace them",
              "model.set_params(batch_size=len(X))  # the fixed batch is smaller than the spec's batch_size",
              f"model.partial_fit(X, y, classes=np.arange({classes}))",
              'print("parameters:", sum(c.size for c in model.coefs_) + sum(b.size for b in model.intercepts_))', "",
              "if args.weights:", "    w = np.load(args.weights)  # arrays only: np.load refuses pickles"]  # fmt: skip
    dense = [(i, layer) for i, layer in enumerate(spec.model.layers) if isinstance(layer, Dense)]
    for n, (i, layer) in enumerate(dense):
        lines += [f'    model.coefs_[{n}][...] = w["{param_key(i, layer, "kernel")}"]  # in place: its optimizer holds these arrays',
                  f'    model.intercepts_[{n}][...] = w["{param_key(i, layer, "bias")}"]']  # fmt: skip
    lines += ["    # MLPClassifier offers probabilities, not its logits: log-probabilities are the logits minus their log-sum-exp",
              f"    {print_code('log_probabilities', 'np.log(model.predict_proba(X)).tolist()')}", "",
              "for _ in range(args.steps):", "    model.partial_fit(X, y)  # one step on the fixed batch",
              f"    {print_code('loss', 'float(model.loss_)')}"]  # fmt: skip
    return "\n".join(lines) + "\n"
