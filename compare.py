"""framebench: train the same task in PyTorch, Keras (on TensorFlow, JAX or torch), JAX/Flax and scikit-learn, side by side.

    python compare.py --task mnist
    python compare.py --task cifar10 --frameworks pytorch,keras --epochs 2
    python compare.py --list
    python compare.py --task mnist --explain
    python compare.py --task mnist --plot curves.png --report report/
    python compare.py --task mnist --check
    python compare.py --task mnist --frameworks pytorch,keras --export exports/   # save, export, reload-check
    python compare.py --task mnist --frameworks keras --epochs 0 --import-weights exports/mnist-pytorch-spec/weights.npz
    python compare.py --resume results/mnist-20260101-120000.json   # rerun only the rows that did not finish ok
    python compare.py --repeats 5 --sweep lr=1e-3,3e-3 --executor ray --ray-address auto   # on a Ray cluster

Tables go to stdout, progress bars and logs to stderr. Every finished row is saved at once, to
--output FILE or else to results/TASK-TIMESTAMP.json (not for --dry-run).

Exit codes:
    0    every row ok
    1    internal error (a bug in framebench: please report it; FRAMEBENCH_DEBUG=1 shows the traceback)
    2    usage error: a bad flag, conflicting flags, --subset larger than the data, a bad --resume file,
         --executor ray without Ray installed or with an unreachable --ray-address
    3    data error: missing, corrupt or unsafe data files
    3    also: a bad --import-weights file or a tampered --verify-export folder
    4    some frameworks failed: their rows say why (skipped, error, diverged, timeout, crashed), or an
         --export artifact failed its export or its reload check
    4    also: --explain, when an installed framework's adapter failed to answer (named as ERROR)
    5    --check: a comparison is FAIL, or an installed framework's check failed with an error (not checked)
    130  interrupted (Ctrl-C or SIGTERM): the finished rows are printed and saved
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DATA, EXIT_FAILED, EXIT_CHECK_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
# --resume keeps these from the saved run: changing them would mix rows that are not comparable
ROW_FLAGS = ("task", "frameworks", "device", "epochs", "batch_size", "lr", "seed", "subset", "threads", "dtype",
             "dry_run", "repeats", "compile", "tf32", "precision", "sweep", "optimizer", "weight_decay", "loss", "export",
             "import_weights", "augment", "variant")  # fmt: skip
FATAL_KINDS = {"data": EXIT_DATA, "usage": EXIT_USAGE}  # error kinds on which every row would fail the same way
# The header's determinism line on CUDA, from what each adapter's configure() sets (frameworks/*.py).
CUDA_DETERMINISM = ("deterministic kernels on: torch.use_deterministic_algorithms + CUBLAS_WORKSPACE_CONFIG=:4096:8, "
                    "cudnn.benchmark off (pytorch, keras-torch); tf.config.experimental.enable_op_determinism (keras); "
                    "XLA --xla_gpu_deterministic_ops (jax, keras-jax). torch and TensorFlow raise on an op without a "
                    "deterministic GPU kernel: such a row is an error row that names the op, never a silent "
                    "nondeterministic run")  # fmt: skip


class UsageError(Exception):
    """A bad flag value: one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump) and exit with EXIT_USAGE."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: ...)" to a flag's help, unless the help states its default in words or there is none to state
    (an off switch, an unset path)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False):
            return text
        return super()._get_help_string(action)


def _int_at_least(minimum: int, what: str):  # noqa: ANN202 - an argparse type
    """An argparse type: an integer >= minimum, else a one-line error naming the value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "positive")
_non_negative_int = _int_at_least(0, "non-negative")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative finite number, got {text}")
    return value


SWEEP_KEYS = {"lr": _positive_float, "batch_size": _positive_int, "epochs": _positive_int}  # --sweep KEY -> value type


class _AppendSweep(argparse.Action):
    """--sweep may be given several times: a list of its texts (works with explicit_flags' stand-in default)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, (current if isinstance(current, list) else []) + [values])


def sweep_grid(texts: list[str]) -> dict[str, list]:
    """--sweep lr=1e-3,3e-3 --sweep batch_size=64,128 -> {"lr": [0.001, 0.003], "batch_size": [64, 128]}."""
    grid: dict[str, list] = {}
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values.strip():
            raise UsageError(f"--sweep {text!r}: expected KEY=V1,V2,... with KEY one of {', '.join(SWEEP_KEYS)}")
        if key not in SWEEP_KEYS:
            raise UsageError(f"--sweep {text}: unknown key {key!r} (valid: {', '.join(SWEEP_KEYS)})")
        if key in grid:
            raise UsageError(f"--sweep {key} is given twice: put all its values in one --sweep {key}=V1,V2")
        parsed = []
        for value in values.split(","):
            try:
                parsed.append(SWEEP_KEYS[key](value.strip()))
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"--sweep {text}: {exc}") from None
            if parsed[-1] in parsed[:-1]:
                raise UsageError(f"--sweep {text}: the value {value.strip()} is repeated")
        grid[key] = parsed
    return grid


def build_parser() -> Parser:
    """Every flag, each with its default in --help."""
    from frameworks.base import DEFAULT_FRAMEWORKS, PRECISION_NAMES
    from tasks.optimizers import PRESETS
    from tasks.reference import LOSSES
    from workbench.report.tables import FORMATS

    p = Parser(prog="compare.py", description=__doc__.split("\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--task", default="mnist", help="task to run (see --list)")
    p.add_argument("--model", dest="variant", default=None, metavar="NAME",
                   help="a model variant the task registers, e.g. --task sentiment --model gru (see --list; default: the task's own model)")
    p.add_argument("--frameworks", default=",".join(DEFAULT_FRAMEWORKS),
                   help="comma-separated frameworks (see --list), or 'all' for every installed one")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="one device for every row: auto is cuda only if every selected framework sees a GPU, else cpu; "
                        "cuda stops (exit 2) if one does not (CPU-only frameworks run on cpu and say so)")
    p.add_argument("--epochs", type=_non_negative_int, default=None,
                   help="epochs (default: the task spec's); 0 with --import-weights evaluates the imported weights")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="batch size (default: the task spec's)")
    p.add_argument("--lr", type=_positive_float, default=None, help="learning rate (default: the task spec's)")
    p.add_argument("--optimizer", default=None, choices=PRESETS,
                   help="optimizer preset (tasks/optimizers.py), keeping the task's lr, betas and eps (default: the task spec's)")
    p.add_argument("--weight-decay", type=_non_negative_float, default=None, metavar="W",
                   help="weight decay on every trainable weight: decoupled for adamw (default 0.01), else L2 in the gradient "
                        "(default: none)")
    p.add_argument("--loss", default=None, choices=LOSSES,
                   help="loss (default: the task spec's); mse: one-logit tasks only, mean (logit - (2y - 1))^2")
    p.add_argument("--augment", nargs="?", const="shared", default=None, choices=("shared", "native"),
                   help="image tasks that state one (cifar10): random crop (padding 4) + flip each epoch; 'shared' (the "
                        "value when none is given): NumPy from the seed, identical batches everywhere; 'native': each "
                        "framework's own augmentation ops (default: off)")
    p.add_argument("--seed", type=_non_negative_int, default=None, help="seed for weights and batch order (default: the spec's)")
    p.add_argument("--subset", type=_positive_int, default=None, help="train on the first N training samples only (default: all)")
    p.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1, help="threads for every framework")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="weights and activations")
    p.add_argument("--data-dir", default=None, help="data folder (else $FRAMEBENCH_DATA, else the user cache)")
    p.add_argument("--format", default="simple", metavar="FMT", help=f"table format: a tabulate format, csv or json ({', '.join(FORMATS)})")
    p.add_argument("--output", default=None, metavar="FILE",
                   help="save results as JSON to FILE after every row (default: results/TASK-TIMESTAMP.json; none for --dry-run)")
    p.add_argument("--resume", default=None, metavar="FILE",
                   help="rerun the rows of the run saved in FILE that did not finish ok; saves back into FILE")
    p.add_argument("--repeats", type=_positive_int, default=1, help="runs per framework, with seeds seed..seed+N-1")
    p.add_argument("--compile", action="store_true", help="add variant rows: torch.compile and Keras jit_compile (XLA)")
    p.add_argument("--precision", default="fp32", choices=PRECISION_NAMES,
                   help="fp32: float32, TF32 off in every framework; tf32: float32 matmuls on TensorFloat-32 (CUDA); "
                        "bf16/fp16: each framework's mixed precision (fp16 with loss scaling); needs --dtype float32")
    p.add_argument("--tf32", action="store_true", help="the same as --precision tf32 (kept for old command lines)")
    p.add_argument("--timeout", type=_positive_float, default=None,
                   help="seconds allowed per framework run (default: none; not with --in-process)")
    p.add_argument("--in-process", action="store_true", help="run rows in this process (debugging; no isolation)")
    p.add_argument("--sweep", action=_AppendSweep, default=None, metavar="KEY=V1,V2",
                   help=f"run every combination of these values (KEY: {', '.join(SWEEP_KEYS)}); repeat the flag for a grid")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local: one row after another; ray: rows as Ray tasks, in parallel, on a local Ray or a cluster")
    p.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                   help="with --executor ray: join this cluster (or 'auto'); default: start a local Ray instance")
    p.add_argument("--dry-run", action="store_true", help="one batch per adapter, end to end, in seconds")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--list", action="store_true", help="list tasks and frameworks (with availability) and exit")
    p.add_argument("--explain", action="store_true", help="print each adapter's code, model summary and differing defaults; no training")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="after the run, write learning curves to FILE.png")
    p.add_argument("--report", default=None, metavar="DIR", help="after the run, write a Markdown report (and its plots) into DIR")
    p.add_argument("--export", default=None, metavar="DIR",
                   help="after training, write every network row's weights.npz and native/ONNX artifacts into "
                        "DIR/<task>-<framework>-<model>/ and check each in a fresh process")
    p.add_argument("--import-weights", default=None, metavar="FILE",
                   help="start every network from this weights.npz (written by --export) instead of the canonical init")
    p.add_argument("--verify-export", default=None, metavar="DIR",
                   help="check an --export folder again (file hashes, then every artifact in a fresh process) and exit")
    p.add_argument("--check", action="store_true", help="numerical equivalence tables (forward, gradients, trajectories) vs the NumPy reference")
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and validate every flag; raises UsageError with one line."""
    from tasks import registry
    from workbench.report.tables import FORMATS

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    given = explicit_flags(argv)
    check_conflicts(args, given)
    if args.list:
        from frameworks.base import framework_names

        framework_names()  # a bad FRAMEBENCH_EXTRA_FRAMEWORKS is a usage error here too, before any child starts
        return args
    args.argv, args.kept = argv, {}
    if args.resume is not None:
        args = resumed_args(args, given)
    registry.get(args.task).variant(args.variant)  # unknown task or variant -> UnknownTaskError listing the names
    args.framework_list = framework_list(args.frameworks)
    args.sweep_grid = sweep_grid(args.sweep or [])
    for key in args.sweep_grid:
        if getattr(args, key) is not None:
            raise UsageError(f"--sweep {key} cannot be combined with {_flag(key)}: put the value in the sweep")
    if args.executor == "ray":
        from workbench.run.ray_executor import ExecutorError, require_ray

        try:
            require_ray()
        except ExecutorError as exc:
            raise UsageError(str(exc)) from None
    if args.format not in FORMATS:
        raise UsageError(f"unknown --format {args.format!r}: use a tabulate format ({', '.join(FORMATS[:6])}, ...), csv or json")
    if args.output is not None:
        if Path(args.output).is_dir():
            raise UsageError(f"--output {args.output} is a folder: name a file in it")
        folder = Path(args.output).resolve().parent
        if not folder.is_dir():
            raise UsageError(f"--output folder {folder} does not exist")
        try:  # really try: permission bits say little for root or special file systems
            tempfile.TemporaryFile(dir=folder).close()
        except OSError:
            raise UsageError(f"--output folder {folder} is not writable") from None
    _check_output_paths(args)
    if args.epochs == 0 and args.import_weights is None:
        raise UsageError("--epochs 0 evaluates imported weights: it needs --import-weights FILE")
    if args.export is not None:
        args.export = str(_export_folder(args.export))
    if args.import_weights is not None:
        args.import_weights = str(Path(args.import_weights).resolve())  # the same file for every child
    if args.data_dir is not None and Path(args.data_dir).exists() and not Path(args.data_dir).is_dir():
        raise UsageError(f"--data-dir {args.data_dir} is not a folder")
    _check_loss(args)
    _check_augment(args)
    return args


def _check_augment(args: argparse.Namespace) -> None:
    """--augment needs a task whose spec states an augmentation."""
    from tasks import registry
    from tasks.augment import AugmentError, with_augment

    try:
        with_augment(registry.get(args.task).spec, args.augment)
    except AugmentError as exc:
        raise UsageError(f"--augment: {exc}") from None


def _check_loss(args: argparse.Namespace) -> None:
    """--loss must fit the task's output: one logit (binary) or one per class."""
    from tasks import registry
    from tasks.reference import ONE_LOGIT_LOSSES

    if args.loss is None:
        return
    task_loss = registry.get(args.task).variant(args.variant).model.loss
    if (args.loss in ONE_LOGIT_LOSSES) != (task_loss in ONE_LOGIT_LOSSES):
        kind = "one logit (binary)" if task_loss in ONE_LOGIT_LOSSES else "one logit per class"
        valid = [name for name in ("cross_entropy", *ONE_LOGIT_LOSSES) if (name in ONE_LOGIT_LOSSES) == (task_loss in ONE_LOGIT_LOSSES)]
        raise UsageError(f"--loss {args.loss} does not fit task {args.task} ({kind}): use {' or '.join(valid)}")


def framework_list(text: str) -> list[str]:
    """The --frameworks value as names: 'all' is every installed framework, in registry order."""
    from frameworks.base import check_framework, framework_names, missing_packages

    if text.strip() == "all":
        return [name for name in framework_names() if not missing_packages(name)]
    names = [f.strip() for f in text.split(",") if f.strip()]
    if not names:
        raise UsageError("--frameworks is empty")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--frameworks names {', '.join(repeated)} twice: each framework runs once per seed (see --repeats)")
    for name in names:
        check_framework(name)
    return names


def _check_output_paths(args: argparse.Namespace) -> None:
    """--plot must name a .png in an existing folder; --report must be a folder that can be written or created."""
    if args.plot is not None:
        if Path(args.plot).suffix.lower() != ".png":
            raise UsageError(f"--plot {args.plot}: the file name must end in .png")
        if not Path(args.plot).resolve().parent.is_dir():
            raise UsageError(f"--plot folder {Path(args.plot).resolve().parent} does not exist")
        _check_writable("--plot", Path(args.plot).resolve().parent)
    if args.report is not None:
        report = Path(args.report).resolve()
        if report.exists() and not report.is_dir():
            raise UsageError(f"--report {args.report} is a file, not a folder")
        if not report.parent.is_dir():
            raise UsageError(f"--report parent folder {report.parent} does not exist")
        _check_writable("--report", report if report.is_dir() else report.parent)  # written into, or created in


def _export_folder(text: str) -> Path:
    """--export DIR: a folder that exists or can be created, and can be written (checked before any row runs)."""
    folder = Path(text).resolve()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--export {text} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--export folder {folder} cannot be created ({exc.strerror or exc})") from None
    _check_writable("--export", folder)
    return folder


def _check_writable(flag: str, folder: Path) -> None:
    """Really try, as for --output: a folder that cannot be written fails now, not after every row has run."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        raise UsageError(f"{flag} folder {folder} is not writable") from None


def task_spec(args: argparse.Namespace):  # noqa: ANN201 - tasks.spec.TaskSpec
    """The task's spec with the CLI's overrides."""
    from tasks import registry
    from tasks.spec import with_overrides

    return with_overrides(registry.get(args.task).variant(args.variant), epochs=args.epochs, batch_size=args.batch_size,
                          lr=args.lr, seed=args.seed,
                          optimizer=args.optimizer, weight_decay=args.weight_decay, loss=args.loss)  # fmt: skip


def write_teaching_files(args: argparse.Namespace, meta: dict, results: list, check_text: str | None = None) -> None:
    """--plot and --report: learning curves and the Markdown report (with --check tables if run)."""
    spec = task_spec(args)
    if args.plot:
        from workbench.report.plots import plot_learning_curves

        plot_learning_curves(results, Path(args.plot), f"{spec.name}: {spec.title}")
        print(f"compare.py: learning curves written to {args.plot}", file=sys.stderr)
    if args.report:
        from workbench.report.markdown import write_report

        extra = [("Numerical equivalence (--check)", f"```\n{check_text}```")] if check_text else []
        written = write_report(Path(args.report), meta, results, spec, args.framework_list, extra)
        print(f"compare.py: report written to {', '.join(str(p) for p in written)}", file=sys.stderr)


def explicit_flags(argv: list[str]) -> set[str]:
    """The destinations of the flags actually typed (defaults left out)."""
    unset = object()  # not a string, so argparse does not convert it like a typed value
    parser = build_parser()
    parser.set_defaults(**{dest: unset for dest in vars(build_parser().parse_args([]))})
    return {dest for dest, value in vars(parser.parse_args(argv)).items() if value is not unset}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_conflicts(args: argparse.Namespace, given: set[str]) -> None:
    """Flags that make no sense together: one line naming both."""
    others = sorted(given - {"list"})
    if args.list and others:
        raise UsageError(f"--list cannot be combined with {_flag(others[0])}")
    if args.tf32 and "precision" in given and args.precision != "tf32":
        raise UsageError(f"--tf32 cannot be combined with --precision {args.precision}: --tf32 means --precision tf32")
    if args.tf32:
        args.precision = "tf32"
    if args.precision != "fp32" and args.dtype != "float32":
        raise UsageError(f"--precision {args.precision} needs --dtype float32 (it changes how float32 computes)")
    if args.in_process and args.timeout is not None:
        raise UsageError("--timeout cannot be enforced with --in-process (a row in this process cannot be stopped): "
                         "drop one")  # fmt: skip
    if args.ray_address is not None and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    if args.in_process and args.executor == "ray":
        raise UsageError("--in-process cannot be combined with --executor ray (each Ray row runs in its own process)")
    resume, output = args.resume, args.output
    if resume is not None and output is not None and Path(output).resolve() != Path(resume).resolve():
        raise UsageError(f"--output {output} differs from --resume {resume}: a resumed run saves back into its file")


def resumed_args(args: argparse.Namespace, given: set[str]) -> argparse.Namespace:
    """The saved run's flags, with this call's --format/--quiet/--timeout/--in-process/--data-dir on top."""
    from workbench.run.resume import kept_rows, read_saved_run

    meta, results = read_saved_run(args.resume)
    valued = [dest for dest in ("format", "timeout", "data_dir", "executor", "ray_address") if dest in given]
    extra = [a for dest in valued for a in (_flag(dest), str(getattr(args, dest)))]
    extra += [_flag(dest) for dest in ("quiet", "in_process") if dest in given]
    try:
        saved = build_parser().parse_args(meta["argv"] + extra)
    except UsageError as exc:
        raise UsageError(f"--resume {args.resume}: its saved command line no longer parses ({exc})") from None
    for dest in sorted(given & set(ROW_FLAGS)):
        if getattr(args, dest) != getattr(saved, dest):
            raise UsageError(f"--resume {args.resume}: {_flag(dest)} {getattr(args, dest)} differs from the saved run's "
                             f"{getattr(saved, dest)}; start a new run instead")  # fmt: skip
    if "executor" in given and args.executor == "local":
        saved.ray_address = None  # a Ray run resumed here: its --ray-address no longer applies
    check_conflicts(saved, explicit_flags(meta["argv"] + extra))
    saved.argv, saved.output, saved.resume = meta["argv"], args.resume, args.resume
    saved.kept = kept_rows([r for r in results if r.task == saved.task])
    return saved


def default_output(args: argparse.Namespace) -> str | None:
    """results/TASK-TIMESTAMP.json for a real run without --output (a dry run saves nothing)."""
    if args.output is not None or args.dry_run:
        return args.output
    folder = Path("results")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"compare.py: warning: cannot create {folder}/ ({reason}); results will only be printed", file=sys.stderr)
        return None
    return str(folder / f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}.json")


def list_text() -> str:
    """Tasks and frameworks, with availability and the devices each sees (asked in a child process each)."""
    from tabulate import tabulate

    from frameworks.base import framework_names, missing_packages
    from tasks import registry
    from workbench.run.devices import ask_devices

    tasks = [[n, registry.get(n).spec.title, ", ".join(registry.get(n).variant_names())] for n in registry.names()]
    names = framework_names()
    missing = {name: missing_packages(name) for name in names}
    seen = ask_devices([name for name in names if not missing[name]])
    frameworks = []
    for name in names:
        status = "available" if not missing[name] else f"not installed: {', '.join(missing[name])}"
        answer = seen.get(name, "-")
        frameworks.append([name, status, answer if isinstance(answer, str) else ", ".join(answer)])
    return (tabulate(tasks, headers=["task", "title", "--model (default first)"]) + "\n\n"
            + tabulate(frameworks, headers=["framework", "status", "devices"]) + "\n")  # fmt: skip


def resolve_device(args: argparse.Namespace):  # noqa: ANN201 - workbench.run.devices.Resolution
    """One device for the comparison (raises DeviceError for --device cuda where a framework sees no GPU)."""
    from frameworks.base import engine, missing_packages
    from workbench.run.devices import resolve_for

    installed = [fw for fw in args.framework_list if not missing_packages(fw)]  # the others are skipped rows
    cpu_only = tuple(fw for fw in installed if engine(fw).cpu_only)
    return resolve_for(args.device, installed, cpu_only)


def make_plan(args: argparse.Namespace, resolution=None):  # noqa: ANN001, ANN201 - workbench.run.runner.RunPlan
    """One RunRequest per row: sweep configuration x seed x (framework, model), on the resolved device."""
    from frameworks.base import RunSettings, engine, model_names
    from tasks import registry
    from tasks.optimizers import describe
    from workbench.run.driver import RunRequest
    from workbench.run.runner import RunPlan

    spec = registry.get(args.task).variant(args.variant)
    progress = sys.stderr.isatty() and not args.quiet and args.executor == "local"  # parallel rows: one line each
    grid = args.sweep_grid
    configs = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    data_dir = str(Path(args.data_dir).resolve()) if args.data_dir else None  # the same for a Ray worker elsewhere
    first_seed = spec.train.seed if args.seed is None else args.seed
    variants = [False, True] if args.compile else [False]
    device = resolution.device if resolution is not None else args.device
    requests = [
        RunRequest(
            task=args.task, framework=fw, model=model, epochs=config.get("epochs", args.epochs),
            batch_size=config.get("batch_size", args.batch_size), lr=config.get("lr", args.lr),
            seed=seed, subset=args.subset, data_dir=data_dir, dry_run=args.dry_run, optimizer=args.optimizer,
            weight_decay=args.weight_decay, loss=args.loss, augment=args.augment, variant=args.variant,
            import_weights=args.import_weights, export_dir=export_dir(args, fw, model, seed, compiled, config),
            settings=RunSettings(device="cpu" if engine(fw).cpu_only else device, threads=args.threads, dtype=args.dtype,
                                 seed=seed, tf32=args.precision == "tf32", precision=args.precision, compile=compiled,
                                 progress=progress),
        )
        for config in configs
        for seed in range(first_seed, first_seed + args.repeats)
        for fw in args.framework_list
        for model in model_names(fw, spec)
        for compiled in (variants if engine(fw).compile_variant else [False])
    ]  # fmt: skip
    meta = {
        "task": args.task, "title": spec.title, "device": device, "device_asked": args.device,
        "device_note": resolution.note if resolution is not None else "", "precision": args.precision, "threads": args.threads,
        "determinism": CUDA_DETERMINISM if device == "cuda" else "",
        "seed": first_seed if args.repeats == 1 else f"{first_seed}..{first_seed + args.repeats - 1}",
        "dtype": args.dtype, "tf32": args.precision == "tf32", "optimizer": describe(task_spec(args).optimizer), "loss": task_spec(args).model.loss,
        "dry_run": args.dry_run, "argv": args.argv, "executor": args.executor, "sweep": grid,
        "variant": registry.get(args.task).variant_names()[0] if args.variant is None else args.variant,
    }  # fmt: skip
    if args.augment:
        from tasks.augment import describe as describe_augment, with_augment

        meta["augment"] = describe_augment(with_augment(spec, args.augment).data.augment)
    output = Path(args.output) if args.output else None
    return RunPlan(requests=requests, timeout_s=args.timeout, in_process=args.in_process, output=output, meta=meta,
                   kept=args.kept, sweep_keys=tuple(grid), executor=args.executor, ray_address=args.ray_address,
                   quiet=args.quiet)  # fmt: skip


def export_dir(args: argparse.Namespace, framework: str, model: str, seed: int, compiled: bool, config: dict) -> str | None:
    """DIR/<task>-<framework>-<model> for one row; a seed, variant or sweep suffix only where a run has several."""
    from workbench.deploy.export import row_folder
    from workbench.report.tables import config_title

    if args.export is None:
        return None
    suffix = (f"-{args.variant}" if args.variant else "") + (f"-seed{seed}" if args.repeats > 1 else "") + ("-compiled" if compiled else "")
    suffix += "".join(f"-{part.replace('=', '')}" for part in config_title(config).split(", ") if part)
    return str(Path(args.export) / row_folder(args.task, framework, model, suffix))


def exit_code(results: list) -> int:
    """0 if every row is ok and every export checked ok (or skipped), else EXIT_FAILED."""
    from workbench.deploy.table import export_failed

    return EXIT_OK if results and all(r.status == "ok" for r in results) and not export_failed(results) else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Parse, run every row in its own process, print the tables."""
    from tasks.registry import UnknownTaskError

    from frameworks.base import PluginSpecError, UnknownFrameworkError
    from workbench.run.resume import ResumeError

    try:
        args = parse_args(argv)
    except (UsageError, UnknownTaskError, UnknownFrameworkError, PluginSpecError, ResumeError) as exc:
        print(f"compare.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.list:
        print(list_text(), end="")
        return EXIT_OK
    if args.verify_export:
        from workbench.deploy.cli import verify_export

        return verify_export(Path(args.verify_export), args.format)
    if args.import_weights:
        from workbench.deploy.weights_file import WeightsFileError, load_weights

        spec = task_spec(args)
        try:  # checked here, before any row runs: every child would refuse it the same way
            load_weights(Path(args.import_weights), spec.model, spec.name)
        except WeightsFileError as exc:
            print(f"compare.py: error: {exc}", file=sys.stderr)
            return EXIT_DATA
    if args.explain:
        from workbench.teach.explain import explain_text

        text, errored = explain_text(task_spec(args), args.framework_list)
        print(text, end="")
        return EXIT_FAILED if errored else EXIT_OK
    from workbench.run.devices import DeviceError

    try:
        resolution = resolve_device(args)
    except DeviceError as exc:
        print(f"compare.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    check_text, check_failed = None, False
    if args.check:
        from workbench.check.report import check_task

        check_text, check_failed = check_task(args.task, args.framework_list, args.data_dir, task_spec(args),
                                              resolution.device, args.precision)  # fmt: skip
        print(check_text, end="")
        if not args.report:  # with --report, the comparison runs too and the report carries the tables
            return EXIT_CHECK_FAILED if check_failed else EXIT_OK

    from workbench.report.tables import render
    from workbench.run.ray_executor import ExecutorError
    from workbench.run.runner import Interrupted, run_plan

    args.output = default_output(args)
    plan = make_plan(args, resolution)

    def fatal(result) -> bool:  # noqa: ANN001
        """A data or subset error: every other row would fail the same way."""
        return result.status == "error" and result.error_kind in FATAL_KINDS

    try:
        results = run_plan(plan, on_result=fatal)
    except ExecutorError as exc:  # Ray unreachable, or no node can run the rows
        print(f"compare.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as stop:
        print(render(plan.meta, stop.results, args.format), end="")
        print("compare.py: interrupted; the finished rows are above" + (f" and in {args.output}" if args.output else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    if results and fatal(results[-1]):
        message = results[-1].message.split(": ", 1)[-1]  # "DataError: ..." -> the message for the user
        print(f"compare.py: error: {message}", file=sys.stderr)
        return FATAL_KINDS[results[-1].error_kind]
    print(render(plan.meta, results, args.format), end="")
    write_teaching_files(args, plan.meta, results, check_text)
    if args.output and Path(args.output).is_file():
        print(f"compare.py: results saved to {args.output}", file=sys.stderr)
    code = exit_code(results)
    return EXIT_CHECK_FAILED if check_failed and code == EXIT_OK else code


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (`kill PID`) stops the run like Ctrl-C: the current child is killed, finished rows are kept."""
    raise KeyboardInterrupt


def run_main() -> int:
    """main() with the last-resort handlers: Ctrl-C before the run starts, and bugs, are one line too."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return main()
    except KeyboardInterrupt:
        print("compare.py: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback only on request
        if os.environ.get("FRAMEBENCH_DEBUG"):
            raise
        hint = "(FRAMEBENCH_DEBUG=1 shows the traceback)"
        print(f"compare.py: internal error: {type(exc).__name__}: {exc} {hint}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(run_main())
