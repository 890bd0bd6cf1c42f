"""Register, look up and list tasks. One name per task: registry key, --task value, file name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tasks import cifar10, digits, mnist, sentiment
from tasks.pipeline import Dataset
from tasks.spec import TaskSpec

TASK_MODULES = (digits, mnist, cifar10, sentiment)  # the built-in tasks, registered in this order: digits first (offline)


class UnknownTaskError(KeyError):
    """Raised for a task name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownVariantError(UnknownTaskError):
    """Raised for a model variant a task does not register; the message lists the valid ones."""


DEFAULT_VARIANT = "default"  # the variant name of a task module without VARIANTS: its SPEC


@dataclass(frozen=True)
class Task:
    """A registered task: its spec and the function that loads its prepared data."""

    spec: TaskSpec
    load: Callable[[str | None], Dataset]  # data_dir -> preprocessed Dataset
    doc: str  # the task module's docstring: the architecture in words
    # --model NAME -> the task's spec with that model; the first is the default and is `spec` itself
    variants: dict[str, TaskSpec] = field(default_factory=dict)

    def variant_names(self) -> list[str]:
        """The registered variants, the default first."""
        return list(self.variants) or [DEFAULT_VARIANT]

    def variant(self, name: str | None) -> TaskSpec:
        """The spec of variant `name` (None: the default); an unknown name raises UnknownVariantError listing the valid ones."""
        if name is None:
            return self.spec
        if name not in self.variant_names():
            raise UnknownVariantError(f"unknown --model {name!r} for task {self.spec.name}: choose one of {', '.join(self.variant_names())}")
        return self.variants.get(name, self.spec)


_TASKS: dict[str, Task] = {}
_builtin_loaded = False  # TASK_MODULES are registered once, on the first look-up


def register(spec: TaskSpec, load: Callable[[str | None], Dataset], doc: str = "", variants: dict[str, TaskSpec] | None = None) -> None:
    """Add a task (and its model variants, the first being `spec`); a second task with the same name is an error."""
    if spec.name in _TASKS:
        raise ValueError(f"task {spec.name!r} is already registered")
    variants = dict(variants or {})
    if variants and (next(iter(variants.values())) != spec or any(v.name != spec.name for v in variants.values())):
        raise ValueError(f"task {spec.name!r}: the first variant must be its SPEC, and every variant must keep its name")
    _TASKS[spec.name] = Task(spec=spec, load=load, doc=doc, variants=variants)


def _load_builtin() -> None:
    """Register every module of TASK_MODULES, once; a task name taken twice raises ValueError."""
    global _builtin_loaded
    if _builtin_loaded:
        return
    modules = list(TASK_MODULES)
    seen: dict[str, str] = {}
    for module in modules:  # check them all before registering any, so a failure leaves no half-filled registry
        name = module.SPEC.name
        if name in seen or name in _TASKS:
            raise ValueError(f"task {name!r} of {module.__name__} is already registered by {seen.get(name, 'register()')}")
        seen[name] = module.__name__
    for module in modules:
        register(module.SPEC, module.load, (module.__doc__ or "").strip(), getattr(module, "VARIANTS", None))
    _builtin_loaded = True


def names() -> list[str]:
    """Every registered task name, in registration order."""
    _load_builtin()
    return list(_TASKS)


def get(name: str) -> Task:
    """The task called `name`; an unknown name raises UnknownTaskError listing the valid ones."""
    _load_builtin()
    if name not in _TASKS:
        raise UnknownTaskError(f"unknown task {name!r}: choose one of {', '.join(_TASKS)}")
    return _TASKS[name]
