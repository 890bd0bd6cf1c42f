"""Model summaries side by side: each framework's real model, built from the spec, layer by layer.

Shapes are of one sample (no batch axis). PyTorch's come from a forward pass of a dummy batch
with hooks, so they show its NCHW layout; Keras' from each layer's output and count_params();
scikit-learn's from MLPClassifier's own coefs_ after one partial_fit on a dummy batch.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from tasks.spec import NON_TRAINABLE, Dense, TaskSpec, layer_name, layer_shapes, param_shapes

Row = dict[str, str]  # column -> cell
DUMMY_BATCH = 2  # samples in the dummy forward pass


def _params(trainable: int, state: int) -> str:
    """'256' or '8 + 8 state' (BatchNorm's moving statistics are state, not trained)."""
    return f"{trainable:,}" + (f" + {state:,} state" if state else "")


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))


def spec_column(spec: TaskSpec) -> list[tuple[str, str]]:
    """(output shape, params) of every layer from the spec alone (canonical NHWC layout)."""
    shapes = param_shapes(spec.model)
    cells = []
    for i, (layer, (_, out)) in enumerate(zip(spec.model.layers, layer_shapes(spec.model))):
        prefix = layer_name(i, layer) + "."
        trainable = sum(int(np.prod(s)) for k, s in shapes.items() if k.startswith(prefix) and k.split(".")[1] not in NON_TRAINABLE)
        state = sum(int(np.prod(s)) for k, s in shapes.items() if k.startswith(prefix) and k.split(".")[1] in NON_TRAINABLE)
        cells.append((_shape(out), _params(trainable, state)))
    return cells


def torch_column(spec: TaskSpec, module: ModuleType) -> list[tuple[str, str]]:
    """(output shape, params) of every torch module: forward hooks on a dummy batch."""
    import torch

    from frameworks import layout

    model = module.build_model(spec).eval()
    shapes: dict[int, tuple[int, ...]] = {}
    for i, child in enumerate(model):
        child.register_forward_hook(lambda _m, _in, out, i=i: shapes.__setitem__(i, tuple(out.shape[1:])))
    dummy_shape = (DUMMY_BATCH, *spec.model.input_shape)
    if spec.model.input_dtype == "int":
        X = torch.zeros(dummy_shape, dtype=torch.long)
    else:
        X = np.zeros(dummy_shape, dtype=np.float32)
        X = torch.as_tensor(layout.images_to_torch(X) if len(spec.model.input_shape) == 3 else X)
    with torch.no_grad():
        model(X)
    cells = []
    for i, child in enumerate(model):
        trainable = sum(p.numel() for p in child.parameters() if p.requires_grad)
        state = sum(b.numel() for b in child.buffers())  # BatchNorm: running mean, var and num_batches_tracked
        cells.append((_shape(shapes[i]), _params(trainable, state)))
    return cells


def keras_column(spec: TaskSpec, module: ModuleType) -> list[tuple[str, str]]:
    """(output shape, params) of every Keras layer: its output shape and count_params()."""
    model = module.build_model(spec)
    cells = []
    for layer in model.layers:
        trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        cells.append((_shape(tuple(layer.output.shape[1:])), _params(trainable, layer.count_params() - trainable)))
    return cells


def sklearn_column(spec: TaskSpec, module: ModuleType) -> list[tuple[str, str]]:
    """(coefs_ shape, params) of MLPClassifier's Dense layers; '' for layers it has no object for."""
    mlp = module.build_mlp(spec, seed=spec.train.seed)
    mlp.batch_size = DUMMY_BATCH  # one step on the dummy batch, as the adapter sets per batch
    X = np.zeros((DUMMY_BATCH, int(np.prod(spec.model.input_shape))))
    mlp.partial_fit(X, np.zeros(DUMMY_BATCH, dtype=int), classes=np.arange(spec.data.num_classes))
    dense = iter(zip(mlp.coefs_, mlp.intercepts_))
    cells = []
    for layer in spec.model.layers:
        if isinstance(layer, Dense):
            coef, intercept = next(dense)
            cells.append((f"coefs_ {_shape(coef.shape)}", _params(coef.size + intercept.size, 0)))
        else:
            cells.append(("(built in: activation='relu')", "0"))
    return cells


def summary_rows(spec: TaskSpec, modules: dict[str, ModuleType], include_sklearn: bool) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: one row per spec layer, then a total row of trainable parameters."""
    columns = {"spec (NHWC)": spec_column(spec)}
    builders = {"pytorch": torch_column, "keras": keras_column}
    for name, module in modules.items():
        if name in builders:
            columns[name] = builders[name](spec, module)
        elif name == "sklearn" and include_sklearn:
            columns["sklearn MLPClassifier"] = sklearn_column(spec, module)
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
