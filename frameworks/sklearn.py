"""scikit-learn adapter: the spec's MLP as `MLPClassifier`, plus classic baselines.

The MLP row trains the spec network with `partial_fit`, one call per shared batch, starting
from the canonical weights, so it is the same model as the PyTorch and Keras rows. The other
rows (logistic regression, linear SGD, TF-IDF, naive Bayes) are the baselines a
practitioner would try first; they train once with `fit`.
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from frameworks import layout
from frameworks.base import OnBatch, RunSettings, Weights
from tasks.pipeline import batch_slices
from tasks.spec import BaselineSpec, Dense, ReLU, TaskSpec, count_params

NAME = "sklearn"
_limits = None  # keeps the BLAS/OpenMP thread limit alive for the whole run


def version() -> str:
    """The framework's version string."""
    return sklearn.__version__


def configure(settings: RunSettings) -> str:
    """Limit BLAS/OpenMP threads; scikit-learn always runs on the CPU."""
    global _limits
    _limits = threadpool_limits(limits=settings.threads)
    return "cpu"


def _flat(X: np.ndarray) -> np.ndarray:
    return X.reshape(len(X), -1)


def _section(options: dict, name: str) -> dict:
    """Keyword arguments of one pipeline step; the spec stores them as (key, value) pairs to stay hashable."""
    return dict(options.get(name, ()))


# name -> (estimator builder, input: "features" or "texts")
BASELINES = {
    "logistic_regression": (lambda o: LogisticRegression(**o), "features"),
    "standardized_logistic_regression": (lambda o: make_pipeline(StandardScaler(), LogisticRegression(**o)), "features"),
    "standardized_sgd": (lambda o: make_pipeline(StandardScaler(), SGDClassifier(**o)), "features"),
    "tfidf_logistic_regression": (
        lambda o: Pipeline([("tfidf", TfidfVectorizer(**_section(o, "vectorizer"))), ("clf", LogisticRegression(**_section(o, "classifier")))]),
        "texts",
    ),
    "naive_bayes_counts": (
        lambda o: Pipeline([("counts", CountVectorizer(**_section(o, "vectorizer"))), ("clf", MultinomialNB(**_section(o, "classifier")))]),
        "texts",
    ),
}


def build_mlp(spec: TaskSpec, seed: int) -> MLPClassifier:
    """MLPClassifier with the spec's layers and optimizer; regularisation off, shuffling ours."""
    layers = spec.model.layers
    if not all(isinstance(layer, (Dense, ReLU)) for layer in layers) or spec.model.loss != "cross_entropy":
        raise ValueError("MLPClassifier only builds Dense + ReLU classifiers")
    opt = spec.optimizer
    return MLPClassifier(
        hidden_layer_sizes=tuple(layer.units for layer in layers if isinstance(layer, Dense))[:-1],
        activation="relu",
        solver=opt.name,  # "adam" or "sgd"; its Adam adds eps to the uncorrected sqrt(v), like Keras
        alpha=0.0,  # default 1e-4 is an L2 penalty the other frameworks do not have
        batch_size=spec.train.batch_size,
        learning_rate="constant",
        learning_rate_init=opt.lr,
        beta_1=opt.beta_1,
        beta_2=opt.beta_2,
        epsilon=opt.eps,
        momentum=opt.momentum,
        nesterovs_momentum=False,
        shuffle=False,  # partial_fit sees one shared batch at a time
        random_state=seed,
    )


class Adapter:
    """One scikit-learn row: the spec's MLP (epoch by epoch) or a one-shot baseline."""

    name = NAME

    def __init__(self, spec: TaskSpec, settings: RunSettings, model: str):
        by_name = {b.name: b for b in spec.baselines}
        if model not in by_name:
            raise ValueError(f"unknown scikit-learn model {model!r}: choose from {', '.join(by_name)}")
        self.spec, self.settings, self.model_name = spec, settings, model
        self.baseline: BaselineSpec = by_name[model]
        self.epochwise = self.baseline.kind == "mlp"
        self.trained_on = self.baseline.max_train  # set by fit_all: fewer when the data is smaller
        self.dtype = settings.dtype

    @property
    def model_label(self) -> str:
        """Model name shown in the table (says when it trains on a subset)."""
        label = self.model_name
        if self.baseline.max_train and self.trained_on == self.baseline.max_train:
            label += f" (first {self.trained_on} train samples)"
        return label

    # -------------------------------------------------------------- model and weights
    def build(self, weights: Weights) -> None:
        """The MLP starts from the canonical weights; baselines are built untrained."""
        if self.epochwise:
            self.estimator = build_mlp(self.spec, self.settings.seed)
            self._initial = weights
        else:
            builder, self.input_kind = BASELINES[self.baseline.kind]
            self.estimator = builder(dict(self.baseline.options))

    def num_params(self) -> int:
        """Trainable parameters: the spec's count for the MLP, fitted coefficients for linear models."""
        if self.epochwise:
            return count_params(self.spec.model)
        clf = self.estimator[-1] if isinstance(self.estimator, Pipeline) else self.estimator
        if hasattr(clf, "coef_"):
            return int(clf.coef_.size + np.size(clf.intercept_))
        if hasattr(clf, "feature_log_prob_"):
            return int(clf.feature_log_prob_.size + clf.class_log_prior_.size)
        return 0

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
        return _flat(X).astype(self.dtype, copy=False)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Keep the training arrays; the first batch initialises MLPClassifier's internals."""
        self.X, self.y = self._inputs(X), y
        if self.epochwise and not hasattr(self.estimator, "coefs_"):
            first = slice(0, self.spec.train.batch_size)
            classes = np.arange(self.spec.data.num_classes)
            self.estimator.partial_fit(self.X[first], y[first], classes=classes)  # allocates coefs_
            self.set_weights(self._initial)  # ...then the canonical start replaces its random init
            del self.estimator._optimizer  # and the optimizer restarts from step 0 on the next call

    # -------------------------------------------------------------- training
    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next partial_fit on (the driver's per-epoch schedule)."""
        self.estimator.learning_rate_init = lr  # read when its optimizer is created...
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

    def fit_all(self, X: np.ndarray, y: np.ndarray, texts: tuple[str, ...] | None = None) -> int:
        """Fit a baseline once (on the first max_train samples); returns its iteration count."""
        n = self.trained_on = min(self.baseline.max_train or len(y), len(y))
        inputs = list(texts[:n]) if self.input_kind == "texts" else self._inputs(X[:n])
        self.estimator.fit(inputs, y[:n])
        clf = self.estimator[-1] if isinstance(self.estimator, Pipeline) else self.estimator
        return int(np.max(getattr(clf, "n_iter_", 1)))

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One partial_fit step on one batch (the MLP only)."""
        self.estimator.batch_size = len(y)
        self.estimator.partial_fit(self._inputs(X), y)
        return float(self.estimator.loss_)

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Not offered: scikit-learn exposes no public gradient API."""
        raise NotImplementedError("scikit-learn has no public gradient API")

    # -------------------------------------------------------------- inference
    def predict(self, X: np.ndarray, texts: tuple[str, ...] | None = None) -> np.ndarray:
        """Scores whose argmax (or sign, for one column) is the prediction.

        The MLP returns log-probabilities (logits up to a per-row constant); linear models
        their decision function; naive Bayes its joint log-likelihood.
        """
        inputs = list(texts) if not self.epochwise and self.input_kind == "texts" else self._inputs(X)
        if self.epochwise or isinstance(self.estimator[-1] if isinstance(self.estimator, Pipeline) else self.estimator, MultinomialNB):
            proba = self.estimator.predict_proba(inputs).astype(np.float64)  # 1e-300 underflows in float32
            log_proba = np.log(np.clip(proba, 1e-300, None))
            return log_proba[:, 1:] - log_proba[:, :1] if log_proba.shape[1] == 2 else log_proba
        scores = self.estimator.decision_function(inputs)
        return scores.reshape(-1, 1) if scores.ndim == 1 else scores
