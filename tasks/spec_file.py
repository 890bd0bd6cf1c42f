"""A user's network as a spec file: TOML (or JSON) that mirrors the spec's dataclasses, read as data and checked in full.

    name = "lenet5"
    title = "LeNet-5 on the digits, padded to 16 x 16"
    [data]
    task = "digits"                 # or: file = "my.npz" (X_train, y_train, X_test, y_test), relative to this file
    reshape = [8, 8, 1]
    pad = 4
    [model]
    input_shape = [16, 16, 1]
    [[model.layers]]
    type = "Conv2D"                 # a class of the vocabulary (tasks/spec.py), its fields as keys
    filters = 6
    [train]
    epochs = 10
    loss = "cross_entropy"
    [optimizer]
    name = "adam"                   # a preset (tasks/optimizers.py), then any OptimizerSpec field
    lr = 1e-3

The graph form: give layers a `name` and an `inputs` list of earlier names ("input": the model's input); an
`Add` sums its inputs. Every omitted field takes its dataclass default (docs/own-network.md lists them). Nothing in
the file is imported or executed; every error is one line naming the key path, before any engine starts.
"""

from __future__ import annotations

import json
import tomllib
import typing
from dataclasses import MISSING, fields, replace
from pathlib import Path

from tasks import optimizers
from tasks.spec import (SPEC_MODEL, BaselineSpec, DataSource, DataSpec, InitSpec, Layer, ModelSpec, OptimizerSpec, TaskSpec,
                        Tolerances, TrainSpec)  # fmt: skip
from tasks.spec_check import SpecCheckError, check_choice, check_model
from tasks.spec_graph import INPUT, Node, graph_model

MAX_SPEC_BYTES = 1_000_000  # a spec file is a page of text: anything larger is refused before it is parsed
VOCABULARY: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(Layer)}  # the `type` of a layer table
TOP_KEYS = ("name", "title", "target_accuracy", "data", "model", "train", "optimizer", "init", "tolerances")
MODEL_KEYS = ("input_shape", "input_dtype", "layers")
GRAPH_KEYS = ("name", "inputs")  # a layer table's keys beside `type` and its dataclass fields
DATA_KEYS = ("file", "task", "num_classes", "reshape", "pad", "max_train", "max_test")
INPUT_DTYPES = ("float", "int")
# A baseline engine (one-shot library) runs the spec file's own network where it can build it, else a skipped row
BASELINE = BaselineSpec(SPEC_MODEL, "the spec file's own network, where the baseline library can build it")


class SpecFileError(ValueError):
    """A spec file that cannot describe a run: one line naming the file and the key path."""


def read_spec_file(path: str | Path) -> TaskSpec:
    """The TaskSpec a .toml or .json spec file describes; SpecFileError (one line) for anything wrong in it."""
    path = Path(path)
    text = _read_small_text(path)
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise SpecFileError(f"{path}: not valid {kind}: {exc}") from None
    try:
        return spec_from_mapping(data, path.resolve().parent)
    except (SpecFileError, SpecCheckError) as exc:
        raise SpecFileError(f"{path}: {exc}") from None


def _read_small_text(path: Path) -> str:
    """A regular file of at most MAX_SPEC_BYTES, as UTF-8 text (no FIFO, device or endless file is opened)."""
    try:
        if not path.is_file():
            raise SpecFileError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecFileError(f"{path}: {path.stat().st_size} bytes, more than a spec file's {MAX_SPEC_BYTES}")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise SpecFileError(f"{path}: not UTF-8 text") from None


def spec_from_mapping(data: object, base: Path) -> TaskSpec:
    """The TaskSpec of a parsed spec file (`base`: the folder its relative data path starts from)."""
    table = _table(data, "the file", TOP_KEYS)
    name = _value(table.get("name", MISSING), str, "name", required=True)
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise SpecFileError(f"name {name!r}: use letters, digits, '-' and '_' (it names the result and export files)")
    train_table = dict(_table(table.get("train", {}), "train", tuple(f.name for f in fields(TrainSpec)) + ("loss",)))
    loss = _value(train_table.pop("loss", "cross_entropy"), str, "train.loss")
    data_spec = _data(_table(table.get("data", MISSING), "data", DATA_KEYS), base, loss)
    model = _model(_table(table.get("model", MISSING), "model", MODEL_KEYS), loss)
    spec = TaskSpec(
        name=name,
        title=_value(table.get("title", name), str, "title"),
        data=data_spec,
        model=model,
        init=_dataclass(InitSpec, table.get("init", {}), "init"),
        optimizer=_optimizer(table.get("optimizer", {})),
        train=_dataclass(TrainSpec, train_table, "train"),
        target_accuracy=_value(table.get("target_accuracy", 0.9), float, "target_accuracy"),
        tolerances=_dataclass(Tolerances, table.get("tolerances", {}), "tolerances"),
        baselines=(BASELINE,),
    )
    _check_numbers(spec)
    check_model(spec.model, spec.data.num_classes)
    return spec


def _check_numbers(spec: TaskSpec) -> None:
    """[train] and [tolerances] values in their ranges (the layers' are check_model's)."""
    train = spec.train
    for ok, message in [(train.batch_size >= 1, f"train.batch_size {train.batch_size}: must be >= 1"),
                        (train.epochs >= 0, f"train.epochs {train.epochs}: must be >= 0"),
                        (train.seed >= 0, f"train.seed {train.seed}: must be >= 0"),
                        (train.lr_decay > 0, f"train.lr_decay {train.lr_decay}: must be > 0 (1: a constant lr)")]:  # fmt: skip
        if not ok:
            raise SpecFileError(message)
    for f in fields(Tolerances):
        value = getattr(spec.tolerances, f.name)
        if not 0 <= value < float("inf"):
            raise SpecFileError(f"tolerances.{f.name} {value}: must be a finite number >= 0")


def resolved_lines(spec: TaskSpec) -> list[str]:
    """The resolved spec in a few lines for the run header: every field, the defaults the file left out included."""
    from tasks.spec import count_params

    layers = " -> ".join(repr(layer) for layer in spec.model.layers)
    graph = f" | graph inputs {[list(s) for s in spec.model.inputs]}" if spec.model.inputs else ""
    return [f"{spec.name}: {spec.title}", f"data: {spec.data.source!r}, {spec.data.num_classes} classes",
            f"model: input {list(spec.model.input_shape)} {spec.model.input_dtype} -> {layers}{graph} | loss "
            f"{spec.model.loss} | {count_params(spec.model):,} trainable parameters",
            f"train: {spec.train!r} | {spec.optimizer!r}", f"init: {spec.init!r} | {spec.tolerances!r}"]  # fmt: skip


# ---------------------------------------------------------------- the tables


def _data(table: dict, base: Path, loss: str) -> DataSpec:
    """[data]: a file (relative to the spec file) or a built-in task's data, reshaped, padded and cut as stated."""
    file, task = table.get("file"), table.get("task")
    if (file is None) == (task is None):
        raise SpecFileError("data: give either file = \"my.npz\" or task = \"NAME\" (a built-in task's data)")
    source = DataSource(
        file=str((base / _value(file, str, "data.file")).resolve()) if file is not None else "",
        task=_value(task, str, "data.task") if task is not None else "",
        reshape=_value(table.get("reshape", []), tuple, "data.reshape"),
        pad=_value(table.get("pad", 0), int, "data.pad"),
        max_train=_value(table.get("max_train", 0), int, "data.max_train"),
        max_test=_value(table.get("max_test", 0), int, "data.max_test"),
    )
    if min(source.pad, source.max_train, source.max_test, *source.reshape, 0) < 0 or 0 in source.reshape:
        raise SpecFileError("data: pad, max_train and max_test must be >= 0, and reshape's sizes >= 1")
    default_classes = 2 if loss in ("binary_cross_entropy", "mse") else 0
    num_classes = _value(table.get("num_classes", default_classes), int, "data.num_classes")
    if task is not None:
        from tasks import registry  # the built-in tasks: their modules are loaded only for a spec that reuses one

        try:
            base_data = registry.get(source.task).spec.data
        except KeyError as exc:
            raise SpecFileError(f"data.task: {exc}") from None
        if "num_classes" in table and num_classes != base_data.num_classes:
            raise SpecFileError(f"data.num_classes {num_classes}: task {source.task!r} has {base_data.num_classes} classes")
        return replace(base_data, augment=type(base_data.augment)(), source=source)
    if num_classes < 2:
        raise SpecFileError("data.num_classes: state the number of classes (>= 2) of the labels in data.file")
    return DataSpec(name=Path(source.file).name, num_classes=num_classes, preprocessing="as stored in data.file",
                    source=source)  # fmt: skip


def _model(table: dict, loss: str) -> ModelSpec:
    """[model] with [[model.layers]]: a chain, or a graph where a layer names its `inputs`."""
    input_shape = _value(table.get("input_shape", MISSING), tuple, "model.input_shape", required=True)
    input_dtype = _value(table.get("input_dtype", "float"), str, "model.input_dtype")
    if input_dtype not in INPUT_DTYPES:
        raise SpecFileError(f"model.input_dtype {input_dtype!r}: choose one of {', '.join(INPUT_DTYPES)}")
    if not input_shape or min(input_shape) < 1:
        raise SpecFileError(f"model.input_shape {list(input_shape)}: every axis must be >= 1")
    layers = table.get("layers", MISSING)
    if not isinstance(layers, list) or not layers:
        raise SpecFileError("model.layers: give the network as [[model.layers]] tables, each with a type")
    nodes = [_layer(entry, f"model.layers[{i}]") for i, entry in enumerate(layers)]
    if not any(name or inputs for name, _, inputs in nodes):
        return ModelSpec(input_shape=input_shape, layers=tuple(layer for _, layer, _ in nodes), input_dtype=input_dtype,
                         loss=loss)  # fmt: skip
    named = [Node(name or f"layer_{i}", layer, inputs) for i, (name, layer, inputs) in enumerate(nodes)]
    try:
        return graph_model(input_shape, tuple(named), input_dtype=input_dtype, loss=loss)
    except ValueError as exc:
        raise SpecFileError(f"model.layers: {exc}") from None


def _layer(entry: object, path: str) -> tuple[str, Layer, tuple[str, ...]]:
    """One [[model.layers]] table: (its graph name or "", the layer, the names it reads or ())."""
    if not isinstance(entry, dict):
        raise SpecFileError(f"{path}: expected a table with a type, got {type(entry).__name__}")
    kind = entry.get("type")
    if kind not in VOCABULARY:
        got = "no type" if kind is None else f"unknown type {kind!r}"
        raise SpecFileError(f"{path}.type: {got}; valid: {', '.join(VOCABULARY)}")
    rest = {k: v for k, v in entry.items() if k not in ("type", *GRAPH_KEYS)}
    layer = _dataclass(VOCABULARY[kind], rest, path, also=("type", *GRAPH_KEYS))
    name = _value(entry.get("name", ""), str, f"{path}.name")
    inputs = _value(entry.get("inputs", []), tuple, f"{path}.inputs", item=str)
    if name == INPUT:
        raise SpecFileError(f"{path}.name: {INPUT!r} names the model's input; choose another name")
    return name, layer, inputs


def _optimizer(table: object) -> OptimizerSpec:
    """[optimizer]: `name` is a preset (sgd, momentum, nesterov, rmsprop, adam, adamw); any other key sets that field."""
    table = dict(_table(table, "optimizer", ("name",) + tuple(f.name for f in fields(OptimizerSpec) if f.name != "name")))
    name = _value(table.pop("name", "adam"), str, "optimizer.name")
    try:
        base = optimizers.preset(name, OptimizerSpec())
        opt = replace(base, **{f.name: _field_value(OptimizerSpec, f.name, table[f.name], "optimizer")
                               for f in fields(OptimizerSpec) if f.name in table})  # fmt: skip
        optimizers.validate(opt)
    except optimizers.OptimizerError as exc:
        raise SpecFileError(f"optimizer: {exc}") from None
    if not opt.lr > 0:
        raise SpecFileError(f"optimizer.lr {opt.lr}: must be > 0")
    return opt


# ---------------------------------------------------------------- typed values


def _table(value: object, path: str, keys: tuple[str, ...]) -> dict:
    """A table whose keys are all known (an unknown key is an error listing the valid ones)."""
    if value is MISSING:
        raise SpecFileError(f"{path}: missing; it is required")
    if not isinstance(value, dict):
        raise SpecFileError(f"{path}: expected a table, got {type(value).__name__}")
    for key in value:
        if key not in keys:
            where = f"{path}.{key}" if path != "the file" else key
            raise SpecFileError(f"{where}: unknown key; valid: {', '.join(keys)}")
    return value


def _dataclass(cls: type, table: object, path: str, also: tuple[str, ...] = ()):  # noqa: ANN202 - an instance of cls
    """cls(**table), each value checked against the field's type; omitted fields keep their defaults (`also`: the
    table's other valid keys, read by the caller and not in `table`)."""
    table = _table(table, path, (*(f.name for f in fields(cls)), *also))
    return cls(**{key: _field_value(cls, key, value, path) for key, value in table.items()})


def _field_value(cls: type, key: str, value: object, path: str) -> object:
    hint = typing.get_type_hints(cls)[key]
    optional = type(None) in typing.get_args(hint)
    if optional and value == "none":
        return None
    kind = next((t for t in typing.get_args(hint) if t is not type(None)), hint) if optional else hint
    item = int if typing.get_origin(kind) is tuple else None
    checked = _value(value, typing.get_origin(kind) or kind, f"{path}.{key}", item=item)
    check_choice(cls, key, checked, f"{path}.{key}")
    return checked


def _value(value: object, kind: type, path: str, required: bool = False, item: type | None = int):  # noqa: ANN202
    """`value` as `kind` (int, float, bool, str or a tuple of `item`), or a one-line error naming `path`."""
    if value is MISSING:
        raise SpecFileError(f"{path}: missing; it is required" if required else f"{path}: missing")
    if kind is tuple:
        if not isinstance(value, list) or not all(_is(v, item) for v in value):
            raise SpecFileError(f"{path}: expected a list of {item.__name__}s, got {value!r}")
        return tuple(value)
    if not _is(value, kind):
        raise SpecFileError(f"{path}: expected {'a' if kind is not int else 'an'} {kind.__name__}, got {value!r}")
    return float(value) if kind is float else value


def _is(value: object, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


# ---------------------------------------------------------------- the schema, for docs/own-network.md


def _field_comments(cls: type) -> dict[str, str]:
    """Each field's comment in the dataclass's source: its trailing comment, else the comment lines just above it."""
    import inspect

    comments: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").strip())
            continue
        head, sep, comment = line.partition("  # ")
        name = head.strip().split(":", 1)[0]
        if ":" in head and name.isidentifier() and "=" in head:
            comments[name] = comment.strip() if sep else " ".join(above)
        above = []
    return {name: " ".join(text.split()).replace("|", "\\|") for name, text in comments.items()}


def _rows(cls: type, skip: tuple[str, ...] = ()) -> list[str]:
    hints, comments = typing.get_type_hints(cls), _field_comments(cls)
    rows = []
    for f in fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not MISSING else "(required)"
        kind = getattr(hints[f.name], "__name__", str(hints[f.name]).replace("typing.", ""))
        rows.append(f"| `{f.name}` | {kind} | `{json.dumps(default) if isinstance(default, (str, bool, int, float)) else list(default) if isinstance(default, tuple) else default}` | {comments.get(f.name, '')} |")
    return rows


def schema_markdown() -> str:
    """Every table and layer of a spec file with its fields, types, defaults and meaning, from the dataclasses."""
    head = "| key | type | default | meaning |\n|---|---|---|---|"
    parts = ["### Top level\n", head, "| `name` | str | (required) | the run's name: result and export files are named after it |",
             "| `title` | str | the name | one line for tables and reports |",
             "| `target_accuracy` | float | `0.9` | the test accuracy of the time-to-accuracy column |"]
    data_rows = [row for row in _rows(DataSource) if not row.startswith("| `file`") and not row.startswith("| `task`")]
    parts += ["\n### `[data]`: `file` or `task`\n", head,
              "| `file` | str | | an .npz with X_train, y_train, X_test, y_test, relative to the spec file |",
              "| `task` | str | | a built-in task whose prepared data is reused: " + ", ".join(f"`{n}`" for n in _task_names()) + " |",
              "| `num_classes` | int | labels 0/1 for a one-logit loss | the number of classes (with `file`) |", *data_rows]
    parts += ["\n### `[model]`\n", head,
              "| `input_shape` | list of int | (required) | one sample, canonical layout (NHWC images) |",
              "| `input_dtype` | str | `\"float\"` | \"float\" (features) or \"int\" (token ids) |",
              "| `layers` | array of tables | (required) | `[[model.layers]]`, each with `type` and its fields; graph form: "
              "`name` and `inputs` (earlier names, or \"input\") |"]
    parts += ["\n### `[train]`\n", head, *_rows(TrainSpec),
              "| `loss` | str | `\"cross_entropy\"` | cross_entropy, binary_cross_entropy or mse (one logit, labels 0/1) |"]
    parts += ["\n### `[optimizer]`\n", head,
              "| `name` | str | `\"adam\"` | a preset: " + ", ".join(optimizers.PRESETS) + "; any field below overrides it |",
              *_rows(OptimizerSpec, skip=("name",))]
    parts += ["\n### `[init]` (optional)\n", head, *_rows(InitSpec)]
    parts += ["\n### `[tolerances]` (optional)\n", head, *_rows(Tolerances)]
    parts.append("\n### Layers: `[[model.layers]]` with `type` =\n")
    for name, cls in VOCABULARY.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        rows = _rows(cls)
        parts.append(f"#### `{name}`\n\n{doc}\n" + (f"\n{head}\n" + "\n".join(rows) + "\n" if rows else "\nNo fields.\n"))
    return "\n".join(parts) + "\n"


SCHEMA_BEGIN, SCHEMA_END = "<!-- schema: begin -->", "<!-- schema: end -->"  # docs/own-network.md's generated part


def with_schema(page: str) -> str:
    """The docs page with its generated part (between SCHEMA_BEGIN and SCHEMA_END) written anew from the dataclasses."""
    head, _, rest = page.partition(SCHEMA_BEGIN)
    _, _, tail = rest.partition(SCHEMA_END)
    return f"{head}{SCHEMA_BEGIN}\n{schema_markdown()}{SCHEMA_END}{tail}"


def _task_names() -> list[str]:
    from tasks import registry

    return registry.names()


if __name__ == "__main__":  # python -m tasks.spec_file docs/own-network.md: write the page's schema anew
    import sys

    page = Path(sys.argv[1])
    page.write_text(with_schema(page.read_text()))
