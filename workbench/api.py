"""The workbench as Python calls, for notebooks: the same flags as compare.py, results as objects.

    from workbench import api
    comparison = api.compare("--task", "digits", "--epochs", "2")
    print(comparison.table())            # the tables compare.py prints
    comparison.plot("curves.png")        # the learning curves of --plot
    print(api.explain("--task", "digits"))   # --explain
    print(api.check("--task", "digits").text)  # --check

Each call parses its flags with compare.py's own parser and runs the plan compare.py would make (every
row in its own child process), so a notebook and the command line can never disagree. Nothing is
saved unless --output is given. A bad flag raises compare.UsageError, and --device cuda where a framework sees no GPU
workbench.run.devices.DeviceError; with strict=True (the default) a row that is not ok raises RowsFailed, and a FAIL
of --check (or a framework whose check ended in an error) raises CheckFailed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path


class RowsFailed(RuntimeError):
    """A row of the comparison is not ok (skipped, error, diverged, timeout, crashed)."""


class CheckFailed(RuntimeError):
    """A --check comparison is FAIL."""


def _args(flags: tuple[str, ...]) -> argparse.Namespace:
    """compare.py's parse and validation of the flags (raises compare.UsageError on a bad one)."""
    import compare

    return compare.parse_args(list(flags))


@dataclass
class Comparison:
    """The finished rows of one run, with the header facts (meta) and the spec's title."""

    meta: dict
    results: list  # workbench.run.result.RunResult, in plan order
    title: str = ""
    notes: list[str] = field(default_factory=list)  # one line per row that is not ok or carries a message

    @property
    def ok(self) -> bool:
        """Every row finished ok."""
        return bool(self.results) and all(r.status == "ok" for r in self.results)

    def table(self, fmt: str = "simple") -> str:
        """The tables compare.py prints: header, side by side, timings, epochs, notes (fmt: a tabulate format, csv, json)."""
        from workbench.report.tables import render

        return render(self.meta, self.results, fmt)

    def plot(self, path: str | Path) -> Path:
        """Write the learning curves (training loss and test accuracy per epoch) to a PNG; returns its path."""
        from workbench.report.plots import plot_learning_curves

        return plot_learning_curves(self.results, Path(path), self.title)

    def accuracy(self) -> dict[str, float]:
        """'framework / model' -> final test accuracy (0-1) of every finished row."""
        return {f"{r.framework} / {r.model}": r.test_acc for r in self.results if r.status == "ok"}


def compare(*flags: str, strict: bool = True) -> Comparison:
    """Run the rows `compare.py FLAGS` would run and return them (a bad flag raises compare.UsageError)."""
    import compare as cli
    from workbench.report.tables import notes
    from workbench.run.runner import run_plan

    args = _args(flags)
    if args.explain or args.check or args.list or args.verify_export or args.resume:
        raise cli.UsageError("api.compare runs rows: use api.explain / api.check, or compare.py for the others")
    args.quiet = True  # no progress bars in a notebook's output
    plan = cli.make_plan(args, cli.resolve_device(args))  # one device for every row, as compare.py (DeviceError if none)
    results = run_plan(plan)
    spec = cli.task_spec(args)
    comparison = Comparison(plan.meta, results, f"{spec.name}: {spec.title}", notes(results))
    if strict and not comparison.ok:
        raise RowsFailed("; ".join(comparison.notes) or "no row ran")
    return comparison


def explain(*flags: str) -> str:
    """The text of `compare.py FLAGS --explain`: each adapter's code, the summaries, the differing defaults."""
    import compare as cli
    from workbench.teach.explain import explain_text

    args = _args(flags)
    return explain_text(cli.task_spec(args), args.framework_list)[0]


@dataclass
class CheckReport:
    """The --check tables and whether any comparison is FAIL."""

    text: str
    failed: bool


def check(*flags: str, strict: bool = True) -> CheckReport:
    """The tables of `compare.py FLAGS --check` (forward, gradients, trajectories against the NumPy reference)."""
    import compare as cli
    from workbench.check.report import check_task

    args = _args(flags)
    device = cli.resolve_device(args).device  # as compare.py --check: one device (DeviceError for a --device cuda with none)
    text, failed = check_task(args.task, args.framework_list, args.data_dir, cli.task_spec(args), device, args.precision)
    if strict and failed:
        raise CheckFailed(f"a --check comparison is FAIL:\n{text}")
    return CheckReport(text, failed)
