"""Numerical equivalence of one spec in PyTorch, Keras and scikit-learn, against the NumPy reference.

Three checks, each giving a list of `Row`s (one comparison each, elementwise, never sorted):

* forward: the same canonical weights and batch in every adapter -> per-layer outputs, logits,
  probabilities (scikit-learn's MLPClassifier only offers predict_proba);
* gradient: training-mode loss and the gradient of every trainable parameter, canonical layout;
  plus reference analytic gradients vs central finite differences on a few samples and coordinates;
* trajectory: K optimizer steps on identical batches with dropout off, every weight after every step:
  plain SGD, Adam with matched eps semantics (both styles), and each framework's default Adam.

Status of a row. The measure is the max abs diff in float64 and the max abs diff divided by the
largest magnitude of the right-hand side ("max rel") in float32; `tol` comes from the spec's Tolerances:

* OK           measure <= tol
* INACCURATE   tol < measure <= 1000 * tol   (agrees to a few digits less than promised)
* FAIL         measure > 1000 * tol, a NaN, or a shape mismatch (a bug, e.g. a wrong weight mapping)
* INFO         reported, not judged: default-Adam drift and documented convention differences
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from frameworks.base import RunSettings, load_adapter_module, missing_packages
from tasks import reference
from tasks.init import init_weights
from tasks.spec import LSTM, BaselineSpec, BatchNorm, Conv2D, Dense, Dropout, OptimizerSpec, ReLU, TaskSpec, count_params
from workbench.layer_outputs import LAYER_OUTPUTS

Weights = dict[str, np.ndarray]
REFERENCE = "reference"
FRAMEWORKS = ("pytorch", "keras", "sklearn")
WITH_GRADIENTS = ("pytorch", "keras")  # scikit-learn has no public gradient API
SKLEARN_MLP = "MLPClassifier"  # the scikit-learn row that is the spec's own network
INACCURATE_FACTOR = 1000.0
UNBIASED_MOVING_VAR = {"pytorch": True, "keras": False, "sklearn": True}  # BatchNorm running variance
SGD_LR = 0.05  # plain SGD in the trajectory check: large enough that weights move visibly in 50 steps
# Each framework's Adam as a user gets it without arguments (the lr stays the spec's).
DEFAULT_ADAM = {
    "pytorch": OptimizerSpec(name="adam", eps=1e-8, eps_style="corrected"),  # torch.optim.Adam()
    "keras": OptimizerSpec(name="adam", eps=1e-7, eps_style="uncorrected"),  # keras.optimizers.Adam()
    "sklearn": OptimizerSpec(name="adam", eps=1e-8, eps_style="uncorrected"),  # MLPClassifier(solver="adam")
}


@dataclass(frozen=True)
class Row:
    """One comparison: `left` vs `right` on one item (layer, parameter or step)."""

    check: str  # forward | gradient | finite_difference | trajectory
    dtype: str  # float32 | float64 (the frameworks' dtype; the reference is always float64)
    pair: str  # e.g. "pytorch vs reference"
    item: str  # layer label, parameter name or "step 5"
    max_abs: float  # max |left - right|
    max_rel: float  # max |left - right| / max |right|
    tol: float  # the tolerance the measure is judged against
    status: str  # OK | INACCURATE | FAIL | INFO
    variant: str = ""  # trajectory: the optimizer
    note: str = ""  # e.g. the worst parameter of a step


@dataclass(frozen=True)
class CheckConfig:
    """How big the checks are; `default_config` picks it from the spec."""

    batch_size: int = 8  # samples per batch (forward, gradient, each trajectory step)
    steps: int = 50  # trajectory steps
    fd_samples: int = 2  # samples in the finite-difference instance
    fd_coords: int = 8  # coordinates per parameter checked by finite differences
    dtypes: tuple[str, ...] = ("float64", "float32")
    frameworks: tuple[str, ...] = FRAMEWORKS
    threads: int = 1  # every framework's threads: one (tiny batches; two spin for 0.2 s per conv on a busy machine)
    seed: int = 0  # weights, perturbations, random inputs, finite-difference coordinates


@dataclass
class Report:
    """Everything `compare.py --check` prints."""

    task: str
    inputs: str  # where the inputs came from
    config: CheckConfig
    rows: list[Row] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # framework -> reason
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True if any row is FAIL."""
        return any(r.status == "FAIL" for r in self.rows)


def default_config(spec: TaskSpec, frameworks: tuple[str, ...] = FRAMEWORKS, threads: int = 1) -> CheckConfig:
    """8 samples and 50 steps; large CNN/LSTM specs get 4 samples and 10 steps (the report says so)."""
    heavy = any(isinstance(l, (Conv2D, LSTM)) for l in spec.model.layers) and count_params(spec.model) > 20_000
    if heavy:
        return CheckConfig(batch_size=4, steps=10, fd_samples=1, fd_coords=4, frameworks=frameworks, threads=threads)
    return CheckConfig(frameworks=frameworks, threads=threads)


# ---------------------------------------------------------------- judging


def judge(measure: float, tol: float) -> str:
    """OK / INACCURATE / FAIL, as the module docstring defines them."""
    if not math.isfinite(measure):
        return "FAIL"
    if measure <= tol:
        return "OK"
    return "INACCURATE" if measure <= INACCURATE_FACTOR * tol else "FAIL"


def difference(left: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """(max abs diff, max abs diff / max |right|), elementwise; NaN on a shape mismatch."""
    a, b = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if a.shape != b.shape:
        return math.nan, math.nan
    if a.size == 0:
        return 0.0, 0.0
    max_abs = float(np.max(np.abs(a - b)))
    return max_abs, max_abs / max(float(np.max(np.abs(b))), np.finfo(np.float64).tiny)


def measure_of(dtype: str, max_abs: float, max_rel: float) -> float:
    """float64 rows are judged on the absolute, float32 rows on the relative difference."""
    return max_abs if dtype == "float64" else max_rel


def pair_rows(check: str, dtype: str, values: dict[str, dict[str, np.ndarray]], tol: float, model_scale: bool = False) -> list[Row]:
    """A row for every pair of participants (later vs earlier) and every item both have.

    model_scale: max rel is relative to the largest magnitude over all items of the right side,
    not of the item alone (a gradient that is exactly 0, e.g. a conv bias before BatchNorm, has no scale).
    """
    rows, names = [], list(values)
    for j, right in enumerate(names):
        scale = max(float(np.max(np.abs(v))) for v in values[right].values()) if model_scale else None
        for left in names[j + 1 :]:
            for item, expected in values[right].items():
                if item in values[left]:
                    max_abs, max_rel = difference(values[left][item], expected)
                    if scale is not None:
                        max_rel = max_abs / max(scale, np.finfo(np.float64).tiny)
                    status = judge(measure_of(dtype, max_abs, max_rel), tol)
                    rows.append(Row(check, dtype, f"{left} vs {right}", item, max_abs, max_rel, tol, status))
    return rows


# ---------------------------------------------------------------- spec, weights and inputs


def check_spec(spec: TaskSpec, batch_size: int) -> TaskSpec:
    """The spec with dropout off (rate 0) and the check's batch size."""
    layers = tuple(replace(l, rate=0.0) if isinstance(l, Dropout) else l for l in spec.model.layers)
    return replace(spec, model=replace(spec.model, layers=layers), train=replace(spec.train, batch_size=batch_size))


def check_weights(spec: TaskSpec, seed: int) -> Weights:
    """The spec's initial weights with biases, BatchNorm gamma/beta and moving statistics moved off
    their constant start (0 or 1), so a wrong bias or statistic mapping cannot hide behind zeros."""
    rng = np.random.default_rng(seed + 1)
    weights = init_weights(spec.model, spec.init, seed)
    for key, value in weights.items():
        name = key.split(".")[1]
        if name in ("bias", "beta", "moving_mean"):
            weights[key] = value + rng.normal(0.0, 0.1, value.shape)
        elif name == "gamma":
            weights[key] = value * rng.uniform(0.8, 1.2, value.shape)
        elif name == "moving_var":
            weights[key] = rng.uniform(0.5, 1.5, value.shape)
    return weights


def output_units(spec: TaskSpec) -> int:
    """Width of the last Dense layer (the logits)."""
    return [l.units for l in spec.model.layers if isinstance(l, Dense)][-1]


def random_inputs(spec: TaskSpec, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n random samples of the spec's input shape: U[0, 1) features or token ids, random labels."""
    rng = np.random.default_rng(seed + 2)
    if spec.model.input_dtype == "int":
        vocab = next(l.vocab_size for l in spec.model.layers if hasattr(l, "vocab_size"))
        X = rng.integers(0, vocab, size=(n, *spec.model.input_shape))
    else:
        X = rng.random((n, *spec.model.input_shape))
    classes = output_units(spec) if spec.model.loss == "cross_entropy" else 2
    return X, rng.integers(0, classes, size=n)


def probabilities(logits: np.ndarray, loss: str) -> np.ndarray:
    """Softmax over classes, or the sigmoid of one logit."""
    logits = np.asarray(logits, dtype=np.float64)
    if loss == "binary_cross_entropy":
        return reference.sigmoid(logits)
    return np.exp(logits - np.logaddexp.reduce(logits, axis=1, keepdims=True))


# ---------------------------------------------------------------- frameworks


def sklearn_reason(spec: TaskSpec) -> str | None:
    """Why MLPClassifier cannot build this spec, or None if it can."""
    if not all(isinstance(l, (Dense, ReLU)) for l in spec.model.layers) or spec.model.loss != "cross_entropy":
        return "MLPClassifier builds Dense + ReLU softmax classifiers only"
    if output_units(spec) < 3:
        return "MLPClassifier uses one logistic output for 2 classes, not 2 logits"
    return None


class Frameworks:
    """Imports each framework once; a missing or unusable one is recorded in `skipped`."""

    def __init__(self, spec: TaskSpec, names: tuple[str, ...], threads: int):
        self.threads, self.modules, self.skipped = threads, {}, {}
        for name in names:
            missing = missing_packages(name)
            reason = sklearn_reason(spec) if name == "sklearn" else None
            if missing:
                self.skipped[name] = f"not installed: {', '.join(missing)}"
            elif reason:
                self.skipped[name] = reason
            else:
                self.modules[name] = load_adapter_module(name)

    def build(self, name: str, spec: TaskSpec, dtype: str, weights: Weights, X: np.ndarray, y: np.ndarray):  # noqa: ANN201
        """A fresh adapter of `spec` in `dtype`, loaded with `weights`."""
        module = self.modules[name]
        settings = RunSettings(device="cpu", threads=self.threads, dtype=dtype, seed=spec.train.seed, progress=False)
        module.configure(settings)
        if name != "sklearn":
            adapter = module.Adapter(spec, settings)
            adapter.build(weights)
            return adapter
        spec = replace(spec, data=replace(spec.data, num_classes=output_units(spec)), baselines=(BaselineSpec(SKLEARN_MLP, "mlp"),))
        adapter = module.Adapter(spec, settings, SKLEARN_MLP)
        adapter.build(weights)
        adapter.set_train_data(X, y)  # allocates MLPClassifier's arrays, then reloads `weights`
        return adapter


# ---------------------------------------------------------------- forward and gradients


def forward_rows(spec: TaskSpec, adapters: dict, dtype: str, weights: Weights, X: np.ndarray) -> list[Row]:
    """Per-layer outputs, logits and probabilities (evaluation mode) for every pair."""
    tol = spec.tolerances.forward64 if dtype == "float64" else spec.tolerances.forward32
    ref_layers = reference.forward_layers(spec.model, weights, X)
    labels = [label for label, _ in ref_layers]
    labels[-1] += " (logits)"
    values = {REFERENCE: dict(zip(labels, (out for _, out in ref_layers)))}
    values[REFERENCE]["probabilities"] = probabilities(ref_layers[-1][1], spec.model.loss)
    for name, adapter in adapters.items():
        if name == "sklearn":
            values[name] = {"probabilities": adapter.estimator.predict_proba(X.astype(dtype))}
            continue
        values[name] = dict(zip(labels, LAYER_OUTPUTS[name](adapter, spec, X)))
        logits = adapter.predict(X)  # the public path gives the logits row
        values[name][labels[-1]] = logits
        values[name]["probabilities"] = probabilities(logits, spec.model.loss)
    return pair_rows("forward", dtype, values, tol)


def gradient_rows(spec: TaskSpec, adapters: dict, dtype: str, weights: Weights, X: np.ndarray, y: np.ndarray) -> list[Row]:
    """Training-mode loss and every trainable parameter's gradient, for every pair."""
    tol = spec.tolerances.grad64 if dtype == "float64" else spec.tolerances.grad32
    ref_loss, ref_grads = reference.loss_and_gradients(spec.model, weights, X, y)
    values = {REFERENCE: {"loss": np.asarray(ref_loss), **ref_grads}}
    for name, adapter in adapters.items():
        if name in WITH_GRADIENTS:
            value, grads = adapter.loss_and_gradients(X, y)
            values[name] = {"loss": np.asarray(value), **grads}
    return pair_rows("gradient", dtype, values, tol, model_scale=True)


def central_difference(spec: TaskSpec, weights: Weights, X: np.ndarray, y: np.ndarray, key: str, index: int, eps: float) -> float:
    """(L(w + eps e_j) - L(w - eps e_j)) / 2 eps for one coordinate j of one parameter."""
    losses = []
    for sign in (1.0, -1.0):
        moved = weights[key].copy()
        moved.reshape(-1)[index] += sign * eps
        logits = reference.forward(spec.model, {**weights, key: moved}, X, training=True)
        losses.append(reference.loss(logits, y, spec.model.loss))
    return (losses[0] - losses[1]) / (2 * eps)


def finite_difference_rows(spec: TaskSpec, weights: Weights, X: np.ndarray, y: np.ndarray, config: CheckConfig, eps: float = 1e-6) -> list[Row]:
    """Reference analytic gradients vs central differences on `fd_samples` samples: per parameter,
    the `fd_coords` coordinates with the largest gradients plus as many random ones."""
    rng = np.random.default_rng(config.seed + 3)
    X, y = X[: config.fd_samples], y[: config.fd_samples]
    _, analytic = reference.loss_and_gradients(spec.model, weights, X, y)
    rows = []
    for key, grad in analytic.items():
        flat = grad.reshape(-1)
        largest = np.argsort(-np.abs(flat), kind="stable")[: config.fd_coords]
        others = np.setdiff1d(np.arange(flat.size), largest)
        chosen = np.concatenate([largest, rng.choice(others, size=min(config.fd_coords, others.size), replace=False)])
        numeric = np.array([central_difference(spec, weights, X, y, key, int(j), eps) for j in chosen])
        max_abs, max_rel = difference(flat[chosen], numeric)
        tol = spec.tolerances.finite_diff
        note = f"{chosen.size} of {flat.size} coordinates, {len(y)} samples"
        rows.append(Row("finite_difference", "float64", "reference vs finite differences", key, max_abs, max_rel, tol, judge(max_abs, tol), note=note))
    return rows


# ---------------------------------------------------------------- trajectories


@dataclass(frozen=True)
class Variant:
    """One trajectory run: the optimizer each participant uses."""

    name: str
    optimizers: dict[str, OptimizerSpec]  # framework or reference label -> its optimizer
    judged: bool = True  # False: every row is INFO (the defaults differ on purpose)


def variants(spec: TaskSpec, frameworks: list[str]) -> list[Variant]:
    """Plain SGD; Adam with the spec's eps style in every framework that has it; the other eps style
    where the framework offers it exactly; every framework's default Adam (INFO only).

    MLPClassifier's Adam is always the uncorrected form. Keras' uncorrected form is the stock
    keras.optimizers.Adam, which in float64 rounds beta_1 and beta_2 through float32 (docs/differences.md),
    so it only appears under the defaults.
    """
    opt = spec.optimizer
    sgd = replace(opt, name="sgd", lr=SGD_LR, momentum=0.0)
    result = [Variant(f"sgd lr={SGD_LR}", {REFERENCE: sgd, **{f: sgd for f in frameworks}})]
    exact = {"corrected": ("pytorch", "keras"), "uncorrected": ("pytorch", "sklearn")}
    for style in (opt.eps_style, *(s for s in exact if s != opt.eps_style)):
        adam = replace(opt, name="adam", eps_style=style)
        members = [f for f in frameworks if f in exact[style]]
        result.append(Variant(f"adam eps={opt.eps:g} {style} (matched)", {REFERENCE: adam, **{f: adam for f in members}}))
    defaults = {f: replace(DEFAULT_ADAM[f], lr=opt.lr) for f in frameworks}
    result.append(Variant("adam, each framework's defaults", {**{f"{REFERENCE} ({f} default)": o for f, o in defaults.items()}, **defaults}, judged=False))
    return result


def reference_trajectory(spec: TaskSpec, weights: Weights, batches: list, opt: OptimizerSpec) -> list[dict[bool, Weights]]:
    """Reference weights after each step, keyed by the BatchNorm convention (unbiased running variance?)."""
    if opt.name == "sgd" and opt.momentum:
        raise ValueError("the reference SGD step has no momentum")
    moving = {flag: {k: v for k, v in weights.items() if k.split(".")[1] in ("moving_mean", "moving_var")} for flag in (True, False)}
    state, snapshots = None, []
    for X, y in batches:
        _, grads = reference.loss_and_gradients(spec.model, weights, X, y)
        moving = {flag: reference.batchnorm_moving_update(spec.model, {**weights, **moving[flag]}, X, flag) for flag in (True, False)}
        if opt.name == "sgd":
            weights = reference.sgd_step(weights, grads, opt.lr)
        else:
            weights, state = reference.adam_step(
                weights, grads, state, lr=opt.lr, beta_1=opt.beta_1, beta_2=opt.beta_2, eps=opt.eps, eps_style=opt.eps_style
            )
        snapshots.append({flag: {**weights, **moving[flag]} for flag in (True, False)})
    return snapshots


def trajectory_rows(spec: TaskSpec, fws: Frameworks, dtype: str, weights: Weights, batches: list, variant: Variant, cache: dict) -> list[Row]:
    """Every weight of every participant after every step; one row per pair and step (its worst weight).

    Pairs with the same optimizer are judged; two frameworks with different optimizers are INFO.
    A reference is compared with the BatchNorm running-variance convention of the other side.
    """
    tol = spec.tolerances.trajectory64 if dtype == "float64" else spec.tolerances.trajectory32
    tracks: dict[str, list] = {}
    for name, opt in variant.optimizers.items():
        if name.startswith(REFERENCE):
            key = (variant.name, name)
            if key not in cache:  # float64 reference: the same for both framework dtypes
                cache[key] = reference_trajectory(spec, weights, batches, opt)
            tracks[name] = cache[key]
        else:
            spec_f = replace(spec, optimizer=opt)
            adapter = fws.build(name, spec_f, dtype, weights, *batches[0])
            track = []
            for X, y in batches:
                adapter.train_step(X, y)
                track.append({k: np.array(v, copy=True) for k, v in adapter.get_weights().items()})  # torch and sklearn hand out views
            tracks[name] = track
    rows, names = [], list(tracks)
    for j, right in enumerate(names):
        for left in names[j + 1 :]:
            if left.startswith(REFERENCE) and right.startswith(REFERENCE):
                continue
            same_opt = variant.optimizers[left] == variant.optimizers[right]
            if right.startswith(REFERENCE) and not same_opt:
                continue
            rows += _pair_trajectory(dtype, variant, left, right, tracks, same_opt and variant.judged, tol)
    return rows


def _pair_trajectory(dtype: str, variant: Variant, left: str, right: str, tracks: dict, judged: bool, tol: float) -> list[Row]:
    """One row per step: the worst weight of `left` vs `right` after that step."""
    rows, pair = [], f"{left} vs {right}"
    convention = UNBIASED_MOVING_VAR.get(left, True)
    known_differences = set()
    for step, (a, b) in enumerate(zip(tracks[left], tracks[right]), start=1):
        if right.startswith(REFERENCE):
            b = b[convention]
        worst = (-1.0, 0.0, 0.0, "")
        for key, expected in b.items():
            if key not in a:
                continue
            max_abs, max_rel = difference(a[key], expected)
            if key.endswith("moving_var") and UNBIASED_MOVING_VAR.get(left) != UNBIASED_MOVING_VAR.get(right, convention):
                known_differences.add(key)  # PyTorch unbiased vs Keras biased batch variance
                continue
            measure = measure_of(dtype, max_abs, max_rel)
            if not measure <= worst[0]:  # also takes a NaN
                worst = (measure, max_abs, max_rel, key)
        status = judge(worst[0], tol) if judged else "INFO"
        rows.append(Row("trajectory", dtype, pair, f"step {step}", worst[1], worst[2], tol, status, variant.name, f"worst: {worst[3]}"))
    if known_differences:
        note = "not judged: " + ", ".join(sorted(known_differences)) + " (unbiased vs biased batch variance, documented)"
        rows.append(Row("trajectory", dtype, pair, "moving_var", math.nan, math.nan, tol, "INFO", variant.name, note))
    return rows


# ---------------------------------------------------------------- everything


def run_checks(spec: TaskSpec, X: np.ndarray, y: np.ndarray, config: CheckConfig, inputs: str) -> Report:
    """Forward, gradient and trajectory checks in every dtype; X holds at least steps * batch_size samples."""
    spec = check_spec(spec, config.batch_size)
    fws = Frameworks(spec, config.frameworks, config.threads)
    report = Report(task=spec.name, inputs=inputs, config=config, skipped=dict(fws.skipped))
    weights = check_weights(spec, config.seed)
    b = config.batch_size
    batches = [(X[i * b : (i + 1) * b], y[i * b : (i + 1) * b]) for i in range(config.steps)]
    X0, y0 = batches[0]
    report.rows += finite_difference_rows(spec, weights, X0, y0, config)
    cache: dict = {}
    for dtype in config.dtypes:
        adapters = {name: fws.build(name, spec, dtype, weights, X0, y0) for name in fws.modules}
        report.rows += forward_rows(spec, adapters, dtype, weights, X0)
        report.rows += gradient_rows(spec, adapters, dtype, weights, X0, y0)
        for variant in variants(spec, list(fws.modules)):
            report.rows += trajectory_rows(spec, fws, dtype, weights, batches, variant, cache)
    if "sklearn" in fws.modules:
        report.notes.append("sklearn: no public gradient API; its partial_fit steps are in the trajectory table")
    return report


def task_inputs(task: str, data_dir: str | None, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """The first n training samples of the task's real data, or random inputs if it cannot be loaded."""
    from tasks import registry
    from tasks.download import DataError

    spec = registry.get(task).spec
    try:
        data = registry.get(task).load(data_dir)
    except DataError as exc:
        X, y = random_inputs(spec, n, seed)
        return X, y, f"random inputs of shape {spec.model.input_shape} (real data not loaded: {str(exc).splitlines()[0]})"
    if len(data.y_train) < n:
        X, y = random_inputs(spec, n, seed)
        return X, y, f"random inputs of shape {spec.model.input_shape} (only {len(data.y_train)} training samples)"
    return data.X_train[:n], data.y_train[:n], f"real data: the first {n} training samples of {data.describe()}"
