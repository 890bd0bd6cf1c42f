"""Model summaries side by side: each framework's real model, built from the spec, layer by layer.

Shapes are of one sample (no batch axis). The spec's own column comes from the spec alone; each
framework's column from its adapter's `summary_column(spec)` (built in its child process).
"""

from __future__ import annotations

import numpy as np

from tasks.spec import TaskSpec, is_trainable, layer_name, layer_shapes, param_shapes


def params_cell(trainable: int, state: int) -> str:
    """'256' or '8 + 8 state' (BatchNorm's moving statistics are state, not trained)."""
    return f"{trainable:,}" + (f" + {state:,} state" if state else "")


def spec_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """(output shape, params) of every layer from the spec alone (canonical NHWC layout)."""
    shapes = param_shapes(spec.model)
    cells = []
    for i, (layer, (_, out)) in enumerate(zip(spec.model.layers, layer_shapes(spec.model))):
        own = {k: int(np.prod(s)) for k, s in shapes.items() if k.startswith(layer_name(i, layer) + ".")}
        trainable = sum(n for k, n in own.items() if is_trainable(k))
        cells.append((str(tuple(int(d) for d in out)), params_cell(trainable, sum(own.values()) - trainable)))
    return cells


def summary_rows(spec: TaskSpec, columns: dict[str, list[tuple[str, str]]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: one row per spec layer, then a total row of trainable parameters.

    `columns`: title -> one (shape, params) per spec layer, for every framework that builds the spec.
    """
    columns = {"spec (NHWC)": spec_column(spec), **columns}
    headers = ["#", "layer"]
    for title in columns:
        headers += [f"{title} output", f"{title} params"]
    rows = []
    for i, layer in enumerate(spec.model.layers):
        row = [str(i), repr(layer)]
        for cells in columns.values():
            row += list(cells[i])
        rows.append(row)
    total = ["", "total trainable"]
    for cells in columns.values():
        total += ["", f"{sum(int(p.split(' + ')[0].replace(',', '')) for _, p in cells):,}"]
    rows.append(total)
    return headers, rows
