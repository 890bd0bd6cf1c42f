"""The spec's optimizer in torch.optim, for the PyTorch adapter: make_optimizer, and Keras' Adam (eps on the
uncorrected sqrt(v)) as torch.optim.Adam with a rescaled eps."""

from __future__ import annotations

from collections.abc import Callable

import torch

from tasks.optimizers import decoupled_rate
from tasks.spec import OptimizerSpec


class AdamUncorrectedEps(torch.optim.Adam):
    """Keras' Adam: eps added to the uncorrected sqrt(v), with a bias-corrected step size.

    lr_t * m / (sqrt(v) + eps) with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) equals torch's
    lr * m_hat / (sqrt(v_hat) + eps_t) with eps_t = eps / sqrt(1 - b2^t): so this is torch.optim.Adam
    (and its fast multi-tensor path) with that epsilon set before each step.
    """

    def __init__(self, params, lr: float | torch.Tensor, betas: tuple[float, float], eps: float,  # noqa: ANN001
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, capturable: bool = False):  # fmt: skip
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, capturable=capturable)  # fmt: skip
        self.keras_eps, self.steps = eps, 0

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201
        """One update of every parameter that has a gradient."""
        self.steps += 1
        for group in self.param_groups:
            group["eps"] = self.keras_eps / (1 - group["betas"][1] ** self.steps) ** 0.5
        return super().step(closure)


def make_optimizer(opt: OptimizerSpec, params, tensor_lr: bool = False) -> torch.optim.Optimizer:  # noqa: ANN001
    """The spec's optimizer, every number passed explicitly.

    torch's weight_decay= is L2 added to the gradient; AdamW (decoupled_weight_decay) shrinks the weights by
    lr * weight_decay * w first. Its momentum velocity holds no lr (v = momentum * v + g, p -= lr * v): the spec's
    "gradient" velocity; Network.set_learning_rate rescales it for the "step" velocity.
    tensor_lr (for a torch.compile'd step): the lr as a 0-d float64 tensor, the Python float's exact value, which
    dynamo reads as an input, where it would specialise a float and recompile when the lr changes. On CUDA torch's
    multi-tensor path takes a tensor lr only with capturable=True.
    """
    params = list(params)
    lr = torch.tensor(opt.lr, dtype=torch.float64, device=params[0].device) if tensor_lr else opt.lr
    capturable = {"capturable": True} if tensor_lr and params[0].is_cuda else {}
    l2 = opt.weight_decay if opt.weight_decay_style == "l2" else 0.0
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=opt.momentum, dampening=opt.dampening, nesterov=opt.nesterov,
                               weight_decay=l2)  # fmt: skip
    if opt.name == "rmsprop":
        # torch calls rho "alpha" (default 0.99) and adds eps outside the square root
        return torch.optim.RMSprop(params, lr=lr, alpha=opt.rho, eps=opt.eps, weight_decay=l2, momentum=opt.momentum,
                                   centered=opt.centered, **capturable)  # fmt: skip
    decoupled = opt.weight_decay_style == "decoupled"
    wd = decoupled_rate(opt) if decoupled else l2  # torch multiplies decoupled decay by the current lr
    betas = (opt.beta_1, opt.beta_2)
    if opt.eps_style == "corrected":
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        return cls(params, lr=lr, betas=betas, eps=opt.eps, weight_decay=wd, **capturable)
    return AdamUncorrectedEps(params, lr=lr, betas=betas, eps=opt.eps, weight_decay=wd, decoupled_weight_decay=decoupled,
                              **capturable)  # fmt: skip


def compiled_step(optimizer: torch.optim.Optimizer, dtype: torch.dtype) -> Callable[[], None]:
    """optimizer.step as torch.compile'd graphs, for the compiled mode.

    Compiled, Adam's bias correction is computed from its step counter tensor (eager, from its Python value), which
    torch creates in its default dtype: float32, whose beta ** step is inexact in a float64 row. So the step runs with
    the row's dtype as the default, and a float64 row counts in float64.
    """
    step = torch.compile(optimizer.step)

    def run() -> None:
        default = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            step()
        finally:
            torch.set_default_dtype(default)

    return run
