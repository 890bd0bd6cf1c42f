"""Options: everything one comparison is asked to do, one field per compare.py flag, each with its default.

compare.py parses its flags into an Options; a notebook or a test builds one with keywords
(`Options(task="digits", frameworks=("pytorch",), epochs=1)`). The library (workbench/plan.py) checks and
resolves it; nothing below reads argparse.

Glossary (one name per meaning, in flags, JSON keys, table headers and code):
    task        a problem the registry names (digits, mnist, cifar10, sentiment): data + a TaskSpec
    variant     one of the networks a task registers, chosen with `--model NAME` (default: the task's own);
                (`variant` in Options and in the results' meta; a row's request carries it resolved into its spec)
    framework   one adapter in frameworks/ (pytorch, keras, keras-jax, jax, sklearn, ...): `--frameworks`;
                also called an engine where the registry entry (frameworks.base.Engine) is meant
    model       what one row trains, by its model id: "spec" (the spec's network, of the chosen variant; a registry
                entry may give that row another id, frameworks.base.Engine.spec_model) or a baseline's name;
                RunRequest.model, and `model_id` in a result (the key --resume matches on)
    model label how a row's model is shown: RunResult.model, the tables' "model" column (e.g. "nn.Module + explicit
                loop"); JSON key "model", kept so that old result files stay readable
    mode        how an engine executes a row: "eager" or "compiled" (frameworks.base.MODE_NAMES), each engine saying
                what they mean in its adapter's MODES, its default first: --mode, RunResult.mode (--compile is
                --mode eager,compiled; RunResult.compiled, kept for older readers, is mode == "compiled")
    row         one run: a sweep configuration x a seed x a framework x a model x a mode
    spec        the TaskSpec a row trains, resolved once in plan() with every override and carried by its request
    spec.model  the network's layers, loss and shapes (a ModelSpec): the architecture, not a row's model
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from frameworks.base import DEFAULT_FRAMEWORKS, THREADS_VAR
from tasks.spec import TaskSpec

# THREADS_VAR ($FRAMEBENCH_THREADS): --threads' default where set, e.g. 1 on a machine shared with other work; the
# same variable carries a row's --threads into its child process (frameworks/base.py)


def threads_from_env() -> int | None:
    """$FRAMEBENCH_THREADS as a positive integer; None where it is unset or is not one (plan.py warns of the latter)."""
    try:
        value = int(os.environ.get(THREADS_VAR, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def default_threads() -> int:
    """--threads' default: $FRAMEBENCH_THREADS, else every core."""
    return threads_from_env() or os.cpu_count() or 1


@dataclass(frozen=True)
class Options:
    """One comparison's options: the fields are compare.py's flags (dashes as underscores)."""

    task: str = "mnist"  # --task: the task to run (see --list)
    variant: str | None = None  # --model: a variant the task registers (None: the task's own network)
    spec: str | TaskSpec | None = None  # --spec: a spec file (TOML/JSON) run instead of --task, or a TaskSpec (the API)
    frameworks: tuple[str, ...] = DEFAULT_FRAMEWORKS  # --frameworks: names in order, or ("all",) for every installed one
    device: str = "auto"  # --device: auto, cpu or cuda, one for every row (CPU-only frameworks run on cpu)
    epochs: int | None = None  # --epochs (None: the spec's); 0 evaluates --import-weights as they are
    batch_size: int | None = None  # --batch-size (None: the spec's)
    lr: float | None = None  # --lr (None: the spec's)
    optimizer: str | None = None  # --optimizer: a preset of tasks/optimizers.py (None: the spec's)
    weight_decay: float | None = None  # --weight-decay: decoupled for adamw, else L2 (None: the spec's)
    loss: str | None = None  # --loss (None: the spec's)
    augment: str | None = None  # --augment: "shared" or "native" (None: off)
    seed: int | None = None  # --seed: the first seed (None: the spec's)
    subset: int | None = None  # --subset: train on the first N training samples (None: all)
    test_subset: int | None = None  # --test-subset: evaluate on the first N test samples (None: all)
    threads: int = field(default_factory=default_threads)  # --threads ($FRAMEBENCH_THREADS, else all cores)
    dtype: str = "float32"  # --dtype: float32 or float64
    data_dir: str | None = None  # --data-dir (None: $FRAMEBENCH_DATA, else the user cache)
    format: str = "simple"  # --format: a tabulate format, csv or json
    output: str | None = None  # --output: the results JSON (None: results/TASK-TIMESTAMP.json, nothing for a dry run)
    resume: str | None = None  # --resume: a saved results file whose rows that are not ok run again
    repeats: int = 1  # --repeats: runs per framework, seeds seed..seed+N-1
    compile: bool = False  # --compile: the same as --mode eager,compiled
    mode: tuple[str, ...] = ()  # --mode: execution modes, each a row per engine (empty: each engine's default mode)
    precision: str = "fp32"  # --precision: fp32, tf32, bf16 or fp16
    tf32: bool = False  # --tf32: the same as precision "tf32" (old command lines)
    timeout: float | None = None  # --timeout: seconds per row (None: none)
    in_process: bool = False  # --in-process: rows in this process (debugging; no isolation)
    sweep: tuple[str, ...] = ()  # --sweep: "KEY=V1,V2" texts, one per swept key
    executor: str = "local"  # --executor: local or ray
    ray_address: str | None = None  # --ray-address: HOST:PORT or "auto" (None: a local Ray instance)
    dry_run: bool = False  # --dry-run: one batch per adapter, end to end
    quiet: bool = False  # --quiet: no progress bars
    list: bool = False  # --list: list tasks and frameworks and exit
    explain: bool = False  # --explain: the adapters' code, summaries and differing defaults; no training
    code: str | None = None  # --code: each engine's generated script for the network into this folder; no training
    plot: str | None = None  # --plot: learning curves to this .png after the run
    report: str | None = None  # --report: index.html (one self-contained page), results.json and report.md into this folder
    report_from: tuple[str, ...] = ()  # --from: saved results files --report / --tensorboard are built from; nothing trains
    tensorboard: str | None = None  # --tensorboard: TensorBoard event files into this folder, one run per row
    export: str | None = None  # --export: every network row's artifacts into this folder, each checked
    import_weights: str | None = None  # --import-weights: start every network from this weights.npz
    verify_export: str | None = None  # --verify-export: check an --export folder again and exit
    signing_key: str | None = None  # --signing-key: a key file; --export signs its manifests with it, --verify-export checks them
    trust_artifacts: bool = False  # --trust-artifacts: --verify-export loads artifacts that can run code without a signature
    check: bool = False  # --check: numerical equivalence tables against the NumPy reference
    argv: tuple[str, ...] = ()  # the command line, saved with the results so --resume can read it back

    @property
    def effective_precision(self) -> str:
        """--precision, with --tf32 meaning tf32."""
        return "tf32" if self.tf32 else self.precision


def _number(text: str, kind: type, what: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"expected a {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1, else ValueError naming the value."""
    value = _number(text, int, "positive integer")
    if value < 1:
        raise ValueError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0, else ValueError naming the value."""
    value = _number(text, int, "non-negative integer")
    if value < 0:
        raise ValueError(f"expected a non-negative integer, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0, else ValueError naming the value."""
    value = _number(text, float, "positive number")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"expected a positive finite number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0, else ValueError naming the value."""
    value = _number(text, float, "non-negative number")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"expected a non-negative finite number, got {text}")
    return value


# The value every numeric field must pass (compare.py's flag types, and plan.check_options for a library call): None,
# where a field allows it, means the spec's value or unset.
NUMBERS = {
    "epochs": non_negative_int, "batch_size": positive_int, "lr": positive_float, "weight_decay": non_negative_float,
    "seed": non_negative_int, "subset": positive_int, "test_subset": positive_int, "threads": positive_int,
    "repeats": positive_int, "timeout": positive_float,
}  # fmt: skip
INTEGERS = (positive_int, non_negative_int)  # the checks above that take whole numbers only
REQUIRED_NUMBERS = ("threads", "repeats")  # numeric fields that cannot be None
DEVICES = ("auto", "cpu", "cuda")  # --device values
DTYPES = ("float32", "float64")  # --dtype values
AUGMENT_MODES = ("shared", "native")  # --augment values (--augment alone is "shared")
MAX_SEED = 2**32 - 1  # the largest seed NumPy (and so scikit-learn) takes: --seed and every --repeats seed
REPEATS_WARNING = 100  # --repeats above this prints a warning (thousands of rows is rarely meant)

SWEEP_KEYS = {"lr": positive_float, "batch_size": positive_int, "epochs": positive_int}  # --sweep KEY -> value type
