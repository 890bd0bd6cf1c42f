"""What every adapter provides, the run settings they all honour, and the adapter registry."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np

from tasks.spec import SPEC_MODEL, TaskSpec, Weights  # noqa: F401 - re-exported for the adapters and the workbench

OnBatch = Callable[[int], None]  # called with the number of samples after each training step
EVAL_BATCH = 1024  # samples per forward pass when an adapter predicts
EXTRA_FRAMEWORKS_VAR = "FRAMEBENCH_EXTRA_FRAMEWORKS"  # the plugin hook: "name=module.path,name2=module2"
# The row's device ("cpu" or "cuda"), set in the child before the adapter module is imported: a
# framework that picks its device at import time (JAX, Keras on torch) reads it there.
DEVICE_VAR = "FRAMEBENCH_DEVICE"
THREADS_VAR = "FRAMEBENCH_THREADS"  # the row's --threads, also set before the import


@dataclass(frozen=True)
class Engine:
    """A registry entry: only what the parent process must know *before* importing the framework.

    Everything else about a framework is asked of its adapter module, inside the row's child process.
    """

    module: str  # the adapter module
    packages: tuple[str, ...] = ()  # what must be installed (found without importing it)
    env: tuple[tuple[str, str], ...] = ()  # environment the module reads when imported (Keras: its backend)
    spec_model: str = SPEC_MODEL  # model id of its row of the spec's own network (the id result files carry)
    baselines: bool = False  # its rows are the spec's baselines (TaskSpec.baselines), not the spec network
    cpu_only: bool = False  # has no GPU build: its rows run on the CPU under every --device, and the header says so


FRAMEWORKS: dict[str, Engine] = {
    "pytorch": Engine("frameworks.pytorch", ("torch",)),
    # the three Keras engines: one adapter (frameworks/keras.py) on the backend KERAS_BACKEND names
    "keras": Engine("frameworks.keras", ("keras", "tensorflow"), env=(("KERAS_BACKEND", "tensorflow"),)),
    "keras-jax": Engine("frameworks.keras", ("keras", "jax", "jaxlib"), env=(("KERAS_BACKEND", "jax"),)),
    "keras-torch": Engine("frameworks.keras", ("keras", "torch"), env=(("KERAS_BACKEND", "torch"),)),
    "jax": Engine("frameworks.jax", ("jax", "jaxlib", "flax", "optax")),
    "sklearn": Engine("frameworks.sklearn", ("sklearn",), baselines=True, cpu_only=True, spec_model="MLPClassifier"),
}
DEFAULT_FRAMEWORKS = ("pytorch", "keras", "sklearn")  # `--frameworks all` runs every installed one
# --precision: fp32 (TF32 off everywhere, the default), tf32 (float32 matmuls/convolutions on TensorFloat-32 units),
# bf16 and fp16 (each framework's mixed precision: float32 weights, half-precision compute; fp16 with loss scaling).
# Each adapter module says where it runs which: PRECISIONS = {device kind: {precision: None, or why not}}.
PRECISION_NAMES = ("fp32", "tf32", "bf16", "fp16")
# --mode: execution modes. Each adapter module says what they mean for it: MODES = {mode: what runs, in words}, its
# default mode first (the row a run without --mode gets); a mode it lacks is a skipped row naming the ones it has.
MODE_NAMES = ("eager", "compiled")
DEFAULT_MODES = {"eager": "as its adapter runs it (the module declares no MODES)"}  # a plugin module without MODES


@dataclass(frozen=True)
class Export:
    """One artifact an adapter can write after training (its module's EXPORTS maps file name -> Export)."""

    form: str  # what runs once it is read back: "native eager", "exported program" or "ONNX Runtime"
    loader: str  # the framework's own call that reads it back, e.g. "torch.export.load"
    packages: tuple[str, ...] = ()  # packages it needs beyond the framework (missing: the artifact is skipped)
    # whether its loader can run operations stored in the file (a graph, a pickle): --verify-export loads it only under
    # a verified --signing-key or --trust-artifacts. False only where nothing stored runs: ONNX Runtime's fixed
    # operator set, plain arrays, a .keras file read with safe_mode=True (no lambda layers)
    runs_code: bool = True


class UnknownFrameworkError(KeyError):
    """Raised for a framework name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginSpecError(ValueError):
    """FRAMEBENCH_EXTRA_FRAMEWORKS is malformed; the message says which entry."""


@dataclass(frozen=True)
class RunSettings:
    """Fairness settings every adapter applies identically."""

    device: str = "cpu"  # "cpu" or "cuda": resolved once for the whole comparison, before any row runs
    threads: int = 2  # intra-op and inter-op threads, BLAS threads
    dtype: str = "float32"  # "float32" or "float64" for weights and activations
    seed: int = 0  # framework RNG seed (dropout etc.); weights and batches come from the spec seed
    deterministic: bool = True  # deterministic kernels where the framework offers them
    tf32: bool = False  # TensorFloat-32 matmuls on CUDA (off for a fair float32 comparison): precision == "tf32"
    precision: str = "fp32"  # one of PRECISION_NAMES; mixed precision (bf16, fp16) needs dtype float32
    mode: str = ""  # execution mode, a name of the adapter's MODES ("": its default, the first); the driver resolves it
    progress: bool = True  # tqdm bars on stderr


# ---------------------------------------------------------------- the two row protocols


class Network(Protocol):
    """The spec's own network, trained epoch by epoch on the shared batch order (frameworks/pytorch.py)."""

    kind: str  # "network"
    model_label: str  # model name shown in the table, e.g. "nn.Module + explicit loop"

    def build(self, weights: Weights) -> None:
        """Create the model from the spec and load the canonical weights."""

    def num_params(self) -> int:
        """Trainable parameters as the framework counts them."""

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        """Hand over the training arrays once (converted/moved to the device here)."""

    def set_learning_rate(self, lr: float) -> None:
        """Use this learning rate from the next step on (the driver sets it before each epoch)."""

    def fit_epoch(self, order: np.ndarray, on_batch: OnBatch) -> float:
        """One pass over the training data in the given order; returns the mean batch loss (device synced)."""

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch; returns its loss (the trajectory checks)."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits (or scores) for X, evaluation mode, as a NumPy array in the dtype actually computed."""

    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Every spec layer's output for X (evaluation mode), canonical layout (the per-layer checks)."""

    def get_weights(self) -> Weights:
        """Every weight, canonical layout and names, as NumPy."""

    def set_weights(self, weights: Weights) -> None:
        """Load canonical weights."""


class GradientNetwork(Network, Protocol):
    """A network whose framework exposes gradients (the module says so with HAS_GRADIENTS = True)."""

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
        """Training-mode loss and the gradient of every trainable weight, canonical layout."""


class Baseline(Protocol):
    """A one-shot baseline (LogisticRegression, TF-IDF, ...): one `fit` on the training set."""

    kind: str  # "baseline"
    model_label: str

    def build(self) -> None:
        """Create the untrained estimator."""

    def fit(self, X: np.ndarray, y: np.ndarray, texts: tuple[str, ...] | None = None) -> int:
        """Train to convergence; returns its iteration count."""

    def predict(self, X: np.ndarray, texts: tuple[str, ...] | None = None) -> np.ndarray:
        """Scores whose argmax (or sign, for one column) is the prediction."""

    def num_params(self) -> int:
        """Fitted coefficients."""


class AdapterModule(Protocol):
    """The public names of every adapter module, in this order (PROTOCOL_ORDER: read frameworks/*.py side by side).

    Identity and set-up:
        NAME               the engine's name in the registry
        version()          the framework's version string
        devices()          what it sees: "cpu", then "cuda:I NAME" per GPU (the parent asks it in a child, --device auto)
        DETERMINISM        {"cpu" | "cuda": what configure() sets for reproducible runs there, in words}
        configure(settings) the device kind it really runs on, "cpu" or "cuda" (the row's device column: that kind's
                           entry of devices())
    Facts the workbench asks for (it never names a framework itself):
        DTYPES             dtype asked for -> dtype the framework really computes in
        PRECISIONS         {"cpu" | "cuda": {precision: None if it runs there, else why not}}; missing: fp32 only
        MODES              {mode: what it means for this engine}, names from MODE_NAMES, the default first;
                           missing: DEFAULT_MODES. Optional: mode_unsupported(spec, mode) -> why not, or None
        EPS_STYLES         per optimizer family, the eps placements it runs exactly, e.g. {"adam": ("corrected",)}
        HAS_GRADIENTS      whether its Network offers loss_and_gradients
        UNBIASED_MOVING_VAR  BatchNorm running variance: unbiased (n - 1) or biased batch variance
        SUMMARY_TITLE      shown after the framework name above its model summary
        unsupported(spec)  why it cannot build this spec's network or express its optimizer or loss, or None
        default_optimizer(name)  what a user gets for an --optimizer preset with no arguments but lr (OptimizerSpec), or None
        peak_gpu_mb()      peak GPU memory of this process, or None
        defaults(spec)     its cells of the differing-defaults table, read from the installed library
        source_names(spec) role -> names of its functions shown by --explain
        summary_column(spec)  its model summary, one (shape, params) per spec layer
    Rows: create(spec, settings, model) -> Network | Baseline (settings.mode: the row's mode, resolved). A Network may
    offer compilations() -> int | None: how often its training step was compiled so far (1: never recompiled).
    The model (what --explain shows): build_model, make_optimizer, make_loss, Network, Baseline (those it has).
    Deployment (optional: a module without them gets "skipped: <framework> has no export" artifacts; the code
    lives in <engine>_export.py):
        EXPORTS            artifact file name -> Export (what it is, its loader, the packages it needs)
        export(network, artifact, path) -> str   write one artifact of a trained Network; returns the route taken
        load(artifact, path, spec, settings) -> predict(X) -> logits   read it back with the framework's own loader
    Optional: augment_native(spec, settings) -> (augment, description), --augment native (in <engine>_augment.py).
    Optional: attention_weights(network, ids) -> the per-head attention weights of one review, (layers, H, L, L)
    queries by keys in evaluation mode (the attention maps, workbench/check/attention_maps.py).

    REQUIRED_NAMES: those every adapter module binds (tests/test_adapters.py checks it); OPTIONAL_NAMES: the rest.
    """

    NAME: str
    DETERMINISM: dict[str, str]
    DTYPES: dict[str, str]
    EPS_STYLES: dict[str, tuple[str, ...]]
    HAS_GRADIENTS: bool
    UNBIASED_MOVING_VAR: bool | None
    SUMMARY_TITLE: str

    def version(self) -> str: ...
    def devices(self) -> list[str]: ...
    def configure(self, settings: RunSettings) -> str: ...
    def unsupported(self, spec: TaskSpec) -> str | None: ...
    def default_optimizer(self, name: str): ...  # noqa: ANN201 - tasks.spec.OptimizerSpec | None
    def peak_gpu_mb(self) -> float | None: ...
    def defaults(self, spec: TaskSpec) -> dict[str, str]: ...
    def source_names(self, spec: TaskSpec) -> dict[str, list[str]]: ...
    def summary_column(self, spec: TaskSpec) -> list[tuple[str, str]]: ...
    def create(self, spec: TaskSpec, settings: RunSettings, model: str) -> Network | Baseline: ...


PROTOCOL_ORDER = (
    "NAME", "version", "devices", "DETERMINISM", "configure",
    "DTYPES", "PRECISIONS", "MODES", "mode_unsupported", "EPS_STYLES", "HAS_GRADIENTS", "UNBIASED_MOVING_VAR", "SUMMARY_TITLE",
    "unsupported", "default_optimizer", "peak_gpu_mb", "defaults", "source_names", "summary_column",
    "create", "build_model", "make_optimizer", "make_loss", "Network", "Baseline",
    "EXPORTS", "export", "load", "augment_native", "attention_weights",
)  # fmt: skip
# the names a module may leave out (the workbench has a default or skips the feature): the rest are required
OPTIONAL_NAMES = frozenset({
    "PRECISIONS", "MODES", "mode_unsupported", "build_model", "make_optimizer", "make_loss", "Network", "Baseline",
    "EXPORTS", "export", "load", "augment_native", "attention_weights",
})  # fmt: skip
REQUIRED_NAMES = tuple(name for name in PROTOCOL_ORDER if name not in OPTIONAL_NAMES)  # every adapter binds these


class ExportingModule(AdapterModule, Protocol):
    """An adapter module with the optional deployment hooks (frameworks/pytorch.py, frameworks/keras.py)."""

    EXPORTS: dict[str, Export]

    def export(self, network: Network, artifact: str, path: str) -> str: ...
    def load(self, artifact: str, path: str, spec: TaskSpec, settings: RunSettings) -> Callable[[np.ndarray], np.ndarray]: ...


def extra_frameworks() -> dict[str, str]:
    """Adapters added through FRAMEBENCH_EXTRA_FRAMEWORKS="name=module.path,...": framework name -> module.

    This is how to add a framework without editing this file: write a module with the public names
    of `AdapterModule` (as frameworks/pytorch.py does), put its folder on PYTHONPATH
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


def registered() -> dict[str, Engine]:
    """Built-in frameworks, then the extra ones (which need only their own module)."""
    return {**FRAMEWORKS, **{name: Engine(module) for name, module in extra_frameworks().items()}}


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
    engine = registered()[name]
    return [pkg for pkg in engine.packages or (engine.module,) if not _installed(pkg)]


def load_adapter_module(name: str):  # noqa: ANN201 - a module
    """Import the adapter module (and with it the framework itself), with the environment its engine sets first.

    Engines sharing one module (the three Keras backends) get one per process: a second one is an ImportError.
    """
    check_framework(name)
    engine = registered()[name]
    os.environ.update(engine.env)
    module = importlib.import_module(engine.module)
    if engine.env and module.NAME != name:
        raise ImportError(f"{name}: {engine.module} is already loaded as {module.NAME!r} in this process (one backend per process)")
    return module


def model_names(name: str, spec: TaskSpec) -> list[str]:
    """The model ids of the rows a framework contributes for a task: the spec network and/or the task's baselines."""
    entry = engine(name)
    if not entry.baselines:
        return [entry.spec_model]
    return [entry.spec_model if b.name == SPEC_MODEL else b.name for b in spec.baselines]


def engine(name: str) -> Engine:
    """The registry entry of a framework."""
    check_framework(name)
    return registered()[name]


def default_of(fn: object, parameter: str) -> object:
    """The default value of one parameter of a library function or class, read from its signature."""
    return inspect.signature(fn).parameters[parameter].default


def device_kind(asked: str, has_gpu: bool, no_gpu: str) -> str:
    """The device kind a row runs on: "auto" takes the GPU when there is one; "cuda" without one raises `no_gpu`."""
    if asked == "auto":
        return "cuda" if has_gpu else "cpu"
    if asked == "cuda" and not has_gpu:
        raise RuntimeError(f"--device cuda: {no_gpu}")
    return asked


@contextlib.contextmanager
def imports_hidden(names: tuple[str, ...]) -> Iterator[None]:
    """Within: `import NAME` raises ImportError for each of `names` not imported yet (a None entry in sys.modules), for
    a framework whose import pulls in optional packages it guards and an adapter never uses (frameworks/keras.py)."""
    hidden = [name for name in names if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
