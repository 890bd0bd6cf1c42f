"""A TaskSpec as JSON and back, so a child process gets the exact spec (also a modified or tiny one).

Only the spec's own dataclasses, and functions of the `tasks` package (the shared tokenizer), can
be rebuilt: anything else is refused, so a spec file is data, never code.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json

from tasks import spec as spec_module
from tasks.spec import TaskSpec

_TYPES = {name: obj for name, obj in vars(spec_module).items() if dataclasses.is_dataclass(obj) and isinstance(obj, type)}


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value):
        return {"__type__": type(value).__name__, **{f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if inspect.isfunction(value) and value.__module__.startswith("tasks."):  # e.g. the shared tokenizer
        return {"__function__": f"{value.__module__}:{value.__qualname__}"}
    if callable(value):
        raise TypeError(f"a spec may only name functions of the tasks package, not {value!r}")
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if isinstance(value, dict) and "__function__" in value:
        module, _, name = value["__function__"].partition(":")
        function = getattr(importlib.import_module(module), name, None) if module.startswith("tasks.") else None
        if not inspect.isfunction(function):
            raise ValueError(f"not a function of the tasks package: {value['__function__']!r}")
        return function
    if isinstance(value, dict) and "__type__" in value:
        cls = _TYPES.get(value["__type__"])
        if cls is None:
            raise ValueError(f"not a spec type: {value['__type__']!r}")
        return cls(**{k: _decode(v) for k, v in value.items() if k != "__type__"})
    return value


def spec_to_json(spec: TaskSpec) -> str:
    """The spec as JSON text (tuples and layer types kept)."""
    return json.dumps(_encode(spec))


def spec_from_json(text: str) -> TaskSpec:
    """Inverse of `spec_to_json`."""
    spec = _decode(json.loads(text))
    if not isinstance(spec, TaskSpec):
        raise ValueError("not a TaskSpec")
    return spec
