"""What --explain asks each adapter module, answered inside that framework's child process.

The answer is plain data (JSON): the module's version, its model-summary column, its cells of the
differing-defaults table and the source of the functions it names for each role.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from tasks.spec_io import spec_from_json
from workbench.process.ask import answer_each
from workbench.teach.sources import source_of


def answer(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """The teaching facts of one framework for the request's spec."""
    spec = spec_from_json(request["spec"])
    reason = module.unsupported(spec)
    roles: dict[str, list[dict] | str] = {}
    for role, names in module.source_names(spec).items():
        roles[role] = names if isinstance(names, str) else [source_of(module, n).to_dict() for n in names]
    return {
        "version": module.version(),
        "unsupported": reason,
        "summary_title": module.SUMMARY_TITLE,
        "summary": [] if reason else [list(cell) for cell in module.summary_column(spec)],
        "defaults": module.defaults(spec),
        "roles": roles,
    }, {}


def answer_many(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """answer() for each of the request's specs in one child: {"answers": [facts, or {"error", "error_kind"}]}, so
    a spec the adapter cannot answer costs only its own entry."""
    return {"answers": answer_each(answer, module, [{"spec": spec} for spec in request["specs"]], {})[0]}, {}
