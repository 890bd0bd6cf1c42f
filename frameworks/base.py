"""What every adapter provides, the run settings they all honour, and the adapter registry."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np

from tasks.spec import TaskSpec

Weights = dict[str, np.ndarray]
OnBatch = Callable[[int], None]  # called with the number of samples after each training step

# framework name -> (adapter module, the packages it needs)
FRAMEWORKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pytorch": ("frameworks.pytorch", ("torch",)),
    "keras": ("frameworks.keras", ("keras", "tensorflow")),
    "sklearn": ("frameworks.sklearn", ("sklearn",)),
}
SPEC_MODEL = "spec"  # model name of the spec's own network (as opposed to a baseline)
EXTRA_FRAMEWORKS_VAR = "FRAMEBENCH_EXTRA_FRAMEWORKS"  # the plugin hook: "name=module.path,name2=module2"


class UnknownFrameworkError(KeyError):
    """Raised for a framework name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginSpecError(ValueError):
    """FRAMEBENCH_EXTRA_FRAMEWORKS is malformed; the message says which entry."""


@dataclass(frozen=True)
class RunSettings:
    """Fairness settings every adapter applies identically."""

    device: str = "cpu"  # "cpu", "cuda", or "auto" (each adapter's `configure` resolves it)
    threads: int = 2  # intra-op and inter-op threads, BLAS threads
    dtype: str = "float32"  # "float32" or "float64" for weights and activations
    seed: int = 0  # framework RNG seed (dropout etc.); weights and batches come from the spec seed
    deterministic: bool = True  # deterministic kernels where the framework offers them
    tf32: bool = False  # TensorFloat-32 matmuls on CUDA (off for a fair float32 comparison)
    compile: bool = False  # optional variant: torch.compile / Keras jit_compile (XLA)
    progress: bool = True  # tqdm bars on stderr


class Adapter(Protocol):
    """One framework's implementation of a task's model (see frameworks/pytorch.py and keras.py)."""

    name: str  # framework name
    model: str  # model name shown in the table
    epochwise: bool  # trains epoch by epoch on the shared batch order (False: one `fit_all`)

    def build(self, weights: Weights) -> None:
        """Create the model from the spec and load the canonical weights."""

    def num_params(self) -> int:
        """Trainable parameters as the framework counts them."""

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Hand over the training arrays once (converted/moved to the device here)."""

    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver sets it before each epoch)."""

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One pass over the training data in the given order; returns the mean batch loss."""

    def fit_all(self, X: np.ndarray, y: np.ndarray, texts: tuple[str, ...] | None = None) -> int:
        """Train a non-epochwise baseline to convergence; returns its iteration count."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits (or scores) for X, evaluation mode, as a float NumPy array."""

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch; returns its loss."""

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and the gradient of every trainable weight, canonical layout."""

    def get_weights(self) -> Weights:
        """Every weight, canonical layout and names, as NumPy."""

    def set_weights(self, weights: Weights) -> None:
        """Load canonical weights."""


def extra_frameworks() -> dict[str, str]:
    """Adapters added through FRAMEBENCH_EXTRA_FRAMEWORKS="name=module.path,...": framework name -> module.

    This is how to add a framework without editing this file: write a module with the same
    `version`, `configure` and `Adapter` as frameworks/pytorch.py, put its folder on PYTHONPATH
    (child processes inherit it) and name it here. The tests use it to inject faults.
    """
    extra: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in os.environ.get(EXTRA_FRAMEWORKS_VAR, "").split(","))):
        name, _, module = (part.strip() for part in entry.partition("="))
        if not name.isidentifier() or not all(p.isidentifier() for p in module.split(".")):
            raise PluginSpecError(f"{EXTRA_FRAMEWORKS_VAR}: {entry!r} is not name=module.path")
        if name in FRAMEWORKS:
            raise PluginSpecError(f"{EXTRA_FRAMEWORKS_VAR}: {name!r} is already a built-in framework")
        extra[name] = module
    return extra


def registered() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Built-in frameworks, then the extra ones (which need only their own module)."""
    return {**FRAMEWORKS, **{name: (module, ()) for name, module in extra_frameworks().items()}}


def framework_names() -> list[str]:
    """Every registered framework, in table order."""
    return list(registered())


def check_framework(name: str) -> None:
    """Raise UnknownFrameworkError listing the valid names if `name` is not registered."""
    names = framework_names()
    if name not in names:
        raise UnknownFrameworkError(f"unknown framework {name!r}: choose from {', '.join(names)}")


def _installed(module: str) -> bool:
    """True if `module` can be found without importing it (a missing parent package counts as missing)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def missing_packages(name: str) -> list[str]:
    """Packages the framework needs that are not installed (found without importing them)."""
    check_framework(name)
    module, packages = registered()[name]
    return [pkg for pkg in packages or (module,) if not _installed(pkg)]


def load_adapter_module(name: str):  # noqa: ANN201 - a module
    """Import the adapter module (and with it the framework itself)."""
    check_framework(name)
    return importlib.import_module(registered()[name][0])


def model_names(name: str, spec: TaskSpec) -> list[str]:
    """The rows a framework contributes for a task: the spec network and/or baselines."""
    check_framework(name)
    return [b.name for b in spec.baselines] if name == "sklearn" else [SPEC_MODEL]


@contextlib.contextmanager
def native_stderr_to(path: str) -> Iterator[None]:
    """Send file descriptor 2 (C++ logging, e.g. TensorFlow's start-up lines) to `path` for a while.

    TF_CPP_MIN_LOG_LEVEL does not silence the lines TensorFlow prints before its logging starts.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
