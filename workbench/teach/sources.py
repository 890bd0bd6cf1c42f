"""The adapters' own code, read with `inspect` at run time so a handout can never go stale.

Each adapter module names the functions it shows for each role (`source_names(spec)`); the same
roles appear for every framework, in the order of ROLES, so the same piece reads side by side.
"""

from __future__ import annotations

import ast
import inspect
import os
from dataclasses import asdict, dataclass
from types import ModuleType

from workbench.process.env import ROOT

ROLES = ("Build the model from the spec", "The optimizer", "The loss", "One training epoch")  # shown first, in this order


@dataclass(frozen=True)
class SourceBlock:
    """One piece of an adapter's code, as written in its file."""

    framework: str
    name: str  # dotted name inside the module, e.g. "Network.fit_epoch"
    path: str  # file relative to the repository, e.g. "frameworks/pytorch.py"
    first_line: int
    code: str

    def to_dict(self) -> dict:
        """JSON-ready form (it crosses the process boundary)."""
        return asdict(self)


def resolve(module: ModuleType, dotted: str) -> object:
    """`Network.fit_epoch` -> the function object inside `module`."""
    target: object = module
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def _relative(path: str) -> str:
    return os.path.relpath(path, ROOT) if path.startswith(str(ROOT)) else path


def source_of(module: ModuleType, dotted: str) -> SourceBlock:
    """The source of a function, class or module-level assignment (e.g. BASELINES), from its own file.

    A name the module re-exports (a builder shared by several adapters) shows the file where it is written.
    """
    framework = getattr(module, "NAME", module.__name__)
    target = resolve(module, dotted)
    if inspect.isfunction(target) or inspect.isclass(target):
        lines, first = inspect.getsourcelines(target)
        return SourceBlock(framework, dotted, _relative(inspect.getsourcefile(target)), first, "".join(lines).rstrip())
    text = inspect.getsource(module)  # a constant such as a dict: find its assignment statement
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == dotted for t in node.targets):
            path = _relative(inspect.getsourcefile(module))
            return SourceBlock(framework, dotted, path, node.lineno, ast.get_source_segment(text, node))
    raise LookupError(f"{module.__name__} has no function, class or assignment called {dotted!r}")
