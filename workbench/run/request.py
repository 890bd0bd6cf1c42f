"""RunRequest: everything a child process needs to run one row, with the row's spec resolved once, as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from frameworks.base import RunSettings
from tasks import registry
from tasks.augment import with_augment
from tasks.overrides import with_overrides
from tasks.spec import TaskSpec
from tasks.spec_io import spec_from_json, spec_to_json


@dataclass(frozen=True)
class RunRequest:
    """One row: which framework trains which model on which resolved spec, and how."""

    task: str
    framework: str
    model: str  # "spec" or a baseline's name (see the glossary in workbench/options.py)
    spec: str = ""  # the row's TaskSpec as JSON (tasks/spec_io.py), every override applied; "" only for the task's own
    settings: RunSettings = field(default_factory=RunSettings)
    subset: int | None = None  # first N training samples
    test_subset: int | None = None  # first N test samples
    data_dir: str | None = None
    dry_run: bool = False  # one batch of training, one batch of test, one epoch
    import_weights: str | None = None  # a weights.npz to start the spec network from, instead of the canonical init
    export_dir: str | None = None  # write, and check in a fresh process, every artifact of the trained network here
    config: dict = field(default_factory=dict)  # the row's --sweep values, e.g. {"lr": 0.003}
    load_weights: str = ""  # "module:function" reading --import-weights (set by the planner: workbench.deploy)
    export: str = ""  # "module:function" exporting a trained network for --export (set by the planner)

    def task_spec(self) -> TaskSpec:
        """The row's spec (decoded, never resolved again)."""
        return spec_from_json(self.spec) if self.spec else registry.get(self.task).spec

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunRequest":
        """Inverse of `to_dict`."""
        return cls(**{**data, "settings": RunSettings(**data["settings"])})


def resolve_spec(task: str, variant: str | None = None, *, epochs: int | None = None, batch_size: int | None = None,
                 lr: float | None = None, seed: int | None = None, optimizer: str | None = None,
                 weight_decay: float | None = None, loss: str | None = None, augment: str | None = None,
                 dry_run: bool = False) -> TaskSpec:  # fmt: skip
    """The task's spec (or its variant's) with every override applied (a dry run trains one epoch): the one resolution."""
    spec = with_overrides(registry.get(task).variant(variant), epochs=1 if dry_run else epochs, batch_size=batch_size,
                          lr=lr, seed=seed, optimizer=optimizer, weight_decay=weight_decay, loss=loss)  # fmt: skip
    return with_augment(spec, augment)


def make_request(task: str, framework: str, model: str, *, settings: RunSettings | None = None,
                 variant: str | None = None, epochs: int | None = None, batch_size: int | None = None,
                 lr: float | None = None, seed: int | None = None, optimizer: str | None = None,
                 weight_decay: float | None = None, loss: str | None = None, augment: str | None = None,
                 dry_run: bool = False, subset: int | None = None, data_dir: str | None = None,
                 import_weights: str | None = None) -> RunRequest:  # fmt: skip
    """A RunRequest for the task's spec with these overrides, resolved here once (the settings' seed is the spec's)."""
    spec = resolve_spec(task, variant, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, optimizer=optimizer,
                        weight_decay=weight_decay, loss=loss, augment=augment, dry_run=dry_run)  # fmt: skip
    settings = replace(settings or RunSettings(), seed=spec.train.seed)
    return RunRequest(task=task, framework=framework, model=model, spec=spec_to_json(spec), settings=settings,
                      dry_run=dry_run, subset=subset, data_dir=data_dir, import_weights=import_weights)  # fmt: skip
