"""Export and reload for the scikit-learn adapter: the MLP's coefficients in an .npz, read back by a NumPy forward pass.

scikit-learn's own persistence (pickle, joblib) runs code when it is loaded, and skl2onnx is not installed, so the
MLPClassifier is exported as what it is: its `coefs_` and `intercepts_` (float arrays, no pickle). Reading it back
needs neither scikit-learn nor pickle: tasks/safe_files.py checks every member's shape against the spec before
reading it, and `predict` runs MLPClassifier's forward pass in NumPy (ReLU hidden layers, softmax output),
returning the same log-probabilities as the in-memory model. frameworks/sklearn.py names them in EXPORTS.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from frameworks.base import Export, Network, RunSettings
from tasks.download import DataError
from tasks.safe_files import SafeNpz, float64_npz_limit
from tasks.spec import Dense, TaskSpec

COEFFICIENTS = "mlp_coefficients.npz"
EXPORTS = {  # artifact -> what it is
    COEFFICIENTS: Export("NumPy forward pass", "SafeNpz (no pickle) + NumPy ReLU and softmax", runs_code=False),
}


def _shapes(spec: TaskSpec) -> dict[str, tuple[int, ...]]:
    """coef_I (fan_in, units) and intercept_I (units,) for every Dense layer of the spec, as MLPClassifier holds them."""
    shapes, fan_in = {}, math.prod(spec.model.input_shape)
    for i, layer in enumerate(layer for layer in spec.model.layers if isinstance(layer, Dense)):
        shapes[f"coef_{i}"], shapes[f"intercept_{i}"] = (fan_in, layer.units), (layer.units,)
        fan_in = layer.units
    return shapes


def export(network: Network, artifact: str, path: str) -> str:
    """Write the trained MLPClassifier's coefficients (MLPClassifier's own (in, out) layout) as plain arrays."""
    if artifact != COEFFICIENTS:
        raise ValueError(f"sklearn has no artifact {artifact!r}")
    estimator = network.estimator
    with open(path, "wb") as f:  # np.savez on a path would append ".npz" to a name without it
        np.savez(f, **{f"coef_{i}": c for i, c in enumerate(estimator.coefs_)},
                 **{f"intercept_{i}": b for i, b in enumerate(estimator.intercepts_)})  # fmt: skip
    return "np.savez(coefs_, intercepts_)"


def read_coefficients(path: str, spec: TaskSpec) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(coefs, intercepts) of a COEFFICIENTS file, every member's shape and dtype checked before it is read."""
    expected = _shapes(spec)
    with SafeNpz(path, float64_npz_limit(expected), DataError, "coefficients file") as npz:
        declared = {name: (h.shape, h.dtype) for name, h in npz.headers.items()}
        wrong = sorted(set(expected) ^ set(declared)) or [n for n in expected if declared[n][0] != expected[n]]
        if wrong or any(dtype.kind != "f" for _, dtype in declared.values()):
            raise DataError(f"{path}: does not hold the coefficients of spec {spec.name!r} (first difference: {wrong[:1]})")
        arrays = {name: npz.read(name) for name in expected}
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise DataError(f"{path}: holds NaN or infinite coefficients: refused")
    count = len(expected) // 2
    return [arrays[f"coef_{i}"] for i in range(count)], [arrays[f"intercept_{i}"] for i in range(count)]


def forward(coefs: list[np.ndarray], intercepts: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    """MLPClassifier's predict_proba for a multi-class softmax MLP with ReLU hidden layers, in NumPy."""
    activation = X
    for coef, intercept in zip(coefs[:-1], intercepts[:-1]):
        activation = np.maximum(activation @ coef + intercept, 0)
    scores = activation @ coefs[-1] + intercepts[-1]
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))  # sklearn.neural_network._base.softmax
    return scores / scores.sum(axis=1, keepdims=True)


def load(artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]:
    """Read the coefficients back without scikit-learn; predict(X) -> log-probabilities, as the MLP row's predict."""
    if artifact != COEFFICIENTS:
        raise ValueError(f"sklearn has no artifact {artifact!r}")
    coefs, intercepts = read_coefficients(path, spec)
    coefs, intercepts = [c.astype(settings.dtype) for c in coefs], [b.astype(settings.dtype) for b in intercepts]

    def predict(X: np.ndarray) -> np.ndarray:
        proba = forward(coefs, intercepts, X.reshape(len(X), -1).astype(settings.dtype, copy=False))
        return np.log(np.clip(proba.astype(np.float64), 1e-300, None))  # as frameworks/sklearn.py's _log_proba_scores

    return predict
