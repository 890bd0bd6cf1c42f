"""The Keras optimizers framebench adds for the spec's formulas, and make_optimizer, for the three Keras backends.

Stock keras.optimizers are used where they compute the spec's formula; these classes where they do not (eps placement,
exact momentum and betas in float64, L2 in the gradient, dense Embedding gradients). Import after the backend is set.
"""

from __future__ import annotations

import keras

from tasks.optimizers import decoupled_rate
from tasks.spec import OptimizerSpec


def exact(value: float, dtype: str):  # noqa: ANN201 - a backend tensor
    """A Python constant as a tensor of `dtype`. Not ops.cast: ops.cast(0.9, "float64") goes through float32
    (0.89999997615814), which stock keras.optimizers.SGD does to its momentum and Adam to its betas."""
    return keras.ops.convert_to_tensor(value, dtype=dtype)


class SpecGradient:
    """Mixin of framebench's Keras optimizers: the gradient made dense (a backend whose Embedding gradient is
    sparse sets `dense`), plus the spec's L2 term. Keras has no L2-in-gradient option: its weight_decay= is decoupled."""

    dense = staticmethod(lambda gradient: gradient)  # set per instance by make_optimizer
    l2 = 0.0  # the spec's weight_decay when its style is "l2"

    def spec_gradient(self, gradient, variable):  # noqa: ANN001, ANN201
        """dense(gradient) + l2 * variable, in the variable's dtype."""
        gradient = keras.ops.cast(self.dense(gradient), variable.dtype)
        if not self.l2:
            return gradient
        return keras.ops.add(gradient, keras.ops.multiply(exact(self.l2, variable.dtype), variable))


class SGDExactMomentum(SpecGradient, keras.optimizers.SGD):
    """Keras' SGD formula (v = momentum * v - lr * g; w += v; Nesterov w += momentum * v - lr * g), with the
    momentum exact in float64 and the spec's L2 term."""

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """One step of the formula above."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = self.spec_gradient(gradient, variable)
        if not self.momentum:
            self.assign_sub(variable, ops.multiply(gradient, lr))
            return
        m = self.momentums[self._get_variable_index(variable)]
        momentum = exact(self.momentum, variable.dtype)
        self.assign(m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, lr)))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, lr)))
        else:
            self.assign_add(variable, m)


class RMSpropSpecEps(SpecGradient, keras.optimizers.RMSprop):
    """Keras' RMSprop formula with eps where the spec puts it: outside the square root (PyTorch) or inside (Keras,
    `eps_inside`); momentum as Keras: m = momentum * m + lr * g / denominator, w -= m."""

    eps_inside = False

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """One step of the formula above."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = self.spec_gradient(gradient, variable)
        index = self._get_variable_index(variable)
        rho = exact(self.rho, variable.dtype)
        s = self._velocities[index]
        self.assign(s, ops.add(ops.multiply(rho, s), ops.multiply(1 - rho, ops.square(gradient))))
        variance = s
        if self.centered:
            g_avg = self._average_gradients[index]
            self.assign(g_avg, ops.add(ops.multiply(rho, g_avg), ops.multiply(1 - rho, gradient)))
            variance = ops.subtract(s, ops.square(g_avg))
        eps = exact(self.epsilon, variable.dtype)
        denominator = ops.sqrt(ops.add(variance, eps)) if self.eps_inside else ops.add(ops.sqrt(variance), eps)
        increment = ops.divide(ops.multiply(lr, gradient), denominator)
        if self.momentum > 0:
            m = self._momentums[index]
            self.assign(m, ops.add(ops.multiply(exact(self.momentum, variable.dtype), m), increment))
            self.assign_sub(variable, m)
        else:
            self.assign_sub(variable, increment)


class SpecAdam(SpecGradient, keras.optimizers.Adam):
    """Keras' Adam moments m and v from the spec's gradient (made dense, plus L2), the betas exact in float64; each
    subclass's `step(m, v, lr, 1 - b1^t, 1 - b2^t)` is the weight update, eps where its formula puts it."""

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN201
        """m += (1 - b1) (g - m); v += (1 - b2) (g^2 - v); w -= step(...)."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = self.spec_gradient(gradient, variable)
        t = ops.cast(self.iterations + 1, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        beta_1, beta_2 = exact(self.beta_1, variable.dtype), exact(self.beta_2, variable.dtype)
        self.assign_sub(variable, self.step(m, v, lr, 1 - ops.power(beta_1, t), 1 - ops.power(beta_2, t)))


class AdamUncorrectedEps(SpecAdam):
    """Keras' own Adam formula, eps added to the uncorrected sqrt(v). The stock class on TensorFlow updates m and v from
    an Embedding's IndexedSlices with repeated ids unsummed (the first step moves such a row by up to sqrt(count) x lr:
    docs/differences.md); this one gets the gradient dense."""

    def step(self, m, v, lr, correction_1, correction_2):  # noqa: ANN001, ANN201
        """lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)."""
        ops = keras.ops
        alpha = ops.divide(ops.multiply(lr, ops.sqrt(correction_2)), correction_1)
        return ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))


class AdamCorrectedEps(SpecAdam):
    """Adam with eps added to the bias-corrected sqrt(v_hat), as torch.optim.Adam does."""

    def step(self, m, v, lr, correction_1, correction_2):  # noqa: ANN001, ANN201
        """lr * m_hat / (sqrt(v_hat) + eps)."""
        ops = keras.ops
        m_hat, v_hat = ops.divide(m, correction_1), ops.divide(v, correction_2)
        return ops.divide(ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), self.epsilon))


def make_optimizer(opt: OptimizerSpec, dense=None, faster: dict | None = None) -> keras.optimizers.Optimizer:  # noqa: ANN001
    """The spec's optimizer, every number passed explicitly; `dense`: the backend's dense-gradient function;
    `faster`: a backend's own class for one of the classes below, same formula (Network.faster_optimizers).

    Stock keras.optimizers are used where they compute the spec's formula: plain SGD, and, where gradients are never
    sparse (dense is None: JAX, torch) and there is no L2, RMSprop with eps inside the square root and Adam with eps on
    the uncorrected sqrt(v) (its betas round through float32 in float64 runs, which those backends compute in float32
    anyway: docs/differences.md). Keras' weight_decay= is decoupled and multiplied by the current lr
    (base_optimizer._apply_weight_decay); L2 in the gradient is SpecGradient's.
    """
    faster = faster or {}
    l2 = opt.weight_decay if opt.weight_decay_style == "l2" else 0.0
    decoupled = decoupled_rate(opt) if opt.weight_decay and opt.weight_decay_style == "decoupled" else None
    if opt.name == "sgd":
        # Keras' velocity holds lr (v = momentum * v - lr * g): the spec's "step" velocity; Network.set_learning_rate
        # rescales it for "gradient". Keras has no dampening (unsupported says so).
        stock = not opt.momentum and not l2
        cls = keras.optimizers.SGD if stock else SGDExactMomentum
        optimizer = faster.get(cls, cls)(learning_rate=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov)
    elif opt.name == "rmsprop":
        # Keras puts eps inside the square root, and its rho is the spec's (PyTorch: alpha, default 0.99). Not the
        # stock class where gradients can be sparse: on TensorFlow it squares an Embedding's IndexedSlices slice by
        # slice, so a repeated id gets sum(g^2) instead of (sum g)^2 (docs/differences.md)
        stock = opt.eps_style == "inside" and not l2 and dense is None
        cls = keras.optimizers.RMSprop if stock else RMSpropSpecEps
        optimizer = faster.get(cls, cls)(learning_rate=opt.lr, rho=opt.rho, momentum=opt.momentum, epsilon=opt.eps, centered=opt.centered)
        if not stock:
            optimizer.eps_inside = opt.eps_style == "inside"
    else:
        # Keras' own Adam puts eps on the uncorrected sqrt(v) (torch: on the corrected one). Not the stock class where
        # gradients can be sparse (TensorFlow's IndexedSlices: an Embedding's repeated ids unsummed) or with L2
        stock = dense is None and not l2
        cls = AdamCorrectedEps if opt.eps_style == "corrected" else keras.optimizers.Adam if stock else AdamUncorrectedEps
        optimizer = faster.get(cls, cls)(learning_rate=opt.lr, beta_1=opt.beta_1, beta_2=opt.beta_2, epsilon=opt.eps, weight_decay=decoupled)
    if isinstance(optimizer, SpecGradient):
        optimizer.l2 = l2
        if dense is not None:
            optimizer.dense = dense
    return optimizer
