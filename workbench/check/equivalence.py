"""Numerical equivalence of one spec in every selected framework, against the NumPy float64 reference.

Three checks, each giving a list of `Row`s (one comparison each, elementwise, never sorted):

* forward: the same canonical weights and batch in every adapter -> per-layer outputs (where the
  framework exposes them), log-probabilities and probabilities;
* gradient: training-mode loss and the gradient of every trainable parameter, canonical layout;
  plus reference analytic gradients vs central finite differences on a few samples and coordinates;
* trajectory: K optimizer steps on identical batches with dropout off, every weight after every step
  against the reference; framework pairs at the steps of measure.SHOWN_STEPS. Plain SGD, the spec's optimizer
  (any of tasks/optimizers.py) in each eps placement a framework runs exactly, and each framework's defaults of it.

Every framework is measured in its own child process (workbench/check/measure.py); this module only
computes the reference and judges. The measure is the max abs diff in float64 and the max abs diff
divided by the largest magnitude of the right-hand side ("max rel") in float32; `tol` comes from the
spec's Tolerances. Status of a row:

* OK           measure <= tol
* INACCURATE   float32 trajectories with Adam or RMSprop only: tol < measure <= 10 * tol. Measured reason: Adam
               divides by sqrt(v); a weight whose true gradient is ~0 (a bias before BatchNorm) moves by
               lr-sized steps driven by float32 rounding noise, so float32 runs drift apart faster than SGD.
               Coordinates whose gradient is tiny but nonzero (measure.noise_driven) are left out of
               float32 Adam and RMSprop trajectories altogether, with their count in the row's note.
* DOWNCAST     a float64 comparison where a framework really computes float32, as its adapter declares
               (its DTYPES): judged on the float32 measure and tolerance, within it
* FAIL         anything else above tol, a NaN, a shape mismatch, or a declared dtype the outputs contradict
* INFO         reported, not judged: each framework's default optimizer's drift and documented convention differences,
               and float32 trajectory steps past CheckConfig.judged_steps32 (large specs only; see below)

Large CNN/LSTM specs (default_config) judge float32 trajectories at their first FLOAT32_JUDGED_STEPS steps only.
Measured on cifar10 (4 real images per batch, docs/differences.md): every framework agrees with the reference to
1e-15 in float64 for all 10 steps, but in float32 the runs split into groups at step 4-6 (plain SGD: two groups
4.3e-4 apart at step 10; the frameworks of each group are in docs/differences.md), because 9.9 % of the 2x2 MaxPool windows
of the input images hold a tied maximum that float32 rounding breaks one way or the other; and the reference
itself, its inputs moved by float32's rounding unit (2^-24 relative), drifts 4.5e-3 from itself by step 10.
Past that point a float32 difference measures the chaos of the computation, not the frameworks.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from frameworks.base import DEFAULT_FRAMEWORKS, SPEC_MODEL, engine, missing_packages
from tasks import reference
from tasks.init import init_weights
from tasks.spec import GRU, LSTM, BaselineSpec, Conv1D, Conv2D, Dense, Dropout, MaxPool2D, OptimizerSpec, TaskSpec, Weights, count_params
from tasks.spec_io import spec_to_json
from workbench.check.measure import ADAPTIVE, NOISE_FLOOR, SHOWN_STEPS, difference
from workbench.check.measure import answer_many as measure_answer_many
from workbench.process.adapters import row_device
from workbench.process.ask import AskError, ask

REFERENCE = "reference"  # the NumPy float64 reference's name in a check row's pair and among attention maps
INACCURATE_FACTOR = 10.0  # the narrow band of float32 Adam and RMSprop trajectories (see the module docstring)


@dataclass(frozen=True)
class Row:
    """One comparison: `left` vs `right` on one item (layer, parameter or step)."""

    check: str  # forward | gradient | finite_difference | trajectory
    dtype: str  # float32 | float64 (the frameworks' dtype; the reference is always float64)
    pair: str  # e.g. "<framework> vs reference"
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
    frameworks: tuple[str, ...] = DEFAULT_FRAMEWORKS
    threads: int = 1  # every framework's threads: one (tiny batches; two spin for 0.2 s per conv on a busy machine)
    seed: int = 0  # weights, perturbations, random inputs, finite-difference coordinates
    optimizers: tuple[OptimizerSpec, ...] = ()  # trajectories of these too, as of the spec's optimizer (in the same children)
    judged_steps32: int | None = None  # float32 trajectory steps judged (later ones INFO); None: all of them
    trajectories: bool = True  # False: forward and gradients only (what the default-softmax rows need)
    variants: str = "all"  # trajectories of "all" of measure.optimizers' variants, or "spec": the spec's optimizer only
    device: str = "cpu"  # where the frameworks run ("cuda": the comparison's GPU; CPU-only engines stay on cpu)


@dataclass
class Report:
    """Everything `compare.py --check` prints."""

    task: str
    inputs: str  # where the inputs came from
    config: CheckConfig
    rows: list[Row] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # framework -> reason (not installed, or cannot build the spec)
    errors: dict[str, str] = field(default_factory=dict)  # framework -> "kind: message" (its check crashed)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True if any row is FAIL, or a framework's check ended in an error (an unchecked framework is no pass)."""
        return any(r.status == "FAIL" for r in self.rows) or bool(self.errors)


FLOAT32_JUDGED_STEPS = 2  # large pooling CNNs: float32 trajectories judged at steps 1 and 2 (module docstring)


def default_config(spec: TaskSpec, frameworks: tuple[str, ...] = DEFAULT_FRAMEWORKS, threads: int = 1) -> CheckConfig:
    """8 samples and 50 steps; large CNN/LSTM specs get 4 samples and 10 steps (the report says so), and a large
    CNN with MaxPool2D float32 trajectories judged at FLOAT32_JUDGED_STEPS steps (its windows' ties: module docstring)."""
    heavy = any(isinstance(l, (Conv2D, LSTM, GRU, Conv1D)) for l in spec.model.layers) and count_params(spec.model) > 20_000
    if heavy:
        pooled = any(isinstance(l, MaxPool2D) for l in spec.model.layers)
        return CheckConfig(batch_size=4, steps=10, fd_samples=1, fd_coords=4, frameworks=frameworks, threads=threads,
                           judged_steps32=FLOAT32_JUDGED_STEPS if pooled else None)  # fmt: skip
    return CheckConfig(frameworks=frameworks, threads=threads)


# ---------------------------------------------------------------- judging


def judge(measure: float, tol: float, band: bool = False) -> str:
    """OK / INACCURATE / FAIL, as the module docstring defines them; `band`: the INACCURATE band applies."""
    if not math.isfinite(measure):
        return "FAIL"
    if measure <= tol:
        return "OK"
    return "INACCURATE" if band and measure <= INACCURATE_FACTOR * tol else "FAIL"


@dataclass(frozen=True)
class Judge:
    """How one comparison in one dtype is judged: float64 tolerance, float32 tolerance, band."""

    tol64: float
    tol32: float
    band32: bool = False  # the INACCURATE band for float32 (Adam trajectories)

    def row(self, check: str, dtype: str, pair: str, item: str, max_abs: float, max_rel: float, downcast: bool,
            variant: str = "", note: str = "") -> Row:  # fmt: skip
        """A judged row: float64 on max abs; float32, and float64 that a side computes in float32, on max rel."""
        if dtype == "float64" and not downcast:
            return Row(check, dtype, pair, item, max_abs, max_rel, self.tol64, judge(max_abs, self.tol64), variant, note)
        status = judge(max_rel, self.tol32, self.band32)
        if downcast and status != "FAIL":
            status, note = "DOWNCAST", (note + "; " if note else "") + "computed in float32"
        return Row(check, dtype, pair, item, max_abs, max_rel, self.tol32, status, variant, note)


def pair_rows(check: str, dtype: str, values: dict[str, dict[str, np.ndarray]], judging: Judge, downcast: set[str],
              model_scale: bool = False) -> list[Row]:  # fmt: skip
    """A row for every pair of participants (later vs earlier) and every item both have.

    model_scale: max rel is relative to the largest magnitude over all items of the right side,
    not of the item alone (a gradient that is exactly 0, e.g. a conv bias before BatchNorm, has no scale).
    `downcast`: participants that compute this dtype in float32.
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
                    lowered = bool({left, right} & downcast)
                    rows.append(judging.row(check, dtype, f"{left} vs {right}", item, max_abs, max_rel, lowered))
    return rows


# ---------------------------------------------------------------- spec, weights and inputs


def check_spec(spec: TaskSpec, batch_size: int) -> TaskSpec:
    """The spec with dropout off (rate 0), the check's batch size, and the spec's network as the one baseline
    row (a baseline framework builds it under its Engine.spec_model id)."""
    layers = tuple(replace(l, rate=0.0) if isinstance(l, Dropout) else l for l in spec.model.layers)
    return replace(spec, model=replace(spec.model, layers=layers), train=replace(spec.train, batch_size=batch_size),
                   baselines=(BaselineSpec(SPEC_MODEL, "the spec's network"),))  # fmt: skip


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


def log_probabilities(logits: np.ndarray, loss: str) -> np.ndarray:
    """log softmax over classes, or log(sigmoid), log(1 - sigmoid) of one logit: invariant to a per-row
    constant, so it compares a framework that hands out log-probabilities (MLPClassifier) too."""
    logits = np.asarray(logits, dtype=np.float64)
    if loss == "binary_cross_entropy":
        logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


# ---------------------------------------------------------------- the frameworks, each in its own process


@dataclass
class Measured:
    """One framework's answer: its facts and arrays (see workbench/check/measure.py)."""

    facts: dict
    arrays: dict[str, np.ndarray]

    def downcast(self, dtype: str) -> bool:
        """True if the framework declares it computes `dtype` in float32."""
        return self.facts["dtypes"].get(dtype) == "float32" and dtype != "float32"


Job = tuple[TaskSpec, Weights, np.ndarray, np.ndarray, "Report"]  # a spec, its weights and inputs, the report to fill


def measure_many(jobs: list[Job], config: CheckConfig) -> list[dict[str, Measured]]:
    """Every installed framework's measurements of several specs under one config (the others go to each report's
    skipped or errors), each framework asked once for all of them: one child (one import of the framework) per
    framework, not per spec. A spec the child fails on costs only its own report."""
    arrays = {f"j{i}/{k}": v for i, (_, weights, X, y, _) in enumerate(jobs)
              for k, v in {"X": X, "y": y, **{f"w/{k}": v for k, v in weights.items()}}.items()}  # fmt: skip

    def one(name: str) -> list[Measured | str | AskError] | str | AskError:
        missing = missing_packages(name)
        if missing:
            return f"not installed: {', '.join(missing)}"
        requests = [{"spec": spec_to_json(spec), "dtypes": list(config.dtypes), "steps": config.steps,
                     "threads": config.threads, "model": engine(name).spec_model,
                     "device": row_device(name, config.device),
                     "optimizers": [asdict(o) for o in config.optimizers], "trajectories": config.trajectories,
                     "variants": config.variants}
                    for spec, *_ in jobs]  # fmt: skip
        try:
            reply, out = ask(measure_answer_many, name, {"jobs": requests}, arrays, threads=config.threads)
        except AskError as exc:
            return exc
        answers: list[Measured | str | AskError] = []
        for i, facts in enumerate(reply["jobs"]):
            prefix = f"j{i}/"
            if "error" in facts:
                answers.append(AskError(f"{name}: {facts['error']}", facts["error_kind"]))
            else:
                answers.append(facts["unsupported"] or Measured(facts, {k[len(prefix):]: v for k, v in out.items() if k.startswith(prefix)}))
        return answers

    # one child per framework, as many at once as there are cores (each runs on config.threads)
    with ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 1) // config.threads)) as pool:
        by_framework = dict(zip(config.frameworks, pool.map(one, config.frameworks)))
    measured = []
    for i, (*_, report) in enumerate(jobs):
        answers = {name: a if isinstance(a, (str, AskError)) else a[i] for name, a in by_framework.items()}
        report.skipped.update({name: a for name, a in answers.items() if isinstance(a, str)})
        report.errors.update({name: f"{a.kind}: {str(a).split(': ', 1)[-1]}" for name, a in answers.items() if isinstance(a, AskError)})
        measured.append({name: a for name, a in answers.items() if isinstance(a, Measured)})
    return measured


# ---------------------------------------------------------------- forward and gradients


def forward_rows(spec: TaskSpec, measured: dict[str, Measured], dtype: str, weights: Weights, X: np.ndarray) -> list[Row]:
    """Per-layer outputs, log-probabilities and probabilities (evaluation mode) for every pair."""
    t = spec.tolerances
    ref_layers = reference.forward_layers(spec.model, weights, X)
    labels = [label for label, _ in ref_layers]
    labels[-1] += " (logits)"
    log_p = log_probabilities(ref_layers[-1][1], spec.model.loss)
    values = {REFERENCE: {**dict(zip(labels, (out for _, out in ref_layers))), "log-probabilities": log_p,
                          "probabilities": np.exp(log_p)}}  # fmt: skip
    rows, downcast = [], set()
    for name, m in measured.items():
        if f"{dtype}/logits" not in m.arrays:
            continue
        logits = m.arrays[f"{dtype}/logits"]
        if m.downcast(dtype):
            downcast.add(name)
        elif np.finfo(logits.dtype).bits < np.finfo(np.dtype(dtype)).bits:  # a declared fact the output contradicts
            rows.append(Row("forward", dtype, f"{name} vs {REFERENCE}", f"output dtype {logits.dtype}", math.nan, math.nan,
                            0.0, "FAIL", note=f"{name} declares it computes {dtype}"))  # fmt: skip
        own_layers = [m.arrays[f"{dtype}/layer/{i}"] for i in range(len(labels)) if f"{dtype}/layer/{i}" in m.arrays]
        values[name] = dict(zip(labels, own_layers))
        values[name]["log-probabilities"] = log_probabilities(logits, spec.model.loss)
        probs = m.arrays.get(f"{dtype}/probabilities")
        values[name]["probabilities"] = probs if probs is not None else np.exp(values[name]["log-probabilities"])
    return rows + pair_rows("forward", dtype, values, Judge(t.forward64, t.forward32), downcast)


def gradient_rows(spec: TaskSpec, measured: dict[str, Measured], dtype: str, weights: Weights, X: np.ndarray, y: np.ndarray) -> list[Row]:
    """Training-mode loss and every trainable parameter's gradient, for every pair."""
    t = spec.tolerances
    ref_loss, ref_grads = reference.loss_and_gradients(spec.model, weights, X, y)
    values = {REFERENCE: {"loss": np.asarray(ref_loss), **ref_grads}}
    downcast = set()
    for name, m in measured.items():
        if f"{dtype}/loss" in m.arrays:
            prefix = f"{dtype}/grad/"
            values[name] = {"loss": m.arrays[f"{dtype}/loss"], **{k[len(prefix):]: v for k, v in m.arrays.items() if k.startswith(prefix)}}
            if m.downcast(dtype):
                downcast.add(name)
    return pair_rows("gradient", dtype, values, Judge(t.grad64, t.grad32), downcast, model_scale=True)


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
        numeric = np.array([reference.central_difference(spec.model, weights, X, y, key, int(j), eps) for j in chosen])
        max_abs, max_rel = difference(flat[chosen], numeric)
        tol = spec.tolerances.finite_diff
        note = f"{chosen.size} of {flat.size} coordinates, {len(y)} samples"
        rows.append(Row("finite_difference", "float64", "reference vs finite differences", key, max_abs, max_rel, tol, judge(max_abs, tol), note=note))
    return rows


# ---------------------------------------------------------------- trajectories


def trajectory_rows(spec: TaskSpec, measured: dict[str, Measured], dtype: str, steps: int,
                    judged32: int | None = None) -> list[Row]:  # fmt: skip
    """Each framework vs the reference at every step (its worst weight), then framework pairs running the
    same optimizer at the shown steps. The defaults variant (each framework's own Adam) is INFO only, and so are
    rows judged on float32's terms past step `judged32` (CheckConfig.judged_steps32)."""
    t = spec.tolerances
    rows: list[Row] = []
    variants = dict.fromkeys(v for m in measured.values() for v in m.facts["optimizers"])
    for variant in variants:
        judged = not variant.endswith("defaults")
        families = {m.facts["optimizers"][variant]["name"] for m in measured.values() if variant in m.facts["optimizers"]}
        judging = Judge(t.trajectory64, t.trajectory32, band32=bool(families & ADAPTIVE))
        members = {n: m for n, m in measured.items() if f"{dtype}/{variant}" in m.facts["steps"]}
        for name, m in members.items():
            ref_label = REFERENCE if judged else f"{REFERENCE} ({name} default)"
            for step, (max_abs, max_rel, key, skipped) in enumerate(m.facts["steps"][f"{dtype}/{variant}"], start=1):
                note = f"worst: {key}" + (f"; {skipped} noise-driven coordinates left out" if skipped else "")
                row = judging.row("trajectory", dtype, f"{name} vs {ref_label}", f"step {step}", max_abs, max_rel,
                                  m.downcast(dtype), variant, note)  # fmt: skip
                rows.append(row if judged else replace(row, status="INFO"))
                rows[-1] = _past_judged32(rows[-1], step, judged32, dtype == "float32" or m.downcast(dtype))
        noise = sorted({k for m in members.values() for k in m.facts["noise"]})
        if noise and members:
            rows.append(Row("trajectory", dtype, "every framework", "not judged", math.nan, math.nan, 0.0, "INFO", variant,
                            f"{', '.join(noise)}: followed by BatchNorm, or an attention key bias (the softmax over the "
                            "keys cancels it), so the gradient is 0 in exact arithmetic and the steps follow rounding noise"))  # fmt: skip
        if any(step[3] for m in members.values() for step in m.facts["steps"][f"{dtype}/{variant}"]):
            rows.append(Row("trajectory", dtype, "float32 Adam/RMSprop", "noise-driven", math.nan, math.nan, 0.0, "INFO", variant,
                            f"left out: gradient so far nonzero but < {NOISE_FLOOR:g} x its weight's largest; "
                            "float32 rounding decides their steps (measure.noise_driven)"))  # fmt: skip
        names = list(members)
        for j, right in enumerate(names):
            for left in names[j + 1 :]:
                pair = _pair_trajectory(dtype, variant, left, members[left], right, members[right], steps, judging, judged)
                lowered = dtype == "float32" or members[left].downcast(dtype) or members[right].downcast(dtype)
                rows += [_past_judged32(r, int(r.item.split()[1]), judged32, lowered) if r.item.startswith("step ") else r
                         for r in pair]  # fmt: skip
        if judged and judged32 is not None and any(dtype == "float32" or m.downcast(dtype) for m in members.values()):
            rows.append(Row("trajectory", dtype, "float32 steps", f"after step {judged32}", math.nan, math.nan, 0.0, "INFO",
                            variant, f"not judged on this spec: float32 rounding breaks MaxPool ties and the runs "
                            f"diverge chaotically (workbench/check/equivalence.py docstring)"))  # fmt: skip
    return rows


def _past_judged32(row: Row, step: int, judged32: int | None, lowered: bool) -> Row:
    """The row as INFO, with why, when it is judged on float32's terms past step `judged32`."""
    if judged32 is None or not lowered or step <= judged32 or row.status == "INFO":
        return row
    return replace(row, status="INFO", note=f"{row.note}; float32 past step {judged32}: not judged, was {row.status}")


def _pair_trajectory(dtype: str, variant: str, left: str, a: Measured, right: str, b: Measured, steps: int,
                     judging: Judge, judged: bool) -> list[Row]:  # fmt: skip
    """One row per shown step: the worst weight of `left` vs `right` after that step."""
    same_opt = a.facts["optimizers"][variant] == b.facts["optimizers"][variant]
    same_bn = a.facts["unbiased_moving_var"] == b.facts["unbiased_moving_var"]
    noise = set(a.facts["noise"])
    rows, skipped = [], set()
    for step in sorted({s for s in SHOWN_STEPS if s <= steps} | {steps}):
        prefix = f"{dtype}/traj/{variant}/{step}/"
        worst = (-1.0, 0.0, 0.0, "")
        for full, expected in b.arrays.items():
            if not full.startswith(prefix) or full not in a.arrays:
                continue
            key = full[len(prefix):]
            if key in noise:
                continue
            if key.endswith("moving_var") and not same_bn:
                skipped.add(key)  # unbiased vs biased batch variance: documented, not a bug
                continue
            skip_key = full.replace("/traj/", "/skip/", 1)
            skip = np.logical_or(a.arrays.get(skip_key, False), b.arrays.get(skip_key, False))
            max_abs, max_rel = difference(a.arrays[full], expected, skip if np.ndim(skip) else None)
            measure = max_abs if dtype == "float64" else max_rel
            if not measure <= worst[0]:
                worst = (measure, max_abs, max_rel, key)
        row = judging.row("trajectory", dtype, f"{left} vs {right}", f"step {step}", worst[1], worst[2],
                          a.downcast(dtype) or b.downcast(dtype), variant, f"worst: {worst[3]}")  # fmt: skip
        rows.append(row if judged and same_opt else replace(row, status="INFO"))
    if skipped:
        note = "not judged: " + ", ".join(sorted(skipped)) + " (unbiased vs biased batch variance, documented)"
        rows.append(Row("trajectory", dtype, f"{left} vs {right}", "moving_var", math.nan, math.nan, 0.0, "INFO", variant, note))
    return rows


def task_inputs(task: str, data_dir: str | None, n: int, seed: int = 0, spec=None) -> tuple[np.ndarray, np.ndarray, str]:  # noqa: ANN001
    """The first n training samples of the task's real data (a spec file's, for its spec), or random inputs if it
    cannot be loaded."""
    from tasks import registry
    from tasks.download import DataError
    from tasks.user_data import load_task_data

    spec = registry.get(task).spec if spec is None else spec
    try:
        data = load_task_data(task, spec, data_dir)
    except DataError as exc:
        X, y = random_inputs(spec, n, seed)
        return X, y, f"random inputs of shape {spec.model.input_shape} (real data not loaded: {str(exc).splitlines()[0]})"
    if len(data.y_train) < n:
        X, y = random_inputs(spec, n, seed)
        return X, y, f"random inputs of shape {spec.model.input_shape} (only {len(data.y_train)} training samples)"
    return data.X_train[:n], data.y_train[:n], f"real data: the first {n} training samples of {data.describe()}"
