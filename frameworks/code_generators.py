"""Which generator writes each engine's script (frameworks/*_code.py): the workbench asks here, naming no framework.

The generators only write text, so importing them imports no framework. The three Keras engines share one script,
keras_model.py, whose backend is the KERAS_BACKEND its user sets (the engine's environment, `base.engine(name).env`).
Every generator module has FILE_NAME, SUPPORTED (the layer types it writes), unsupported(spec) and generate(spec).
"""

from __future__ import annotations

from types import ModuleType

from frameworks import jax_code, keras_code, pytorch_code, sklearn_code
from frameworks.base import check_framework

GENERATORS: dict[str, ModuleType] = {
    "pytorch": pytorch_code,
    "keras": keras_code,
    "keras-jax": keras_code,
    "keras-torch": keras_code,
    "jax": jax_code,
    "sklearn": sklearn_code,
}


def generator(engine: str) -> ModuleType | None:
    """The generator module of a registered engine, or None for an engine without one (a plugin)."""
    check_framework(engine)
    return GENERATORS.get(engine)
