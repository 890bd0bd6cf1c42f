"""The spec's optimizer in torch.optim, for the PyTorch adapter: make_optimizer, and Keras' Adam (eps on the
uncorrected sqrt(v)) as torch.optim.Adam with a rescaled eps."""

from __future__ import annotations

import torch

from tasks.optimizers import decoupled_rate
from tasks.spec import OptimizerSpec


class AdamUncorrectedEps(torch.optim.Adam):
    """Keras' Adam: eps added to the uncorrected sqrt(v), with a bias-corrected step size.

    lr_t * m / (sqrt(v) + eps) with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) equals torch's
    lr * m_hat / (sqrt(v_hat) + eps_t) with eps_t = eps / sqrt(1 - b2^t): so this is torch.optim.Adam
    (and its fast multi-tensor path) with that epsilon set before each step.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float, weight_decay: float = 0.0,  # noqa: ANN001
                 decoupled_weight_decay: bool = False):  # fmt: skip
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay)
        self.keras_eps, self.steps = eps, 0

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201
        """One update of every parameter that has a gradient."""
        self.steps += 1
        for group in self.param_groups:
            group["eps"] = self.keras_eps / (1 - group["betas"][1] ** self.steps) ** 0.5
        return super().step(closure)


def make_optimizer(opt: OptimizerSpec, params) -> torch.optim.Optimizer:  # noqa: ANN001
    """The spec's optimizer, every number passed explicitly.

    torch's weight_decay= is L2 added to the gradient; AdamW (decoupled_weight_decay) shrinks the weights by
    lr * weight_decay * w first. Its momentum velocity holds no lr (v = momentum * v + g, p -= lr * v): the spec's
    "gradient" velocity; Network.set_learning_rate rescales it for the "step" velocity.
    """
    l2 = opt.weight_decay if opt.weight_decay_style == "l2" else 0.0
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening, nesterov=opt.nesterov,
                               weight_decay=l2)  # fmt: skip
    if opt.name == "rmsprop":
        # torch calls rho "alpha" (default 0.99) and adds eps outside the square root
        return torch.optim.RMSprop(params, lr=opt.lr, alpha=opt.rho, eps=opt.eps, weight_decay=l2, momentum=opt.momentum,
                                   centered=opt.centered)  # fmt: skip
    decoupled = opt.weight_decay_style == "decoupled"
    wd = decoupled_rate(opt) if decoupled else l2  # torch multiplies decoupled decay by the current lr
    betas = (opt.beta_1, opt.beta_2)
    if opt.eps_style == "corrected":
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        return cls(params, lr=opt.lr, betas=betas, eps=opt.eps, weight_decay=wd)
    return AdamUncorrectedEps(params, lr=opt.lr, betas=betas, eps=opt.eps, weight_decay=wd, decoupled_weight_decay=decoupled)
