"""The import graph of tasks/, frameworks/ and workbench/ (imports inside functions included): no cycle, no upward import.

The layers, lowest first (a module may import its own layer and the layers below it, never one above):

    tasks            specs, data, canonical init, the NumPy reference
    frameworks       one adapter per engine, base.py's protocols and registry
    workbench base   errors.py, options.py, process/ (child processes, one-line errors, environment, timing, files)
    run              one row in a child process, executors, results
    check            numerical equivalence against the reference
    teach            --explain
    deploy           export, reload checks, --verify-export (the row's export step is handed to run as a function)
    report           tables, plots, the Markdown report (reads results, never runs them)
    plan             Options -> RunPlan
    api              the library's front, what compare.py, notebooks and tests call
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tasks", "frameworks", "workbench")
LAYERS = (
    ("tasks",),
    ("frameworks",),
    ("workbench.errors", "workbench.options", "workbench.process"),
    ("workbench.run",),
    ("workbench.check",),
    ("workbench.teach",),
    ("workbench.deploy",),
    ("workbench.report",),
    ("workbench.plan",),
    ("workbench.api", "workbench"),
)  # fmt: skip


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the three packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from X import ...` in `module` names, a relative one (`from . import`, `from ..x import`)
    resolved against the package it is in (a package's __init__ is in the package itself)."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_in(source: str, module: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    """The project modules `source` (module `module`) imports anywhere in its code (top level, functions, classes),
    relative imports included, and `compare`."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node, module, is_package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {n for n in names if n in modules or n == "compare"}


def imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules the file `path` imports (see imports_in)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    return imports_in(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", modules)


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, its ancestor packages included (importing `a.b.c` runs `a` and
    `a.b` first): every edge Python follows."""
    modules = module_files()
    return {name: imports(path, modules) - {name} for name, path in modules.items()}


def layer(module: str) -> int:
    """The index in LAYERS of the longest prefix naming `module`."""
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each a cycle's members."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_compare():
    assert [m for m, deps in graph().items() if "compare" in deps] == []


def test_package_inits_import_no_project_module():
    """A package's __init__ runs before any of its modules: it imports no project module, so an edge to a package
    (counted in the cycle check) never leads on, and `from workbench import options` is no upward import."""
    modules = module_files()
    inits = {name: imports(path, modules) for name, path in modules.items() if path.name == "__init__.py"}
    assert {"tasks", "frameworks", "workbench", "workbench.run"} <= set(inits)
    assert {name: deps for name, deps in inits.items() if deps} == {}


def test_no_import_cycle():
    """No cycle, counting every edge: a module to its ancestor packages too."""
    assert cycles({m: deps - {"compare"} for m, deps in graph().items()}) == []


def test_no_upward_import():
    """No module imports a layer above its own; an ancestor package (whose __init__ imports nothing) is no layer."""
    upward = [f"{m} -> {d}" for m, deps in graph().items() for d in deps - {"compare"}
              if not m.startswith(d + ".") and layer(d) > layer(m)]  # fmt: skip
    assert upward == []


def test_the_checks_can_fail():
    """The cycle finder and the layer rule see a cycle and an upward import when there is one; relative imports and
    a package's __init__ are edges too."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    modules = module_files()
    source = "from .driver import RunRequest\nfrom .. import options\nfrom . import child\nfrom ..report import html"
    assert imports_in(source, "workbench.run.results", False, modules) == {
        "workbench.run.driver", "workbench", "workbench.options", "workbench.run", "workbench.run.child",
        "workbench.report", "workbench.report.html"}  # fmt: skip
    in_init = imports_in("from .run import driver", "workbench", True, modules)
    assert in_init == {"workbench.run", "workbench.run.driver"}
    # an __init__ importing its own module hides no cycle: the child -> package edge is counted
    edges = {"workbench.run": {"workbench.run.driver"}, "workbench.run.driver": {"workbench.run"}}
    assert cycles(edges) == [["workbench.run", "workbench.run.driver"]]
    assert layer("workbench.run.driver") > layer("frameworks.base") > layer("tasks.spec")
    assert layer("workbench.deploy.export") > layer("workbench.run.driver")
    assert layer("workbench.process.ask") < layer("workbench.run.child")
