"""What --check asks each adapter module, answered inside that framework's child process.

One framework, every dtype: per-layer outputs and logits, the loss and gradients (where the framework
has them), and optimizer trajectories. Each trajectory step is measured against the NumPy reference
here (every step, every weight, with this framework's BatchNorm variance convention); the weights
themselves come back only at the SHOWN_STEPS, for the framework-vs-framework pairs.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from types import ModuleType

import numpy as np

from frameworks.base import RunSettings
from tasks import reference
from tasks.optimizers import EPS_STYLE_CHOICES, describe, preset_name
from tasks.reference_attention import cancelled_by_softmax
from tasks.spec import OptimizerSpec, TaskSpec
from tasks.spec_attention import MultiHeadSelfAttention
from tasks.spec_io import spec_from_json
from workbench.process.ask import answer_each

SHOWN_STEPS = (1, 2, 5, 10, 20, 50)  # steps whose weights come back for the pairs (every step is judged)
SGD_LR = 0.05  # plain SGD in the trajectory check: large enough that weights move visibly in 50 steps
ADAPTIVE = frozenset({"adam", "rmsprop"})  # optimizer families that divide by sqrt of a mean squared gradient (+ eps)
NOISE_FLOOR = 1e-5  # float32 Adam and RMSprop: a gradient below this x its weight's largest steps on noise (noise_driven)
LR_DROP = 0.5  # the DROP variants: the lr is multiplied by this from the middle step on, as a per-epoch decay does
DROP = f", lr x{LR_DROP:g} halfway"  # in a variant's name: the momentum velocity must carry over an lr change
INPUT_DTYPE = "input"  # the spec's softmax_dtype that every engine runs exactly
DEFAULT_SOFTMAX = "default softmax/"  # prefix of float64 forward and gradients on the framework's own attention softmax


def difference(left: np.ndarray, right: np.ndarray, skip: np.ndarray | None = None) -> tuple[float, float]:
    """(max abs diff, max abs diff / max |right|), elementwise, never sorted; NaN on a shape mismatch.
    `skip` (boolean, right's shape) leaves coordinates out of the max abs diff, not out of max |right|."""
    a, b = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if a.shape != b.shape:
        return float("nan"), float("nan")
    if a.size == 0:
        return 0.0, 0.0
    diff = np.abs(a - b)
    if skip is not None:
        diff = np.where(skip, 0.0, diff)
    max_abs = float(np.max(diff))
    return max_abs, max_abs / max(float(np.max(np.abs(b))), np.finfo(np.float64).tiny)


def cancelled(model) -> set[str]:  # noqa: ANN001 - a ModelSpec
    """Weights whose gradient is 0 in exact arithmetic: biases before BatchNorm, attention key biases (softmax)."""
    return reference.cancelled_by_batchnorm(model) | cancelled_by_softmax(model)


def noise_driven(model, weights: dict, batches: list, expected: list[dict]) -> list[dict[str, np.ndarray]]:  # noqa: ANN001
    """Per step, per weight: the coordinates whose float32 Adam or RMSprop steps follow rounding noise (True), so far.

    Adam divides m by sqrt(v) + eps (RMSprop g by sqrt(v) + eps): a coordinate whose gradient has so far been nonzero but below
    NOISE_FLOOR x its weight's largest is divided by a denominator near float32's rounding error of that
    gradient (about 1e-7 of the weight's largest), and its step lands anywhere up to lr. On the first 400
    MNIST images, PyTorch's float32 step 1 moved one dense_2.kernel coordinate whose exact gradient is
    7.4e-9 (1.2e-7 of the largest) 7.4e-5 away from the reference; the difference then stays in the
    weight, so once noise-driven a coordinate stays so. Exact zeros are judged: they stay zero in float32.
    """
    masks, running, ever = [], {}, {}
    previous = weights
    for (X, y), after in zip(batches, expected):
        _, grads = reference.loss_and_gradients(model, previous, X, y)
        for key, g in grads.items():
            running[key] = np.maximum(running.get(key, 0.0), np.abs(g))
            scale = float(np.max(running[key])) if running[key].size else 0.0
            tiny = (running[key] > 0) & (running[key] < NOISE_FLOOR * scale)
            ever[key] = ever.get(key, np.zeros(g.shape, dtype=bool)) | tiny
        masks.append({k: v.copy() for k, v in ever.items() if v.any()})
        previous = after
    return masks


def optimizers(module: ModuleType, spec: TaskSpec, extra: tuple[OptimizerSpec, ...] = ()) -> dict[str, OptimizerSpec]:
    """variant name -> the optimizer this framework runs in it: plain SGD, then for the spec's optimizer and each of
    `extra`: it in each eps placement the framework runs exactly (and can express: its unsupported(spec)), and again with
    the lr dropped halfway where a momentum velocity carries over (DROP); for the spec's optimizer, also the
    framework's own defaults of its preset.

    The SGD family runs at SGD_LR, every other optimizer at its own lr.
    """
    plain = replace(spec.optimizer, name="sgd", lr=SGD_LR, momentum=0.0, nesterov=False, dampening=0.0, weight_decay=0.0,
                    weight_decay_style="l2")  # fmt: skip
    variants = {f"sgd lr={SGD_LR}": plain}
    for opt in (spec.optimizer, *extra):
        lr = SGD_LR if opt.name == "sgd" else opt.lr
        styles = module.EPS_STYLES.get(opt.name, ()) if opt.name in EPS_STYLE_CHOICES else (opt.eps_style,)
        for style in styles:
            matched = replace(opt, lr=lr, eps_style=style)
            if matched != plain and module.unsupported(replace(spec, optimizer=matched)) is None:
                variants[f"{describe(matched)} (matched)"] = matched
                if matched.momentum:
                    variants[f"{describe(matched)}{DROP} (matched)"] = matched
        default = module.default_optimizer(preset_name(opt)) if opt is spec.optimizer else None
        if default is not None and module.unsupported(replace(spec, optimizer=default)) is None:
            variants[f"{preset_name(opt)}, each framework's defaults"] = replace(default, lr=lr)
    return variants


def spec_optimizer(module: ModuleType, spec: TaskSpec) -> dict[str, OptimizerSpec]:
    """variant name -> the spec's own optimizer (CheckConfig.variants "spec"): one trajectory, in the spec's eps
    placement where this framework runs it exactly, else in the first placement it does; none if it cannot run it."""
    opt = spec.optimizer
    styles = module.EPS_STYLES.get(opt.name, ()) if opt.name in EPS_STYLE_CHOICES else (opt.eps_style,)
    for style in sorted(styles, key=lambda s: s != opt.eps_style):
        matched = replace(opt, eps_style=style)
        if module.unsupported(replace(spec, optimizer=matched)) is None:
            return {f"{describe(matched)}, lr={matched.lr:g} (the spec's)": matched}
    return {}


def with_softmax(spec: TaskSpec, dtype: str) -> TaskSpec:
    """The spec with every attention layer's softmax in `dtype` ("input" or "float32")."""
    layers = tuple(replace(l, softmax_dtype=dtype) if isinstance(l, MultiHeadSelfAttention) else l
                   for l in spec.model.layers)  # fmt: skip
    return replace(spec, model=replace(spec.model, layers=layers))


def default_softmax(module: ModuleType, spec: TaskSpec) -> str | None:
    """The softmax dtype of the framework's own attention path (its ATTENTION_SOFTMAX) where the check measures it
    too: it differs from an attention layer's of the spec, and the framework computes float64 in float64; else None."""
    default = getattr(module, "ATTENTION_SOFTMAX", INPUT_DTYPE)
    attention = [l for l in spec.model.layers if isinstance(l, MultiHeadSelfAttention)]
    if default == INPUT_DTYPE or module.DTYPES.get("float64") != "float64":
        return None
    return None if all(l.softmax_dtype == default for l in attention) else default


def step_lrs(variant: str, opt: OptimizerSpec, steps: int) -> list[float] | None:
    """The learning rate of every step of a DROP variant (the spec's, then LR_DROP x it from the middle step); else None."""
    if DROP not in variant:
        return None
    return [opt.lr if i < steps // 2 else opt.lr * LR_DROP for i in range(steps)]


def _network(module: ModuleType, spec: TaskSpec, dtype: str, request: dict, weights: dict, X0: np.ndarray, y0: np.ndarray):  # noqa: ANN202
    settings = RunSettings(device=request.get("device", "cpu"), threads=request["threads"], dtype=dtype, seed=spec.train.seed, progress=False)
    module.configure(settings)
    network = module.create(spec, settings, request["model"])
    network.build(weights)
    network.set_train_data(X0, y0)  # scikit-learn allocates its arrays here, then reloads `weights`
    return network


def answer(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """Measurements of one framework for the request's spec, weights and batches."""
    spec = spec_from_json(request["spec"])
    facts = {"version": module.version(), "unsupported": module.unsupported(spec), "dtypes": module.DTYPES,
             "has_gradients": module.HAS_GRADIENTS, "unbiased_moving_var": module.UNBIASED_MOVING_VAR,
             "attention_softmax": getattr(module, "ATTENTION_SOFTMAX", INPUT_DTYPE)}  # fmt: skip
    if facts["unsupported"]:
        return facts, {}
    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
    X, y, b, steps = arrays["X"], arrays["y"], spec.train.batch_size, request["steps"]
    batches = [(X[i * b : (i + 1) * b], y[i * b : (i + 1) * b]) for i in range(steps)]
    X0, y0 = batches[0]
    out: dict[str, np.ndarray] = {}
    extra = tuple(OptimizerSpec(**o) for o in request.get("optimizers", ()))
    variants = spec_optimizer(module, spec) if request.get("variants") == "spec" else optimizers(module, spec, extra)
    facts["optimizers"] = {name: asdict(o) for name, o in variants.items()}
    facts["steps"] = {}
    facts["noise"] = sorted(cancelled(spec.model))
    for dtype in request["dtypes"]:
        if dtype not in module.DTYPES:
            continue
        _forward_and_gradients(module, spec, dtype, request, weights, X0, y0, out, f"{dtype}/")
        for variant, opt in variants.items() if request.get("trajectories", True) else ():
            facts["steps"][f"{dtype}/{variant}"] = _trajectory(module, replace(spec, optimizer=opt), dtype, request,
                                                               weights, batches, variant, out)  # fmt: skip
    softmax = default_softmax(module, spec) if "float64" in request["dtypes"] else None
    if softmax is not None:  # in this child: one start of the framework, not two
        own = with_softmax(spec, softmax)
        _forward_and_gradients(module, own, "float64", request, weights, X0, y0, out, DEFAULT_SOFTMAX)
    return facts, out


def _forward_and_gradients(module: ModuleType, spec: TaskSpec, dtype: str, request: dict, weights: dict, X0: np.ndarray,
                           y0: np.ndarray, out: dict, prefix: str) -> None:  # fmt: skip
    """Per-layer outputs, logits (and probabilities), and the loss and gradients where the framework has them, into
    out[prefix + ...]."""
    network = _network(module, spec, dtype, request, weights, X0, y0)
    for i, value in enumerate(network.layer_outputs(X0)):
        out[f"{prefix}layer/{i}"] = value
    out[f"{prefix}logits"] = np.asarray(network.predict(X0))
    if hasattr(network, "probabilities"):
        out[f"{prefix}probabilities"] = np.asarray(network.probabilities(X0))
    if module.HAS_GRADIENTS:
        loss, grads = network.loss_and_gradients(X0, y0)
        out[f"{prefix}loss"] = np.asarray(loss)
        out.update({f"{prefix}grad/{k}": v for k, v in grads.items()})


def answer_many(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """answer() of each of the request's jobs in one child (job i's arrays and outputs prefixed "j{i}/"): {"jobs":
    [facts, or {"error", "error_kind"} where that job failed]}."""
    facts, out = answer_each(answer, module, request["jobs"], arrays)
    return {"jobs": facts}, out


def _trajectory(module: ModuleType, spec: TaskSpec, dtype: str, request: dict, weights: dict, batches: list,
                variant: str, out: dict) -> list[list]:  # fmt: skip
    """Train `steps` steps; per step (max abs, max rel to the weight's largest magnitude, worst weight, count
    of noise-driven coordinates left out) vs the reference. Moving statistics follow this framework's own
    convention in the reference."""
    network = _network(module, spec, dtype, request, weights, *batches[0])
    lrs = step_lrs(variant, spec.optimizer, len(batches))
    expected = reference.trajectory(spec.model, weights, batches, spec.optimizer, bool(module.UNBIASED_MOVING_VAR), lrs)
    noise = cancelled(spec.model)  # reported by the parent, not judged
    float32_adaptive = spec.optimizer.name in ADAPTIVE and module.DTYPES.get(dtype) == "float32"
    skips = noise_driven(spec.model, weights, batches, expected) if float32_adaptive else [{}] * len(batches)
    per_step = []
    for step, ((X, y), target, skip) in enumerate(zip(batches, expected, skips), start=1):
        if lrs and step > 1 and lrs[step - 1] != lrs[step - 2]:
            network.set_learning_rate(lrs[step - 1])  # as the driver does between epochs
        network.train_step(X, y)
        current = network.get_weights()
        worst = (-1.0, 0.0, 0.0, "")
        for key, value in target.items():
            if key in noise:
                continue
            max_abs, max_rel = difference(current[key], value, skip.get(key))
            measure = max_abs if dtype == "float64" else max_rel
            if not measure <= worst[0]:  # also takes a NaN
                worst = (measure, max_abs, max_rel, key)
        per_step.append(list(worst[1:]) + [sum(int(m.sum()) for m in skip.values())])
        if step in SHOWN_STEPS or step == len(batches):
            out.update({f"{dtype}/traj/{variant}/{step}/{k}": np.array(v, copy=True) for k, v in current.items()})
            out.update({f"{dtype}/skip/{variant}/{step}/{k}": m for k, m in skip.items()})
    return per_step
