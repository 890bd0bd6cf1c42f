"""framebench: train the same task in PyTorch, Keras (on TensorFlow, JAX or torch), JAX/Flax and scikit-learn, side by side.

    python compare.py --task digits --frameworks all --report report/   # the embedded task: no download
    python compare.py --spec examples/lenet5_digits.toml --check         # your own network (docs/own-network.md)
    python compare.py --list                             # or --explain, --code DIR, --check: no training
    python compare.py --repeats 5 --sweep lr=1e-3,3e-3 --executor ray --ray-address auto   # on a Ray cluster

Tables go to stdout, progress bars and logs to stderr. Every finished row is saved at once, to --output FILE or
else to results/TASK-TIMESTAMP.json (not for --dry-run). The exit codes are listed in workbench/errors.py.
This file is the command line only: flags -> workbench.options.Options -> the library -> tables -> exit code.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import fields, replace
from pathlib import Path

from frameworks.base import DEFAULT_FRAMEWORKS, PRECISION_NAMES, PluginSpecError, UnknownFrameworkError, framework_names
from tasks.download import DataError
from tasks.optimizers import PRESETS
from tasks.reference import LOSSES
from tasks.registry import UnknownTaskError
from workbench import api
from workbench.deploy.signing import read_key
from workbench.deploy.verify import unsigned_note
from workbench.errors import (EXIT_CHECK_FAILED, EXIT_DATA, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK,
                              EXIT_USAGE, FATAL_KINDS, UsageError)  # fmt: skip
from workbench.options import AUGMENT_MODES, DEVICES, DTYPES, NUMBERS, SWEEP_KEYS, Options
from workbench.plan import check_options, default_output, flag, task_spec
from workbench.report.tables import FORMATS, render
from workbench.run.execute import EXECUTORS
from workbench.report.from_results import ResultsFileError
from workbench.run.resume import available_frameworks, kept_rows, read_saved_run
from workbench.run.runner import Interrupted
from workbench.teach.explain import explain_text

# --resume keeps these from the saved run: changing them would mix rows that are not comparable
ROW_FLAGS = ("task", "spec", "frameworks", "device", "epochs", "batch_size", "lr", "seed", "subset", "test_subset", "threads", "dtype",
             "dry_run", "repeats", "compile", "mode", "tf32", "precision", "sweep", "optimizer", "weight_decay", "loss", "export",
             "import_weights", "augment", "variant")  # fmt: skip
RESUME_VALUED, RESUME_SWITCHES = ("format", "timeout", "data_dir", "executor", "ray_address"), ("quiet", "in_process")  # may change
DEFAULTS = Options()


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump): a UsageError, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: ...)" to a flag's help, unless the help states its default in words or there is none to state."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False):
            return text
        return super()._get_help_string(action)


def typed(parse):  # noqa: ANN001, ANN201 - an argparse type from a workbench.options parser
    """The parser's ValueError as argparse's one-line type error."""

    def convert(text: str):  # noqa: ANN202
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


class AppendSweep(argparse.Action):
    """--sweep may be given several times: a list of its texts (works with explicit_flags' stand-in default)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, (current if isinstance(current, list) else []) + [values])


def build_parser() -> Parser:
    """Every flag, each with its default in --help (the defaults are workbench.options.Options')."""
    p = Parser(prog="compare.py", description=__doc__.split("\n")[0], formatter_class=HelpFormatter)
    add = p.add_argument
    add("--task", default=DEFAULTS.task, help="task to run (see --list)")
    add("--spec", metavar="FILE.toml", help="your own network instead of --task: a spec file (TOML or JSON; docs/own-network.md)")
    add("--model", dest="variant", default=None, metavar="VARIANT",
        help="a variant of the task's network, e.g. --task sentiment --model gru (see --list; default: the task's own)")
    add("--frameworks", default=",".join(DEFAULT_FRAMEWORKS), help="comma-separated frameworks (see --list), or 'all' for every installed one")
    add("--device", default=DEFAULTS.device, choices=DEVICES,
        help="one device for every row: auto is cuda only if every selected framework sees a GPU, else cpu; "
             "cuda stops (exit 2) if one does not (CPU-only frameworks run on cpu and say so)")
    add("--epochs", type=typed(NUMBERS["epochs"]), help="epochs (default: the task spec's); 0 with --import-weights evaluates the imported weights")
    add("--batch-size", type=typed(NUMBERS["batch_size"]), help="batch size (default: the task spec's)")
    add("--lr", type=typed(NUMBERS["lr"]), help="learning rate (default: the task spec's)")
    add("--optimizer", choices=PRESETS, help="optimizer preset (tasks/optimizers.py), keeping the task's lr, betas and eps (default: the task spec's)")
    add("--weight-decay", type=typed(NUMBERS["weight_decay"]), metavar="W",
        help="weight decay on every trainable weight: decoupled for adamw (default 0.01), else L2 in the gradient (default: none)")
    add("--loss", choices=LOSSES, help="loss (default: the task spec's); mse: one-logit tasks only, mean (logit - (2y - 1))^2")
    add("--augment", nargs="?", const="shared", choices=AUGMENT_MODES,
        help="image tasks that state one (cifar10): random crop (padding 4) + flip each epoch; 'shared' (the value when none "
             "is given): NumPy from the seed, identical batches everywhere; 'native': each framework's own ops (default: off)")
    add("--seed", type=typed(NUMBERS["seed"]), help="seed for weights and batch order (default: the spec's)")
    add("--subset", type=typed(NUMBERS["subset"]), help="train on the first N training samples only (default: all)")
    add("--test-subset", type=typed(NUMBERS["test_subset"]), metavar="N", help="evaluate on the first N test samples only (default: all)")
    add("--threads", type=typed(NUMBERS["threads"]), default=DEFAULTS.threads, help="threads for every framework (default: $FRAMEBENCH_THREADS, else every core)")
    add("--dtype", default=DEFAULTS.dtype, choices=DTYPES, help="weights and activations")
    add("--data-dir", help="data folder (else $FRAMEBENCH_DATA, else the user cache)")
    add("--format", default=DEFAULTS.format, metavar="FMT", help=f"table format: a tabulate format, csv or json ({', '.join(FORMATS)})")
    add("--output", metavar="FILE", help="save results as JSON to FILE after every row (default: results/TASK-TIMESTAMP.json; none for --dry-run)")
    add("--resume", metavar="FILE", help="rerun the rows of the run saved in FILE that did not finish ok; saves back into FILE")
    add("--repeats", type=typed(NUMBERS["repeats"]), default=DEFAULTS.repeats, help="runs per framework, with seeds seed..seed+N-1")
    add("--mode", type=lambda text: tuple(text.split(",")), default=(), help="execution modes, comma-separated: eager, compiled (each engine's MODES say what they run; default: each engine's own)")
    add("--compile", action="store_true", help="the same as --mode eager,compiled")
    add("--precision", default=DEFAULTS.precision, choices=PRECISION_NAMES,
        help="fp32: float32, TF32 off in every framework; tf32: float32 matmuls on TensorFloat-32 (CUDA); "
             "bf16/fp16: each framework's mixed precision (fp16 with loss scaling); needs --dtype float32")
    add("--tf32", action="store_true", help="the same as --precision tf32 (kept for old command lines)")
    add("--timeout", type=typed(NUMBERS["timeout"]), help="seconds allowed per row (default: none; not with --in-process)")
    add("--in-process", action="store_true", help="run rows in this process (debugging; no isolation)")
    add("--sweep", action=AppendSweep, metavar="KEY=V1,V2",
        help=f"run every combination of these values (KEY: {', '.join(SWEEP_KEYS)}); repeat the flag for a grid")
    add("--executor", default=DEFAULTS.executor, choices=EXECUTORS,
        help="local: one row after another; ray: rows as Ray tasks, in parallel, on a local Ray or a cluster")
    add("--ray-address", metavar="HOST:PORT", help="with --executor ray: join this cluster (or 'auto'); default: start a local Ray instance")
    add("--dry-run", action="store_true", help="one batch per adapter, end to end, in seconds")
    add("--quiet", action="store_true", help="no progress bars")
    add("--list", action="store_true", help="list tasks and frameworks (with availability) and exit")
    add("--explain", action="store_true", help="print each adapter's code, model summary and differing defaults; no training")
    add("--code", metavar="DIR", help="write the network as each framework's users write it, one runnable script per engine, into DIR; no training")
    add("--plot", metavar="FILE.png", help="after the run, write learning curves to FILE.png")
    add("--report", metavar="DIR", help="after the run, write DIR/index.html (one self-contained page: results, learning "
                                        "curves, statistics, the engines' code), results.json and the Markdown report.md")
    add("--from", dest="report_from", nargs="+", metavar="RUN.json", help="with --report and/or --tensorboard: build them "
                                                                          "from these saved results of one task; nothing trains")
    add("--tensorboard", metavar="DIR", help="after the run, write TensorBoard event files into DIR, one run per row "
                                             "(task/engine/variant/seedN): per-epoch scalars, HParams, the spec")
    add("--export", metavar="DIR", help="after training, write every network row's weights.npz and native/ONNX artifacts "
                                        "into DIR/<task>-<framework>-<model>/ and check each in a fresh process")
    add("--import-weights", metavar="FILE", help="start every network from this weights.npz (written by --export) instead of the canonical init")
    add("--verify-export", metavar="DIR", help="check an --export folder again (file hashes, then every artifact in a fresh process) and exit")
    add("--signing-key", metavar="FILE", help="a key file (e.g. 32 random bytes): --export HMAC-signs each export.json with it, "
                                               "--verify-export refuses any edit to the folder (default: unsigned)")
    add("--trust-artifacts", action="store_true", help="--verify-export without a key: load artifacts that can run code "
                                                       "(stored graphs, pickles, exported programs) anyway")
    add("--check", action="store_true", help="numerical equivalence tables (forward, gradients, trajectories) vs the NumPy reference")
    return p


def explicit_flags(argv: list[str]) -> set[str]:
    """The destinations of the flags actually typed (defaults left out)."""
    unset = object()  # not a string, so argparse does not convert it like a typed value
    parser = build_parser()
    parser.set_defaults(**{dest: unset for dest in vars(build_parser().parse_args([]))})
    return {dest for dest, value in vars(parser.parse_args(argv)).items() if value is not unset}


def to_options(args: argparse.Namespace, argv: list[str]) -> Options:
    """The parsed flags as Options (unchecked)."""
    values = {f.name: getattr(args, f.name) for f in fields(Options) if hasattr(args, f.name)}
    return Options(**{**values, "frameworks": tuple(args.frameworks.split(",")) if args.frameworks.strip() != "all" else ("all",),
                      "sweep": tuple(args.sweep or ()), "report_from": tuple(args.report_from or ()), "argv": tuple(argv)})  # fmt: skip


def resumed(options: Options, given: set[str]) -> tuple[Options, dict]:
    """The saved run's options, with this call's --format/--quiet/--timeout/... on top, and its rows that finished ok."""
    meta, results = read_saved_run(options.resume)
    extra = [a for dest in RESUME_VALUED if dest in given for a in (flag(dest), str(getattr(options, dest)))]
    extra += [flag(dest) for dest in RESUME_SWITCHES if dest in given]
    try:
        saved = to_options(build_parser().parse_args(meta["argv"] + extra), meta["argv"])
    except UsageError as exc:
        raise UsageError(f"--resume {options.resume}: its saved command line no longer parses ({exc})") from None
    for dest in sorted(given & set(ROW_FLAGS)):
        if getattr(options, dest) != getattr(saved, dest):
            raise UsageError(f"--resume {options.resume}: {flag(dest)} {getattr(options, dest)} differs from the saved run's "
                             f"{getattr(saved, dest)}; start a new run instead")  # fmt: skip
    ray_address = None if "executor" in given and options.executor == "local" else saved.ray_address  # Ray run resumed here
    saved = replace(saved, output=options.resume, resume=options.resume, ray_address=ray_address,
                    frameworks=available_frameworks(options.resume, saved.frameworks))  # a gone plugin's rows stay
    return saved, kept_rows([r for r in results if r.task == saved.task])


def parse(argv: list[str]) -> tuple[Options, dict]:
    """Flags -> checked Options, and the rows a --resume keeps; raises UsageError (and the registries' errors)."""
    args = build_parser().parse_args(argv)
    given = explicit_flags(argv)
    options, kept = to_options(args, argv), {}
    if options.list:
        others = sorted(given - {"list"})
        if others:
            raise UsageError(f"--list cannot be combined with {flag(others[0])}")
        framework_names()  # a bad FRAMEBENCH_EXTRA_FRAMEWORKS is a usage error here too, before any child starts
        return options, kept
    if {"spec", "task"} <= given:
        raise UsageError("--spec and --task both say what to run: give one")
    if options.tf32 and "precision" in given and options.precision != "tf32":
        raise UsageError(f"--tf32 cannot be combined with --precision {options.precision}: --tf32 means --precision tf32")
    if options.resume is not None:
        if options.output is not None and Path(options.output).resolve() != Path(options.resume).resolve():
            raise UsageError(f"--output {options.output} differs from --resume {options.resume}: a resumed run saves back into its file")
        options, kept = resumed(options, given)
    return check_options(options), kept


def run_rows(options: Options, kept: dict, check: api.CheckReport | None, check_failed: bool) -> int:
    """Run every row, print the tables, write --plot/--report; the exit code."""
    options = replace(options, output=default_output(options))
    fatal = lambda r: r.status == "error" and r.error_kind in FATAL_KINDS  # noqa: E731 - every other row would fail too
    try:
        comparison = api.run(options, kept, progress=api.progress_wanted(options), stop=fatal)
    except Interrupted as stop:
        print(render(stop.meta, stop.results, options.format), end="")
        print("compare.py: interrupted; the finished rows are above" + (f" and in {options.output}" if options.output else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    results = comparison.results
    if results and fatal(results[-1]):
        print(f"compare.py: error: {results[-1].message.split(': ', 1)[-1]}", file=sys.stderr)  # "DataError: ..." -> the message
        return FATAL_KINDS[results[-1].error_kind]
    print(render(comparison.meta, results, options.format), end="")
    plot, report = api.write_outputs(options, comparison, check)
    written = {"learning curves": plot, "report": ", ".join(map(str, report)), "TensorBoard event files": options.tensorboard}
    for what, where in [(what, where) for what, where in written.items() if where]:
        print(f"compare.py: {what} written to {where}", file=sys.stderr)
    if options.output and Path(options.output).is_file():
        print(f"compare.py: results saved to {options.output}", file=sys.stderr)
    code = EXIT_OK if comparison.ok and not api.verify_table(results)[1] else EXIT_FAILED
    return EXIT_CHECK_FAILED if check_failed and code == EXIT_OK else code


def main(argv: list[str] | None = None) -> int:
    """Parse, run every row in its own process, print the tables; the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        options, kept = parse(argv)
        if options.list:
            print(api.available(), end="")
            return EXIT_OK
        if options.report_from:  # --report / --tensorboard from saved results: nothing trains
            print(f"compare.py: written: {', '.join(str(p) for p in api.report_from(options))}", file=sys.stderr)
            return EXIT_OK
        key = read_key(options.signing_key) if options.signing_key else None  # a bad key file: exit 3 before any row
        if options.verify_export:
            text, failed = api.verify_table(api.verify(options.verify_export, key, options.trust_artifacts), options.format)
            print(text)
            if key is None:
                print(f"compare.py: note: {unsigned_note(options.trust_artifacts)}", file=sys.stderr)
            return EXIT_FAILED if failed else EXIT_OK
        if options.import_weights:
            api.check_import_weights(options)  # before any row runs: every child would refuse it the same way
        if options.explain:
            text, errored = explain_text(task_spec(options), list(options.frameworks))
            print(text, end="")
            return EXIT_FAILED if errored else EXIT_OK
        if options.code:  # the generated scripts, and the engines that have none
            written, skipped = api.code(options)
            print("\n".join([*map(str, written), *(f"{n}: skipped: {why}" for n, why in skipped.items())]))
            return EXIT_OK
        check, check_failed = None, False
        if options.check:
            check = api.check(options, strict=False)
            check_failed = check.failed
            print(check.text, end="")
            if not options.report:  # with --report, the comparison runs too and the report carries the tables
                return EXIT_CHECK_FAILED if check_failed else EXIT_OK
        return run_rows(options, kept, check, check_failed)
    except (UsageError, UnknownTaskError, UnknownFrameworkError, PluginSpecError, ResultsFileError, DataError) as exc:
        print(f"compare.py: error: {exc}", file=sys.stderr)  # a data error: bad data, weights file, tampered export folder
        return EXIT_DATA if isinstance(exc, DataError) else EXIT_USAGE


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (`kill PID`) stops the run like Ctrl-C: the current child is killed, rows are kept


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
        print(f"compare.py: internal error: {type(exc).__name__}: {exc} (FRAMEBENCH_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(run_main())
