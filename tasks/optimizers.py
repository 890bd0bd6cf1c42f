"""The spec's optimizers in NumPy float64, with exactly the meaning `tasks.spec.OptimizerSpec` states,
and the presets behind `--optimizer` / `--weight-decay`.

One `step` for every family (sgd, rmsprop, adam), weight decay in either style. Every framework
adapter is checked against it (workbench/check): its own optimizer, set to the spec's meaning, must
follow these steps to 1e-8 in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from tasks.spec import OptimizerSpec, Weights, is_trainable

PRESETS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")  # the --optimizer values
FAMILIES = ("sgd", "rmsprop", "adam")  # OptimizerSpec.name: the update rule
# the eps placements a spec may name (OptimizerSpec.eps_style), per family; not an adapter's EPS_STYLES, which says
# which of these that engine runs exactly
EPS_STYLE_CHOICES = {"adam": ("corrected", "uncorrected"), "rmsprop": ("outside", "inside")}
VELOCITIES = ("gradient", "step")
DECAY_STYLES = ("l2", "decoupled")
DECAY_SCALES = ("lr", "schedule")
PRESET_MOMENTUM = 0.9  # momentum and nesterov presets
PRESET_RHO = 0.9  # rmsprop preset: the original (Hinton's) decay of the mean squared gradient
PRESET_ADAMW_DECAY = 1e-2  # adamw preset without --weight-decay


class OptimizerError(ValueError):
    """An optimizer spec whose fields contradict each other, or an unknown preset: the message says which."""


# ---------------------------------------------------------------- presets and names


def preset(name: str, base: OptimizerSpec, weight_decay: float | None = None) -> OptimizerSpec:
    """The task's optimizer turned into preset `name`: the task's lr, betas and eps are kept, every other number
    is set here explicitly. weight_decay: L2 in the gradient, or decoupled for adamw (default PRESET_ADAMW_DECAY)."""
    if name not in PRESETS:
        raise OptimizerError(f"unknown optimizer {name!r}: choose from {', '.join(PRESETS)}")
    plain = replace(base, momentum=0.0, nesterov=False, dampening=0.0, velocity="gradient", centered=False,
                    weight_decay=0.0, weight_decay_style="l2", decay_scale="lr")  # fmt: skip
    wd = 0.0 if weight_decay is None else weight_decay
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else PRESET_MOMENTUM
        opt = replace(plain, name="sgd", momentum=momentum, nesterov=name == "nesterov", weight_decay=wd)
    elif name == "rmsprop":
        opt = replace(plain, name="rmsprop", rho=PRESET_RHO, eps_style="outside", weight_decay=wd)
    else:
        eps_style = base.eps_style if base.name == "adam" else "corrected"
        if name == "adamw":
            wd = PRESET_ADAMW_DECAY if weight_decay is None else weight_decay
        opt = replace(plain, name="adam", eps_style=eps_style, weight_decay=wd,
                      weight_decay_style="decoupled" if name == "adamw" else "l2")  # fmt: skip
    validate(opt)
    return opt


def preset_name(opt: OptimizerSpec) -> str:
    """The preset an optimizer spec belongs to: 'nesterov', 'adamw', ... (the inverse of `preset`'s name)."""
    if opt.name == "sgd":
        return "nesterov" if opt.nesterov else "momentum" if opt.momentum else "sgd"
    if opt.name == "adam" and opt.weight_decay and opt.weight_decay_style == "decoupled":
        return "adamw"
    return opt.name


def describe(opt: OptimizerSpec) -> str:
    """Every number that matters for this optimizer, in one short line (the check's variant names)."""
    parts = [preset_name(opt)]
    if opt.name == "sgd" and opt.momentum:
        parts += [f"momentum={opt.momentum:g}"] + ([f"dampening={opt.dampening:g}"] if opt.dampening else [])
    if opt.name == "rmsprop":
        parts += [f"rho={opt.rho:g}"] + (["centered"] if opt.centered else []) + ([f"momentum={opt.momentum:g}"] if opt.momentum else [])
    if opt.name in EPS_STYLE_CHOICES:
        parts += [f"eps={opt.eps:g}", opt.eps_style]
    if opt.momentum and opt.velocity != "gradient":
        parts.append(f"velocity={opt.velocity}")
    if opt.weight_decay:
        parts.append(f"{opt.weight_decay_style} wd={opt.weight_decay:g}" + (" per schedule" if opt.decay_scale == "schedule" else ""))
    return " ".join(parts)


def validate(opt: OptimizerSpec) -> None:
    """Raise OptimizerError if a field has an unknown value or does not apply to the family."""
    checks = [
        (opt.name in FAMILIES, f"optimizer name {opt.name!r}: choose from {', '.join(FAMILIES)}"),
        (opt.name not in EPS_STYLE_CHOICES or opt.eps_style in EPS_STYLE_CHOICES[opt.name],
         f"{opt.name} eps_style {opt.eps_style!r}: choose from {', '.join(EPS_STYLE_CHOICES.get(opt.name, ()))}"),
        (opt.velocity in VELOCITIES, f"velocity {opt.velocity!r}: choose from {', '.join(VELOCITIES)}"),
        (opt.weight_decay_style in DECAY_STYLES, f"weight_decay_style {opt.weight_decay_style!r}: choose from {', '.join(DECAY_STYLES)}"),
        (opt.decay_scale in DECAY_SCALES, f"decay_scale {opt.decay_scale!r}: choose from {', '.join(DECAY_SCALES)}"),
        (opt.weight_decay >= 0 and opt.momentum >= 0, "weight_decay and momentum must be >= 0"),
        (not opt.nesterov or (opt.name == "sgd" and opt.momentum > 0), "nesterov needs sgd with momentum > 0"),
        (not opt.dampening or (opt.name == "sgd" and opt.velocity == "gradient" and not opt.nesterov),
         "dampening applies to sgd with velocity 'gradient', without nesterov"),
        (not opt.momentum or opt.name != "adam", "adam has no momentum field (beta_1 is its momentum)"),
        (not opt.weight_decay or opt.weight_decay_style != "decoupled" or opt.name == "adam",
         "decoupled weight decay is defined for adam (adamw) only"),
    ]  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise OptimizerError(message)


def decoupled_rate(opt: OptimizerSpec) -> float:
    """The coefficient frameworks multiply by the *current* lr in decoupled decay (w -= lr * rate * w).

    decay_scale "lr": the spec's weight_decay itself. "schedule" (Loshchilov & Hutter: w -= (lr / lr_0) * wd * w):
    weight_decay / lr_0, with lr_0 the spec's lr, so a decaying schedule scales the decay but the base lr does not.
    """
    return opt.weight_decay / opt.lr if opt.decay_scale == "schedule" else opt.weight_decay


# ---------------------------------------------------------------- one step


@dataclass(frozen=True)
class OptimizerState:
    """Step count and per-weight buffers, keyed like the weights (the ones the family uses)."""

    t: int = 0  # steps taken so far
    m: dict[str, np.ndarray] = field(default_factory=dict)  # adam first moment; sgd/rmsprop momentum velocity
    v: dict[str, np.ndarray] = field(default_factory=dict)  # adam second moment; rmsprop mean squared gradient
    g: dict[str, np.ndarray] = field(default_factory=dict)  # centered rmsprop: mean gradient


AdamState = OptimizerState  # the name tasks.reference has always used


def _momentum(opt: OptimizerSpec, m: np.ndarray | None, direction: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
    """(velocity, weight change) of momentum on `direction` (sgd: the gradient; rmsprop: g / denominator).

    velocity "gradient": v = momentum * v + (1 - dampening) * d (v = d at the first step), change -lr * v
    (Nesterov: -lr * (d + momentum * v)); "step": v = momentum * v - lr * d, change v (Nesterov: momentum * v - lr * d).
    """
    mu = opt.momentum
    if opt.velocity == "gradient":
        v = direction.copy() if m is None else mu * m + (1.0 - opt.dampening) * direction
        return v, -lr * (direction + mu * v if opt.nesterov else v)
    v = (0.0 if m is None else mu * m) - lr * direction
    return v, (mu * v - lr * direction if opt.nesterov else v)


def step(weights: Weights, grads: Weights, state: OptimizerState | None, opt: OptimizerSpec, lr: float | None = None
         ) -> tuple[Weights, OptimizerState]:  # fmt: skip
    """One step of `opt` on every trainable weight in `grads` (state None = first step; lr None = opt.lr).

    Weight decay, on every trainable weight: "l2" adds weight_decay * w to the gradient first;
    "decoupled" shrinks w by lr * decoupled_rate(opt) * w, then takes the step on the plain gradient.
    """
    validate(opt)
    lr = opt.lr if lr is None else lr
    state = OptimizerState() if state is None else state
    t = state.t + 1
    new, m, v, g_avg = dict(weights), dict(state.m), dict(state.v), dict(state.g)
    for key, grad in grads.items():
        if not is_trainable(key):
            continue
        w = np.asarray(weights[key], dtype=np.float64)
        if opt.weight_decay and opt.weight_decay_style == "l2":
            grad = grad + opt.weight_decay * w
        if opt.weight_decay and opt.weight_decay_style == "decoupled":
            w = w - lr * decoupled_rate(opt) * w
        if opt.name == "sgd":
            if opt.momentum:
                m[key], change = _momentum(opt, state.m.get(key), grad, lr)
            else:
                change = -lr * grad
        elif opt.name == "rmsprop":
            v[key] = opt.rho * state.v.get(key, 0.0) + (1.0 - opt.rho) * grad * grad
            variance = v[key]
            if opt.centered:
                g_avg[key] = opt.rho * state.g.get(key, 0.0) + (1.0 - opt.rho) * grad
                variance = variance - g_avg[key] ** 2
            denominator = np.sqrt(variance + opt.eps) if opt.eps_style == "inside" else np.sqrt(variance) + opt.eps
            if opt.momentum:
                m[key], change = _momentum(opt, state.m.get(key), grad / denominator, lr)
            else:
                change = -lr * grad / denominator
        else:
            b1, b2 = opt.beta_1, opt.beta_2
            m[key] = b1 * state.m.get(key, 0.0) + (1.0 - b1) * grad
            v[key] = b2 * state.v.get(key, 0.0) + (1.0 - b2) * grad * grad
            if opt.eps_style == "corrected":  # eps added to the bias-corrected sqrt(v_hat)
                change = -lr * (m[key] / (1.0 - b1**t)) / (np.sqrt(v[key] / (1.0 - b2**t)) + opt.eps)
            else:  # eps added to the uncorrected sqrt(v); the bias correction folded into the step size
                change = -lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t) * m[key] / (np.sqrt(v[key]) + opt.eps)
        new[key] = w + change
    return new, OptimizerState(t=t, m=m, v=v, g=g_avg)


def sgd_step(weights: Weights, grads: Weights, lr: float) -> Weights:
    """w - lr * grad for every trainable weight in `grads`; everything else passes through."""
    return step(weights, grads, None, OptimizerSpec(name="sgd", lr=lr))[0]


def adam_step(weights: Weights, grads: Weights, state: OptimizerState | None, *, lr: float, beta_1: float, beta_2: float,
              eps: float, eps_style: str) -> tuple[Weights, OptimizerState]:  # fmt: skip
    """One Adam step (state None = first step); eps_style says where eps enters, see OptimizerSpec."""
    if eps_style not in EPS_STYLE_CHOICES["adam"]:
        raise KeyError(f"unknown eps_style {eps_style!r}; valid: {', '.join(EPS_STYLE_CHOICES['adam'])}")
    opt = OptimizerSpec(name="adam", lr=lr, beta_1=beta_1, beta_2=beta_2, eps=eps, eps_style=eps_style)
    return step(weights, grads, state, opt)
