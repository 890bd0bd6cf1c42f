"""Tables of `compare.py --check`: a pure rendering of a `workbench.check.equivalence.Report`, and its entry point."""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from dataclasses import replace

from tabulate import tabulate

from workbench.check.all_checks import run_checks
from workbench.check.modes import check_modes, render_modes
from workbench.check.equivalence import INACCURATE_FACTOR, Report, Row, check_weights, default_config, task_inputs
from workbench.check.mixed import MIXED_TOLERANCES, mixed_table

from workbench.check.measure import SHOWN_STEPS  # noqa: E402 - trajectory steps printed (all are checked)

STATUS_ORDER = ("OK", "INFO", "DOWNCAST", "INACCURATE", "FAIL")  # worst last


def _num(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2e}"


def _table(rows: list[Row], first: str) -> str:
    body = [[r.pair, r.item, _num(r.max_abs), _num(r.max_rel), f"{r.tol:g}", r.status] for r in rows]
    return tabulate(body, headers=["pair", first, "max abs", "max rel", "tol", "status"], disable_numparse=True)


def _trajectory_table(rows: list[Row], steps: int) -> str:
    """Selected steps of every (variant, pair), then its worst step over all `steps`."""
    shown = {f"step {s}" for s in SHOWN_STEPS if s <= steps} | {f"step {steps}"}
    body, groups = [], {}
    for r in rows:
        groups.setdefault((r.variant, r.pair), []).append(r)
    for (variant, pair), group in groups.items():
        stepped = [r for r in group if r.item.startswith("step")]
        for r in group:
            if r.item in shown or not r.item.startswith("step"):
                body.append([variant, pair, r.item, _num(r.max_abs), _num(r.max_rel), r.note, r.status])
        if stepped:
            worst = max(stepped, key=lambda r: (STATUS_ORDER.index(r.status), r.max_abs if not math.isnan(r.max_abs) else math.inf))
            body.append([variant, pair, f"worst of {len(stepped)}", _num(worst.max_abs), _num(worst.max_rel), f"at {worst.item}", worst.status])
    return tabulate(body, headers=["optimizer", "pair", "step", "max abs", "max rel", "worst weight", "status"], disable_numparse=True)


def render(report: Report) -> str:
    """Every table of the report as text."""
    c = report.config
    out = [
        f"Numerical equivalence: task {report.task}",
        f"inputs: {report.inputs}",
        f"batch {c.batch_size} samples, {c.steps} trajectory steps, finite differences on {c.fd_samples} samples; "
        f"{c.threads} thread(s); dropout off. Status: OK <= tol < FAIL; float32 Adam and RMSprop trajectories only: "
        f"tol < INACCURATE <= {INACCURATE_FACTOR:g} tol; DOWNCAST: a framework computes float64 in float32 (as it "
        "declares), judged on float32's tolerance; INFO is not judged. float64 is judged on max abs, float32 on max "
        "rel (to the largest magnitude of the right side). Each framework vs the reference at every trajectory step; "
        f"framework pairs at steps {', '.join(map(str, SHOWN_STEPS))}."
        + (f" float32 trajectories are judged at steps 1-{c.judged_steps32} only: this spec's MaxPool ties make float32 "
           "runs diverge chaotically later (INFO)." if c.judged_steps32 is not None else ""),
    ]
    out += [f"skipped {name}: {reason}" for name, reason in report.skipped.items()]
    out += [f"ERROR {name} (not checked): {reason}" for name, reason in report.errors.items()]
    out += [f"note: {note}" for note in report.notes]
    for dtype in c.dtypes:
        rows = [r for r in report.rows if r.dtype == dtype]
        sections = [
            ("forward", f"Forward, {dtype}: per-layer outputs (eval mode), logits, probabilities", "layer"),
            ("gradient", f"Gradients, {dtype}: training-mode loss and every trainable parameter (canonical layout)", "parameter"),
            ("finite_difference", "Reference analytic gradients vs central finite differences (float64, eps 1e-6)", "parameter"),
        ]
        for check, title, first in sections:
            selected = [r for r in rows if r.check == check]
            if selected:
                out += ["", title, _table(selected, first)]
        trajectory = [r for r in rows if r.check == "trajectory"]
        if trajectory:
            out += ["", f"Trajectory, {dtype}: every weight after each step, identical batches", _trajectory_table(trajectory, c.steps)]
    counts = Counter(r.status for r in report.rows)
    out += ["", "rows: " + ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER), "result: " + _result(report)]
    return "\n".join(out) + "\n"


def _result(report: Report) -> str:
    """The last line: FAIL, FAIL because a framework could not be checked, or no FAIL."""
    if any(r.status == "FAIL" for r in report.rows):
        return "FAIL"
    return f"FAIL: not checked (error): {', '.join(report.errors)}" if report.errors else "no FAIL"


def check_task(task: str, frameworks: list[str], data_dir: str | None, spec=None, device: str = "cpu",  # noqa: ANN001
               precision: str = "fp32", modes: tuple[str, ...] = ()) -> tuple[str, bool, Report]:  # fmt: skip
    """Run every check of one task (`spec`: the task's spec with the CLI's overrides) on `device`, plus the mixed-precision
    table for --precision bf16/fp16: (the tables as text, whether any row is FAIL or a framework's check failed, the
    Report itself for the HTML report's coloured tables)."""
    from tasks import registry

    start = time.perf_counter()
    spec = registry.get(task).spec if spec is None else spec
    config = replace(default_config(spec, tuple(frameworks)), device=device)
    X, y, inputs = task_inputs(task, data_dir, config.batch_size * config.steps, config.seed, spec)
    if config.steps < 50:
        inputs += f"; a larger model: {config.batch_size} samples per batch and {config.steps} steps to stay fast"
    report = run_checks(spec, X, y, config, inputs)
    text, failed = render(report), report.failed
    if precision in MIXED_TOLERANCES:
        b = config.batch_size
        mixed, mixed_failed = mixed_table(spec, precision, list(frameworks), X[:b], y[:b], check_weights(spec, config.seed), device)
        text, failed = text + "\n" + mixed, failed or mixed_failed
    if "compiled" in modes:  # --check --mode compiled: each engine's compiled mode against its eager mode (modes.py)
        compiled = check_modes(spec, X, y, config)
        text, failed = text + "\n" + render_modes(compiled), failed or compiled.failed
    print(f"checked in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return text, failed, report
