"""Register, look up and list tasks. One name per task: registry key, --task value, file name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from tasks.pipeline import Dataset
from tasks.spec import TaskSpec

TASK_MODULES = ("tasks.digits", "tasks.mnist", "tasks.cifar10", "tasks.sentiment")  # digits first: it runs offline


class UnknownTaskError(KeyError):
    """Raised for a task name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Task:
    """A registered task: its spec and the function that loads its prepared data."""

    spec: TaskSpec
    load: Callable[[str | None], Dataset]  # data_dir -> preprocessed Dataset
    doc: str  # the task module's docstring: the architecture in words


_TASKS: dict[str, Task] = {}
_builtin_loaded = False  # TASK_MODULES are registered once, on the first look-up


def register(spec: TaskSpec, load: Callable[[str | None], Dataset], doc: str = "") -> None:
    """Add a task; a second task with the same name is an error."""
    if spec.name in _TASKS:
        raise ValueError(f"task {spec.name!r} is already registered")
    _TASKS[spec.name] = Task(spec=spec, load=load, doc=doc)


def _load_builtin() -> None:
    """Register every module of TASK_MODULES, once; a task name taken twice raises ValueError."""
    global _builtin_loaded
    if _builtin_loaded:
        return
    modules = [importlib.import_module(name) for name in TASK_MODULES]
    seen: dict[str, str] = {}
    for module in modules:  # check them all before registering any, so a failure leaves no half-filled registry
        name = module.SPEC.name
        if name in seen or name in _TASKS:
            raise ValueError(f"task {name!r} of {module.__name__} is already registered by {seen.get(name, 'register()')}")
        seen[name] = module.__name__
    for module in modules:
        register(module.SPEC, module.load, (module.__doc__ or "").strip())
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
