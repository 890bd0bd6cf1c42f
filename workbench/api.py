"""The workbench as Python calls, for notebooks, tests and compare.py: keyword options in, typed results out.

    from workbench import api
    comparison = api.compare(task="digits", frameworks=("pytorch", "sklearn"), epochs=2)
    print(comparison.table())                      # the tables compare.py prints
    comparison.plot("curves.png")                  # the learning curves of --plot
    print(api.explain(task="digits"))              # --explain
    print(api.check(task="digits").text)           # --check
    api.export("exports/", task="digits")          # --export: train, write and check every artifact
    api.verify("exports/")                         # --verify-export: the rows with their reload checks
    api.dry_runs({"task": "mnist"}, {"task": "cifar10"})  # several --dry-run's, each engine started once

The keywords are the fields of workbench.options.Options (compare.py's flags, dashes as underscores); an
Options can be passed whole instead. Every row runs in its own child process, as on the command line. Nothing
is saved unless `output` is given. A bad option raises workbench.errors.UsageError (a DeviceError for
device="cuda" where a framework sees no GPU); with strict=True (the default) a row that is not ok raises RowsFailed,
and a FAIL of check() (or a framework whose check ended in an error) raises CheckFailed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

from tabulate import tabulate

from frameworks.base import framework_names, missing_packages
from tasks import registry
from tasks.registry import DEFAULT_VARIANT
from tasks.spec import TaskSpec
from workbench.check.attention_maps import report_maps
from workbench.check.equivalence import Report
from workbench.check.mixed import MIXED_TOLERANCES
from workbench.check.report import check_task
from workbench.deploy.manifest import sign_folders
from workbench.deploy.signing import read_key
from workbench.deploy.table import export_failed, export_table
from workbench.deploy.verify import row_folders, verify_folder
from workbench.deploy.weights_file import load_weights
from workbench.errors import CheckFailed, RowsFailed, UsageError
from workbench.options import Options
from workbench.plan import check_options, make_plan, resolve_device, task_spec
from workbench.report.from_results import load_runs, rebuild_report, saved_spec
from workbench.report.html import write_html_report
from workbench.report.markdown import write_report
from workbench.report.tensorboard import write_tensorboard
from workbench.report.plots import plot_learning_curves
from workbench.report.tables import notes, render
from workbench.run.devices import ask_devices
from workbench.run.execute import run_plan
from workbench.run.meta import RunMeta
from workbench.run.result import RunResult, save_results
from workbench.run.runner import Interrupted, RunPlan
from workbench.teach.code import scripts, write_code
from workbench.teach.explain import Section, explain_text, gather

__all__ = ["CheckFailed", "CheckReport", "Comparison", "Options", "RowsFailed", "UsageError", "available", "check",
           "check_import_weights", "code", "compare", "dry_runs", "explain", "export", "options_from", "progress_wanted",
           "report_from", "run", "verify", "verify_table", "write_outputs"]  # fmt: skip


def options_from(options: Options | None, values: dict) -> Options:
    """`options` (or the defaults) with these Options fields replaced, checked; an unknown name is a UsageError."""
    unknown = sorted(set(values) - {f.name for f in fields(Options)})
    if unknown:
        raise UsageError(f"unknown option {unknown[0]!r}: the options are Options' fields ({', '.join(f.name for f in fields(Options))})")
    text = {"frameworks": lambda t: tuple(t.split(",")), "mode": lambda t: tuple(t.split(",")),  # as on the command line
            "sweep": lambda t: (t,), "report_from": lambda t: (t,)}  # one KEY=V1,V2 sweep; one results file
    values = {k: text[k](v) if k in text and isinstance(v, str) else v for k, v in values.items()}
    return check_options(replace(options or Options(), **values))


@dataclass
class Comparison:
    """The finished rows of one run, with the header facts and the spec they trained (the plan's, resolved once)."""

    meta: RunMeta
    results: list[RunResult]  # in plan order
    spec: TaskSpec  # the options' spec: every override applied, before each row's sweep values and seed
    notes: list[str] = field(default_factory=list)  # one line per row that is not ok or carries a message

    @property
    def title(self) -> str:
        """'name: title', the title of plots and reports."""
        return f"{self.spec.name}: {self.spec.title}"

    @property
    def ok(self) -> bool:
        """Every row finished ok."""
        return bool(self.results) and all(r.status == "ok" for r in self.results)

    def table(self, fmt: str = "simple") -> str:
        """The tables compare.py prints: header, side by side, timings, epochs, notes (fmt: a tabulate format, csv, json)."""
        return render(self.meta, self.results, fmt)

    def plot(self, path: str | Path) -> Path:
        """Write the learning curves (training loss and test accuracy per epoch) to a PNG; returns its path."""
        return plot_learning_curves(self.results, Path(path), self.title)

    def accuracy(self) -> dict[str, float]:
        """'framework / model label' -> final test accuracy (0-1) of every finished row."""
        return {f"{r.framework} / {r.model}": r.test_acc for r in self.results if r.status == "ok"}


def run(options: Options, kept: dict[tuple, RunResult] | None = None, *, progress: bool = False,
        stop: Callable[[RunResult], bool] | None = None) -> Comparison:  # fmt: skip
    """Plan the checked options' rows on one device (DeviceError if none), run them, sign the exports: what compare
    and compare.py share. kept: --resume's rows that are not run again; stop: a row it is True for ends the run (that
    row comes last); progress: bars on stderr. Ctrl-C raises Interrupted with the finished rows and the run's meta."""
    plan = make_plan(options, resolve_device(options), kept, progress=progress)
    try:
        results = run_plan(plan, on_result=stop)
    except Interrupted as stopped:
        raise Interrupted(stopped.results, plan.meta) from None
    sign_exports(options, plan)
    return Comparison(plan.meta, results, plan.spec, notes(results))


def compare(options: Options | None = None, /, *, strict: bool = True, **values: object) -> Comparison:
    """Run the rows of these options (keywords: Options fields, e.g. task="digits", epochs=1) and return them."""
    options = options_from(options, values)
    if options.explain or options.check or options.list or options.verify_export or options.resume:
        raise UsageError("api.compare runs rows: use api.explain, api.check or api.verify, or compare.py for --list and --resume")
    comparison = run(options)
    if strict and not comparison.ok:
        raise RowsFailed("; ".join(comparison.notes) or "no row ran")
    return comparison


def export(directory: str | Path, options: Options | None = None, /, *, strict: bool = True, **values: object) -> Comparison:
    """--export DIR: train the rows, then write every network row's weights.npz and native/ONNX artifacts into
    `directory` and check each in a fresh process (signed with `signing_key`'s key where given); the rows' `exports`
    list the artifacts and their checks."""
    return compare(options, strict=strict, **{**values, "export": str(directory)})


def dry_runs(*runs: Options | dict, strict: bool = True) -> list[Comparison]:
    """Several dry runs (e.g. every task, or several spec files; each an Options or a dict of Options fields), with
    each engine started once for all of them: one child per engine runs its rows of every run, one after another (a
    dry run times nothing). One Comparison per run, in order; each run's `output` is saved as compare.py saves it."""
    asked = [options_from(r if isinstance(r, Options) else None, {**({} if isinstance(r, Options) else r), "dry_run": True})
             for r in runs]  # fmt: skip
    if any(o.executor != "local" for o in asked):
        raise UsageError("api.dry_runs shares one child per engine between the runs: executor='local' only")
    plans = [make_plan(o, resolve_device(o)) for o in asked]
    merged = RunPlan(requests=[r for p in plans for r in p.requests], timeout_s=max((p.timeout_s or 0) for p in plans) or None,
                     quiet=True, shared_children=True)  # fmt: skip
    results, comparisons, start = run_plan(merged), [], 0
    for options, plan in zip(asked, plans):
        rows, start = results[start:start + len(plan.requests)], start + len(plan.requests)
        if plan.output is not None:
            save_results(plan.output, plan.meta.to_dict(), rows)
        comparisons.append(Comparison(plan.meta, rows, plan.spec, notes(rows)))
    failed = [c for c in comparisons if not c.ok]
    if strict and failed:
        raise RowsFailed("; ".join(n for c in failed for n in c.notes) or "no row ran")
    return comparisons


def code(options: Options | None = None, /, **values: object) -> tuple[list[Path], dict[str, str]]:
    """--code DIR: each engine's generated script for the spec, written into the folder (options.code); the files
    written, and {engine: why it has none}."""
    options = options_from(options, values)
    if options.code is None:
        raise UsageError("api.code writes into a folder: give code=DIR")
    spec = task_spec(options)
    return write_code(Path(options.code), spec, list(options.frameworks)), scripts(spec, list(options.frameworks))[1]


def explain(options: Options | None = None, /, **values: object) -> str:
    """The text of --explain: each adapter's code, the model summaries, the differing defaults."""
    options = options_from(options, values)
    return explain_text(task_spec(options), list(options.frameworks))[0]


@dataclass(frozen=True)
class CheckReport:
    """The --check tables and whether any comparison is FAIL."""

    text: str
    failed: bool
    report: Report | None = None  # the rows themselves: the HTML report colours them by verdict


def check(options: Options | None = None, /, *, strict: bool = True, **values: object) -> CheckReport:
    """The tables of --check (forward, gradients, trajectories against the NumPy reference) on the options' device."""
    options = options_from(options, values)
    device = resolve_device(options).device  # DeviceError for device="cuda" where a framework sees none
    text, failed, report = check_task(options.task, list(options.frameworks), options.data_dir, task_spec(options),
                                      device, options.precision, options.mode)  # fmt: skip
    if strict and failed:
        raise CheckFailed(f"a --check comparison is FAIL:\n{text}")
    return CheckReport(text, failed, report)


def check_import_weights(options: Options) -> None:
    """Read --import-weights once, before any row (WeightsFileError, a data error, if every row would refuse it)."""
    spec = task_spec(options)
    load_weights(Path(options.import_weights), spec.model, spec.name)


def verify(directory: str | Path, signing_key: bytes | None = None, trust: bool = False) -> list[RunResult]:
    """--verify-export: every row folder under `directory` checked again (ArtifactError for a changed file; with a key,
    for any edit; without one, for an artifact that can run code unless trust=True)."""
    results = []
    for folder in row_folders(Path(directory)):
        manifest, records = verify_folder(folder, signing_key=signing_key, trust=trust)
        results.append(RunResult(task=manifest["task"], framework=manifest["framework"], model=manifest["model"], exports=records))
    return results


def sign_exports(options: Options, plan: RunPlan) -> list[Path]:
    """--export with --signing-key: sign the manifest of every export folder the plan wrote (hashes checked first)."""
    if not (options.export and options.signing_key):
        return []
    return sign_folders([Path(r.export_dir) for r in plan.requests if r.export_dir], read_key(options.signing_key))


def verify_table(results: list[RunResult], fmt: str = "simple") -> tuple[str, bool]:
    """The export table of verified rows, and whether an artifact failed its check."""
    return export_table(results, fmt), export_failed(results)


def write_outputs(options: Options, comparison: Comparison, check: CheckReport | str | None = None) -> tuple[Path | None, list[Path]]:
    """--plot and --report: the learning curves' file (or None) and the report's files (with the --check tables: the
    HTML page colours a CheckReport's rows by verdict, and shows the attention maps of a network with attention)."""
    plot, written = None, []
    if options.plot:
        plot = comparison.plot(options.plot)
    if options.report:
        spec, frameworks = comparison.spec, list(options.frameworks)
        text = check.text if isinstance(check, CheckReport) else check
        extra: list[Section] = [("Numerical equivalence (--check)", f"```\n{text}```")] if text else []
        gathered = gather(spec, frameworks)  # one child per engine, for both pages
        written = write_report(Path(options.report), comparison.meta, comparison.results, spec, frameworks, extra, gathered)
        attention = report_maps(options.task, spec, frameworks, options.data_dir, options.threads)  # None: no attention
        coloured = isinstance(check, CheckReport) and check.report is not None and options.precision not in MIXED_TOLERANCES
        shown = check.report if coloured else text  # a mixed-precision table exists only as text: the text, whole
        written += write_html_report(Path(options.report), comparison.results, comparison.meta, spec, frameworks, shown,
                                     attention=attention, gathered=gathered)[:1]  # results.json: already written
    if options.tensorboard:
        write_tensorboard(Path(options.tensorboard), comparison.results, comparison.spec, comparison.meta.variant or DEFAULT_VARIANT)
    return plot, written


def report_from(options: Options) -> list[Path]:
    """--report DIR and/or --tensorboard DIR --from RUN.json ...: built from saved results of one task, nothing trains
    (ResultsFileError, one line, for a file that is not results or files of different tasks)."""
    paths = [Path(p) for p in options.report_from]
    written = rebuild_report(Path(options.report), paths) if options.report else []
    if options.tensorboard:
        meta, results = load_runs(paths)
        spec, _ = saved_spec(meta, results)
        if spec is None:
            raise UsageError(f"--tensorboard --from: task {meta.get('task')} is not registered here, so its spec is unknown")
        write_tensorboard(Path(options.tensorboard), results, spec, meta.get("variant") or DEFAULT_VARIANT)
        written.append(Path(options.tensorboard))
    return written


def available() -> str:
    """--list: tasks and frameworks, with availability and the devices each sees (asked in a child process each)."""
    tasks = [[n, registry.get(n).spec.title, ", ".join(registry.get(n).variant_names())] for n in registry.names()]
    names = framework_names()
    missing = {name: missing_packages(name) for name in names}
    seen = ask_devices([name for name in names if not missing[name]])
    rows = []
    for name in names:
        status = "available" if not missing[name] else f"not installed: {', '.join(missing[name])}"
        answer = seen.get(name, "-")
        rows.append([name, status, answer if isinstance(answer, str) else ", ".join(answer)])
    return (tabulate(tasks, headers=["task", "title", "--model (default first)"]) + "\n\n"
            + tabulate(rows, headers=["framework", "status", "devices"]) + "\n")  # fmt: skip


def progress_wanted(options: Options) -> bool:
    """Progress bars: on a terminal, unless quiet."""
    return sys.stderr.isatty() and not options.quiet
