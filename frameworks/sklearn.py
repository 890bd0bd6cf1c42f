"""scikit-learn adapter: the spec's MLP as `MLPClassifier`, plus classic baselines.

The MLP row (the task's baseline SPEC_MODEL; model id and label "MLPClassifier") trains the spec network with `partial_fit`, one call per
shared batch, starting from the canonical weights, so it is the same model as the PyTorch and Keras rows. The other
rows (logistic regression, TF-IDF, naive Bayes) are the baselines a practitioner would try first; they train once
with `fit`. A task names the baselines it asks for (TaskSpec.baselines); their estimators and settings are here,
keyed by task and baseline name (BASELINES).
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from frameworks import layout, sklearn_export
from frameworks.base import SPEC_MODEL, OnBatch, RunSettings, Weights
from tasks.pipeline import batch_slices
from tasks.spec import BaselineSpec, Dense, OptimizerSpec, ReLU, TaskSpec, count_params
from tasks.text import tokenize

NAME = "sklearn"
_limits = None  # keeps the BLAS/OpenMP thread limit alive for the whole run


def version() -> str:
    """The framework's version string."""
    return sklearn.__version__


def devices() -> list[str]:
    """scikit-learn runs on the CPU only."""
    return ["cpu"]


DETERMINISM = {"cpu": "deterministic given random_state (the row's seed); BLAS/OpenMP threads limited to --threads"}


def configure(settings: RunSettings) -> str:
    """Limit BLAS/OpenMP threads; scikit-learn always runs on the CPU."""
    global _limits
    _limits = threadpool_limits(limits=settings.threads)
    if settings.device == "cuda":
        raise RuntimeError("--device cuda: scikit-learn runs on the CPU only")
    return "cpu"


# ---------------------------------------------------------------- facts the workbench asks for

DTYPES = {"float32": "float32", "float64": "float64"}  # MLPClassifier keeps the input's float dtype
# --precision: NumPy/SciPy compute in float32 or float64 only, on the CPU (scikit-learn has no GPU build)
PRECISIONS = {"cpu": {"fp32": None, "tf32": "no TF32: scikit-learn runs on the CPU only",
                      "bf16": "no mixed precision: NumPy has no bfloat16 matmul", "fp16": "no mixed precision in scikit-learn"}}
MODES = {"eager": "NumPy and SciPy calls as scikit-learn makes them: nothing is compiled (its one mode)"}  # --mode
EPS_STYLES = {"adam": ("uncorrected",)}  # eps placements it runs exactly: MLPClassifier's Adam adds eps to the uncorrected sqrt(v)
HAS_GRADIENTS = False  # no public gradient API: its partial_fit steps are compared in the trajectories
UNBIASED_MOVING_VAR = None  # no BatchNorm
SUMMARY_TITLE = "MLPClassifier"  # shown after the framework name


def unsupported(spec: TaskSpec) -> str | None:
    """Why MLPClassifier cannot be the spec's network, or cannot express its optimizer, or None if it can."""
    other = next(((i, layer) for i, layer in enumerate(spec.model.layers) if not isinstance(layer, (Dense, ReLU))), None)
    if other is not None:
        return f"MLPClassifier builds Dense + ReLU networks only, not model.layers[{other[0]}] ({type(other[1]).__name__})"
    if spec.model.loss != "cross_entropy":
        return f"MLPClassifier trains softmax classifiers (cross_entropy) only, not {spec.model.loss}"
    if spec.model.layers[-1].units < 3:
        return "MLPClassifier uses one logistic output for 2 classes, not 2 logits"
    opt = spec.optimizer
    if opt.name not in ("sgd", "adam"):
        return f"MLPClassifier has no {opt.name} solver (solver='sgd' or 'adam' only)"
    if opt.dampening:
        return "MLPClassifier's SGD has no dampening"
    if opt.weight_decay:
        return "MLPClassifier's alpha is L2 on coefs_ only (never on intercepts_), in the gradient: no decay on every weight"
    return None


def default_optimizer(name: str) -> OptimizerSpec | None:
    """What MLPClassifier(solver=...) uses for preset `name` without further arguments (alpha off, as framebench sets it)."""
    mlp = MLPClassifier()
    if name == "adam":
        return OptimizerSpec(name="adam", beta_1=mlp.beta_1, beta_2=mlp.beta_2, eps=mlp.epsilon, eps_style="uncorrected")
    if name in ("sgd", "momentum", "nesterov"):
        # solver="sgd" is Nesterov momentum 0.9 by default; its velocity holds lr (updates = momentum * v - lr * g)
        return OptimizerSpec(name="sgd", momentum=mlp.momentum, nesterov=mlp.nesterovs_momentum, velocity="step")
    return None


def peak_gpu_mb() -> float | None:
    """scikit-learn uses no GPU."""
    return None


def defaults(spec: TaskSpec) -> dict[str, str]:
    """MLPClassifier's defaults for the topics that apply to it (the spec's network only)."""
    if unsupported(spec):
        return {}
    mlp = MLPClassifier()
    return {
        "kernel init (Dense, Conv)": "uniform(+-sqrt(6 / (fan_in + fan_out))), i.e. Glorot, from random_state",
        "bias init": "uniform, same bound as the kernel",
        "Adam epsilon": f"{mlp.epsilon}, added to sqrt(v) (uncorrected)",
        "SGD learning rate": str(mlp.learning_rate_init),
        "loss input": "softmax built into the output layer",
        "batching and shuffling": f"batch_size={mlp.batch_size!r} (min(200, n)), shuffle={mlp.shuffle}",
        "momentum velocity": f"v = momentum * v - lr * g, w += v (momentum={mlp.momentum}, nesterovs_momentum={mlp.nesterovs_momentum})",
        "L2 penalty": f"alpha={mlp.alpha} (L2 on coefs_ only, gradient alpha * W / batch size)",
    }


def source_names(spec: TaskSpec) -> dict[str, list[str] | str]:
    """The code --explain shows: the MLP's builder and epoch where it applies, then the baselines."""
    names: dict[str, list[str] | str] = {}
    if not unsupported(spec) and any(b.name == SPEC_MODEL for b in spec.baselines):
        names = {
            "Build the model from the spec": ["build_mlp"],
            "The optimizer": "MLPClassifier builds its own optimizer from solver=..., epsilon=... in build_mlp.",
            "The loss": "MLPClassifier always uses softmax cross-entropy (log-loss); there is nothing to choose.",
            "One training epoch": ["Network.fit_epoch"],
        }
    if any(b.name != SPEC_MODEL for b in spec.baselines):
        names["scikit-learn baselines (trained once with fit)"] = ["BASELINES", "Baseline.fit"]
    return names


def summary_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """(coefs_ shape, params) of MLPClassifier's Dense layers, from its own coefs_ after one dummy partial_fit."""
    mlp = build_mlp(spec, seed=spec.train.seed)
    mlp.batch_size = 2
    X = np.zeros((2, int(np.prod(spec.model.input_shape))))
    mlp.partial_fit(X, np.zeros(2, dtype=int), classes=np.arange(spec.model.layers[-1].units))
    dense = iter(zip(mlp.coefs_, mlp.intercepts_))
    cells = []
    for layer in spec.model.layers:
        if isinstance(layer, Dense):
            coef, intercept = next(dense)
            cells.append((f"coefs_ {tuple(coef.shape)}", f"{coef.size + intercept.size:,}"))
        else:
            cells.append(("(built in: activation='relu')", "0"))
    return cells


def create(spec: TaskSpec, settings: RunSettings, model: str) -> "Network | Baseline":
    """The row's object: the spec's MLP (SPEC_MODEL, or its registry id "MLPClassifier") or a one-shot baseline."""
    if model in (SPEC_MODEL, Network.model_label):
        return Network(spec, settings)
    by_name = {b.name: b for b in spec.baselines}
    if model not in by_name:
        raise ValueError(f"unknown scikit-learn model {model!r}: choose from {', '.join(by_name)}")
    return Baseline(spec, settings, by_name[model])


# ---------------------------------------------------------------- the models

# Both text vectorizers use the shared tokenizer (it lower-cases and drops <br /> itself).
SHARED_TOKENS = {"tokenizer": tokenize, "token_pattern": None, "lowercase": False}
# (task, baseline name) -> (estimator builder, input: "features" or "texts"). The task states what it asks for
# (BaselineSpec.about); the estimator and every setting are chosen here.
BASELINES = {
    # lbfgs, the default solver
    ("digits", "logistic_regression"): (lambda: LogisticRegression(C=1.0, max_iter=200), "features"),
    ("mnist", "logistic_regression"): (lambda: LogisticRegression(C=1.0, max_iter=200), "features"),
    ("cifar10", "logistic_regression"): (lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.001, max_iter=300)), "features"),
    ("sentiment", "tfidf_logistic_regression"): (lambda: Pipeline([
        ("tfidf", TfidfVectorizer(**SHARED_TOKENS, ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
        ("clf", LogisticRegression(C=4.0, max_iter=1000)),
    ]), "texts"),
    ("sentiment", "naive_bayes_counts"): (lambda: Pipeline([
        ("counts", CountVectorizer(**SHARED_TOKENS, ngram_range=(1, 2), min_df=2, binary=True)),
        ("clf", MultinomialNB(alpha=1.0)),
    ]), "texts"),
}  # fmt: skip


def build_mlp(spec: TaskSpec, seed: int) -> MLPClassifier:
    """MLPClassifier with the spec's layers and optimizer; regularisation off, shuffling ours."""
    reason = unsupported(spec)
    if reason:
        raise ValueError(reason)
    opt = spec.optimizer
    return MLPClassifier(
        hidden_layer_sizes=tuple(layer.units for layer in spec.model.layers if isinstance(layer, Dense))[:-1],
        activation="relu",
        solver=opt.name,  # "adam" or "sgd"; its Adam adds eps to the uncorrected sqrt(v), like Keras
        alpha=0.0,  # default 1e-4 is an L2 penalty (on coefs_ only, divided by the batch size) the spec does not have
        batch_size=spec.train.batch_size,
        learning_rate="constant",
        learning_rate_init=opt.lr,
        beta_1=opt.beta_1,
        beta_2=opt.beta_2,
        epsilon=opt.eps,
        momentum=opt.momentum,  # its velocity holds lr (v = momentum * v - lr * g): the spec's "step" velocity
        nesterovs_momentum=opt.nesterov,  # default True
        shuffle=False,  # partial_fit sees one shared batch at a time
        random_state=seed,
    )


def _estimator(model: object) -> object:
    """The last step of a pipeline, or the estimator itself."""
    return model[-1] if isinstance(model, Pipeline) else model


def _log_proba_scores(proba: np.ndarray) -> np.ndarray:
    """Log-probabilities (logits up to a per-row constant); one column for two classes, as a logit."""
    log_proba = np.log(np.clip(proba.astype(np.float64), 1e-300, None))  # 1e-300 underflows in float32
    return log_proba[:, 1:] - log_proba[:, :1] if log_proba.shape[1] == 2 else log_proba


class Network:
    """The spec's MLP as MLPClassifier, trained epoch by epoch with one partial_fit per shared batch."""

    kind = "network"

    model_label = "MLPClassifier"  # the table's model column

    def __init__(self, spec: TaskSpec, settings: RunSettings):
        self.spec, self.settings = spec, settings
        self.dtype = settings.dtype

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """The MLP starts from the canonical weights (loaded once its arrays exist, in set_train_data)."""
        self.estimator = build_mlp(self.spec, self.settings.seed)
        self._initial = weights

    def num_params(self) -> int:
        """Trainable parameters: the spec's count (MLPClassifier allocates its arrays on the first batch)."""
        if hasattr(self.estimator, "coefs_"):
            return int(sum(c.size for c in self.estimator.coefs_) + sum(b.size for b in self.estimator.intercepts_))
        return count_params(self.spec.model)

    def get_weights(self) -> Weights:
        """The MLP's weights in the canonical layout."""
        return layout.from_sklearn_mlp(self.spec.model, self.estimator.coefs_, self.estimator.intercepts_)

    def set_weights(self, weights: Weights) -> None:
        """Write canonical weights into the MLP's arrays in place (its optimizer holds references)."""
        coefs, intercepts = layout.to_sklearn_mlp(self.spec.model, weights)
        for target, value in zip(self.estimator.coefs_ + self.estimator.intercepts_, coefs + intercepts):
            target[...] = value

    # -------------------------------------------------------------- data
    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return X.reshape(len(X), -1).astype(self.dtype, copy=False)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Keep the training arrays; the first batch initialises MLPClassifier's internals."""
        self.X, self.y = self._inputs(X), y
        if not hasattr(self.estimator, "coefs_"):
            first = slice(0, self.spec.train.batch_size)
            self._allocate(self.X[first], y[first])

    def _allocate(self, X: np.ndarray, y: np.ndarray) -> None:
        classes = np.arange(self.spec.model.layers[-1].units)
        self.estimator.partial_fit(X, y, classes=classes)  # allocates coefs_
        self.set_weights(self._initial)  # ...then the canonical start replaces its random init
        del self.estimator._optimizer  # and the optimizer restarts from step 0 on the next call

    # -------------------------------------------------------------- training
    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next partial_fit on (the driver's per-epoch schedule).

        Its SGD velocity holds lr ("step"); for the spec's "gradient" velocity it is rescaled by new lr / old lr.
        """
        self.estimator.learning_rate_init = lr  # read when its optimizer is created...
        optimizer = getattr(self.estimator, "_optimizer", None)
        if self.spec.optimizer.velocity == "gradient" and hasattr(optimizer, "velocities") and optimizer.learning_rate != lr:
            optimizer.velocities = [v * (lr / optimizer.learning_rate) for v in optimizer.velocities]
        if hasattr(self.estimator, "_optimizer"):
            self.estimator._optimizer.learning_rate_init = lr  # ...by its Adam at every step...
            self.estimator._optimizer.learning_rate = lr  # ...and as is by its constant-rate SGD

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One epoch of partial_fit calls, one per shared batch; mean loss over samples."""
        total = 0.0
        for batch in batch_slices(len(order), self.spec.train.batch_size):
            idx = order[batch]
            self.estimator.batch_size = len(idx)  # the last batch may be smaller: one step per call
            self.estimator.partial_fit(self.X[idx], self.y[idx])
            total += self.estimator.loss_ * len(idx)  # loss of this batch before its update
            on_batch(len(idx))
        return total / len(order)

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One partial_fit step on one batch."""
        self.estimator.batch_size = len(y)
        self.estimator.partial_fit(self._inputs(X), y)
        return float(self.estimator.loss_)

    # -------------------------------------------------------------- inference
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Log-probabilities: MLPClassifier offers probabilities, not its logits."""
        if not hasattr(self.estimator, "coefs_"):  # built from weights.npz, never trained: allocate on zeros first
            self._allocate(np.zeros((self.spec.train.batch_size, X[0].size), self.dtype), np.zeros(self.spec.train.batch_size, int))
        return _log_proba_scores(self.estimator.predict_proba(self._inputs(X)))

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """predict_proba as it is (the forward check compares probabilities)."""
        return self.estimator.predict_proba(self._inputs(X))

    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Not offered: MLPClassifier exposes no hidden activations; the checks compare its probabilities."""
        return []


class Baseline:
    """A one-shot baseline (logistic regression, TF-IDF, naive Bayes): one `fit`."""

    kind = "baseline"

    def __init__(self, spec: TaskSpec, settings: RunSettings, baseline: BaselineSpec):
        self.spec, self.settings, self.baseline = spec, settings, baseline
        self.trained_on = baseline.max_train  # set by fit: fewer when the data is smaller
        self.dtype = settings.dtype

    @property
    def model_label(self) -> str:
        """Model name shown in the table (says when it trains on a subset)."""
        label = self.baseline.name
        if self.baseline.max_train and self.trained_on == self.baseline.max_train:
            label += f" (first {self.trained_on} train samples)"
        return label

    def build(self) -> None:
        """The untrained estimator from the BASELINES table."""
        key = (self.spec.name, self.baseline.name)
        if key not in BASELINES:
            known = ", ".join(f"{task}/{name}" for task, name in BASELINES)
            raise ValueError(f"scikit-learn has no baseline {self.baseline.name!r} for task {self.spec.name!r}: it has {known}")
        builder, self.input_kind = BASELINES[key]
        self.estimator = builder()

    def num_params(self) -> int:
        """Fitted coefficients of a linear model, or naive Bayes' log-probabilities."""
        clf = _estimator(self.estimator)
        if hasattr(clf, "coef_"):
            return int(clf.coef_.size + np.size(clf.intercept_))
        if hasattr(clf, "feature_log_prob_"):
            return int(clf.feature_log_prob_.size + clf.class_log_prior_.size)
        return 0

    def _inputs(self, X: np.ndarray, texts: tuple[str, ...] | None) -> object:
        return list(texts) if self.input_kind == "texts" else X.reshape(len(X), -1).astype(self.dtype, copy=False)

    def fit(self, X: np.ndarray, y: np.ndarray, texts: tuple[str, ...] | None = None) -> int:
        """Fit once (on the first max_train samples); returns its iteration count."""
        n = self.trained_on = min(self.baseline.max_train or len(y), len(y))
        self.estimator.fit(self._inputs(X[:n], texts[:n] if texts else None), y[:n])
        return int(np.max(getattr(_estimator(self.estimator), "n_iter_", 1)))

    def predict(self, X: np.ndarray, texts: tuple[str, ...] | None = None) -> np.ndarray:
        """Scores whose argmax (or sign, for one column) is the prediction.

        Linear models give their decision function; naive Bayes its log-probabilities.
        """
        inputs = self._inputs(X, texts)
        if isinstance(_estimator(self.estimator), MultinomialNB):
            return _log_proba_scores(self.estimator.predict_proba(inputs))
        scores = self.estimator.decision_function(inputs)
        return scores.reshape(-1, 1) if scores.ndim == 1 else scores


# ---------------------------------------------------------------- deployment

EXPORTS = sklearn_export.EXPORTS  # the MLP's coefficients as plain arrays, read back by a NumPy forward pass
export = sklearn_export.export
load = sklearn_export.load
