"""The optax optimizers for the spec: optax's own pieces, Keras' Adam (eps on the uncorrected sqrt(v)) written out,
and make_optimizer, for the JAX adapter."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from tasks.optimizers import decoupled_rate
from tasks.spec import OptimizerSpec


def scale_by_adam_uncorrected_eps(b1: float, b2: float, eps: float) -> optax.GradientTransformation:
    """Keras' Adam direction: sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps), eps on the uncorrected sqrt(v).

    optax's eps_root is not this (it goes inside the square root), so the step is written out;
    the state is optax's own ScaleByAdamState.
    """

    def init_fn(params: optax.Params) -> optax.ScaleByAdamState:
        zeros = lambda: jax.tree.map(jnp.zeros_like, params)  # noqa: E731
        return optax.ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros())

    def update_fn(updates: optax.Updates, state: optax.ScaleByAdamState, params: optax.Params | None = None) -> tuple:
        mu = jax.tree.map(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = jax.tree.map(lambda g, v: b2 * v + (1 - b2) * g * g, updates, state.nu)
        count = state.count + 1

        def direction(m: jax.Array, v: jax.Array) -> jax.Array:
            t = count.astype(m.dtype)
            return jnp.sqrt(1 - b2**t) / (1 - b1**t) * m / (jnp.sqrt(v) + eps)

        return jax.tree.map(direction, mu, nu), optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


def adam_uncorrected_eps(learning_rate: float, b1: float, b2: float, eps: float, weight_decay: float = 0.0) -> optax.GradientTransformation:
    """Keras' Adam as an optax optimizer: the direction above, decoupled decay (as optax.adamw), times -learning_rate."""
    decay = optax.add_decayed_weights(weight_decay) if weight_decay else optax.identity()
    return optax.chain(scale_by_adam_uncorrected_eps(b1, b2, eps), decay, optax.scale_by_learning_rate(learning_rate))


def spec_optimizer(learning_rate: float, opt: OptimizerSpec) -> optax.GradientTransformation:
    """The spec's optimizer from optax's own pieces, every number passed explicitly.

    L2 is optax.add_decayed_weights *before* the optimizer (it adds wd * w to the gradient); decoupled decay is
    optax.adamw's, multiplied by the current lr. optax.sgd's trace comes before the lr (the spec's "gradient"
    velocity), optax.rmsprop's after it ("step"): Network.set_learning_rate rescales the other one.
    """
    l2 = optax.add_decayed_weights(opt.weight_decay) if opt.weight_decay and opt.weight_decay_style == "l2" else optax.identity()
    decoupled = decoupled_rate(opt) if opt.weight_decay_style == "decoupled" else 0.0
    momentum = opt.momentum or None  # optax: None is no momentum (0.0 would keep a useless trace)
    if opt.name == "sgd":
        base = optax.sgd(learning_rate, momentum=momentum, nesterov=opt.nesterov)
    elif opt.name == "rmsprop":
        # optax calls rho "decay" and puts eps inside the square root by default (eps_in_sqrt=True)
        base = optax.rmsprop(learning_rate, decay=opt.rho, eps=opt.eps, eps_in_sqrt=opt.eps_style == "inside",
                             centered=opt.centered, momentum=momentum)  # fmt: skip
    elif opt.eps_style == "corrected" and decoupled:
        base = optax.adamw(learning_rate, b1=opt.beta_1, b2=opt.beta_2, eps=opt.eps, eps_root=0.0, weight_decay=decoupled)
    elif opt.eps_style == "corrected":
        base = optax.adam(learning_rate, b1=opt.beta_1, b2=opt.beta_2, eps=opt.eps, eps_root=0.0)
    else:
        base = adam_uncorrected_eps(learning_rate, b1=opt.beta_1, b2=opt.beta_2, eps=opt.eps, weight_decay=decoupled)
    return optax.chain(l2, base)


NATIVE_VELOCITY = {"sgd": "gradient", "rmsprop": "step"}  # where optax's trace sits relative to the lr (see above)


def make_optimizer(opt: OptimizerSpec, dtype: jnp.dtype) -> optax.GradientTransformation:
    """The spec's optimizer (spec_optimizer); optax.adam(w) adds eps to the bias-corrected sqrt(v_hat) (eps_root=0).

    inject_hyperparams keeps the learning rate in the optimizer state, so the driver's schedule
    changes it without recompiling the step.
    """
    return optax.inject_hyperparams(spec_optimizer, static_args=("opt",), hyperparam_dtype=dtype)(learning_rate=opt.lr, opt=opt)
