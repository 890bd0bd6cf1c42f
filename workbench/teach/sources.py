"""The adapters' own code, read with `inspect` at run time so a handout can never go stale.

Each framework shows the same roles (build the model, the optimizer, the loss, one training
epoch) in the same order, plus helpers only this task's spec needs (e.g. a custom Adam).
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from types import ModuleType

from tasks.spec import LSTM, Dense, ReLU, TaskSpec

# role -> framework -> dotted name inside the adapter module (None: the framework has no such piece)
ROLES: tuple[tuple[str, dict[str, str | None]], ...] = (
    ("Build the model from the spec", {"pytorch": "build_model", "keras": "build_model", "sklearn": "build_mlp"}),
    ("The optimizer", {"pytorch": "make_optimizer", "keras": "make_optimizer", "sklearn": None}),
    ("The loss", {"pytorch": "make_loss", "keras": "make_loss", "sklearn": None}),
    ("One training epoch", {"pytorch": "Adapter.fit_epoch", "keras": "Adapter.fit_epoch", "sklearn": "Adapter.fit_epoch"}),
)
# Why a framework has no code for a role (shown instead of the code).
MISSING_ROLE = {
    ("sklearn", "The optimizer"): "MLPClassifier builds its own optimizer from solver=..., epsilon=... in build_mlp.",
    ("sklearn", "The loss"): "MLPClassifier always uses softmax cross-entropy (log-loss); there is nothing to choose.",
}


@dataclass(frozen=True)
class SourceBlock:
    """One piece of an adapter's code, as written in its file."""

    framework: str
    name: str  # dotted name inside the module, e.g. "Adapter.fit_epoch"
    path: str  # file relative to the repository, e.g. "frameworks/pytorch.py"
    first_line: int
    code: str


def resolve(module: ModuleType, dotted: str) -> object:
    """`Adapter.fit_epoch` -> the function object inside `module`."""
    target: object = module
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def module_path(module: ModuleType) -> str:
    """'frameworks/pytorch.py' for frameworks.pytorch."""
    return module.__name__.replace(".", "/") + ".py"


def source_of(framework: str, module: ModuleType, dotted: str) -> SourceBlock:
    """The source of a function, class or module-level assignment (e.g. BASELINES), from the file."""
    target = resolve(module, dotted)
    if inspect.isfunction(target) or inspect.isclass(target):
        lines, first = inspect.getsourcelines(target)
        return SourceBlock(framework, dotted, module_path(module), first, "".join(lines).rstrip())
    text = inspect.getsource(module)  # a constant such as a dict: find its assignment statement
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == dotted for t in node.targets):
            return SourceBlock(framework, dotted, module_path(module), node.lineno, ast.get_source_segment(text, node))
    raise LookupError(f"{module.__name__} has no function, class or assignment called {dotted!r}")


def _is_mlp(spec: TaskSpec) -> bool:
    return all(isinstance(layer, (Dense, ReLU)) for layer in spec.model.layers) and spec.model.loss == "cross_entropy"


def sklearn_uses_mlp(spec: TaskSpec) -> bool:
    """True when the task has an MLPClassifier row (the spec's own network in scikit-learn)."""
    return _is_mlp(spec) and any(b.kind == "mlp" for b in spec.baselines)


def role_names(framework: str, role: str, spec: TaskSpec) -> list[str]:
    """The dotted names shown for one role: the parallel name, plus helpers this spec needs."""
    if framework == "sklearn" and not sklearn_uses_mlp(spec):
        return []  # no MLPClassifier row for this task: only the baselines remain
    name = dict(ROLES)[role][framework]
    names = [name] if name else []
    adam = spec.optimizer.name == "adam"
    if role == "Build the model from the spec" and framework == "pytorch" and any(isinstance(l, LSTM) for l in spec.model.layers):
        names.append("LastHidden")
    if role == "The optimizer" and adam and framework == "pytorch" and spec.optimizer.eps_style == "uncorrected":
        names.append("AdamUncorrectedEps")
    if role == "The optimizer" and adam and framework == "keras" and spec.optimizer.eps_style == "corrected":
        names.append("AdamCorrectedEps")
    return names


def baseline_names(spec: TaskSpec) -> list[str]:
    """scikit-learn's one-shot baselines (everything but the MLP): their table and their fit."""
    return ["BASELINES", "Adapter.fit_all"] if any(b.kind != "mlp" for b in spec.baselines) else []


def collect(spec: TaskSpec, modules: dict[str, ModuleType]) -> list[tuple[str, list[SourceBlock], list[str]]]:
    """(role, code blocks, notes) in role order, for the frameworks in `modules` (name -> adapter module)."""
    sections = []
    for role, _ in ROLES:
        blocks, notes = [], []
        for framework, module in modules.items():
            names = role_names(framework, role, spec)
            blocks += [source_of(framework, module, n) for n in names]
            if not names and (framework, role) in MISSING_ROLE and sklearn_uses_mlp(spec):
                notes.append(f"{framework}: {MISSING_ROLE[framework, role]}")
        sections.append((role, blocks, notes))
    if "sklearn" in modules and baseline_names(spec):
        blocks = [source_of("sklearn", modules["sklearn"], n) for n in baseline_names(spec)]
        sections.append(("scikit-learn baselines (trained once with fit)", blocks, []))
    return sections
