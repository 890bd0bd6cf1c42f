"""The CLI's overrides of a TaskSpec (epochs, batch size, lr, seed, optimizer preset, weight decay, loss).

Apart from tasks/spec.py because an optimizer preset is tasks/optimizers.py's, which itself reads the spec's types:
spec <- optimizers <- overrides, no cycle.
"""

from __future__ import annotations

from dataclasses import replace

from tasks import optimizers
from tasks.spec import TaskSpec


def with_overrides(
    spec: TaskSpec,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    optimizer: str | None = None,
    weight_decay: float | None = None,
    loss: str | None = None,
) -> TaskSpec:
    """Return a copy of `spec` with the CLI's overrides applied (None keeps the spec's value).

    optimizer: a preset of tasks.optimizers (the task's lr, betas and eps kept); weight_decay alone
    keeps the task's optimizer and adds L2 (decoupled for adamw). lr applies last.
    """
    train = replace(
        spec.train,
        epochs=spec.train.epochs if epochs is None else epochs,
        batch_size=spec.train.batch_size if batch_size is None else batch_size,
        seed=spec.train.seed if seed is None else seed,
    )
    opt = spec.optimizer
    if optimizer is not None or weight_decay is not None:
        opt = optimizers.preset(optimizer or optimizers.preset_name(opt), opt, weight_decay)
    opt = opt if lr is None else replace(opt, lr=lr)
    model = spec.model if loss is None else replace(spec.model, loss=loss)
    return replace(spec, train=train, optimizer=opt, model=model)
