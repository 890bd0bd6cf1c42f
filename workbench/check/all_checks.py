"""Every check of one spec: forward, gradient and trajectory rows in every dtype (workbench/check/equivalence.py), and
the rows that measure each engine's own default attention softmax (workbench/check/attention_rows.py)."""

from __future__ import annotations

import numpy as np

from tasks.spec import TaskSpec
from workbench.check.attention_rows import default_softmax_rows
from workbench.check.equivalence import (CheckConfig, Measured, Report, check_spec, check_weights, finite_difference_rows,
                                         forward_rows, gradient_rows, measure_many, trajectory_rows)  # fmt: skip


def run_checks(spec: TaskSpec, X: np.ndarray, y: np.ndarray, config: CheckConfig, inputs: str) -> Report:
    """Forward, gradient and trajectory checks in every dtype; X holds at least steps * batch_size samples."""
    return run_checks_many([(spec, X, y, inputs)], config)[0]


def run_checks_many(jobs: list[tuple[TaskSpec, np.ndarray, np.ndarray, str]], config: CheckConfig) -> list[Report]:
    """run_checks of several (spec, X, y, inputs) under one config, each framework asked once for all of them."""
    prepared = []
    for spec, X, y, inputs in jobs:
        spec = check_spec(spec, config.batch_size)
        report = Report(task=spec.name, inputs=inputs, config=config)
        weights = check_weights(spec, config.seed)
        b = config.batch_size
        X, y = X[: b * config.steps], y[: b * config.steps]
        report.rows += finite_difference_rows(spec, weights, X[:b], y[:b], config)
        prepared.append((spec, weights, X, y, report))
    measured_all = measure_many(prepared, config)
    return [_judged(spec, weights, X, y, config, report, measured) for (spec, weights, X, y, report), measured in zip(prepared, measured_all)]


def _judged(spec: TaskSpec, weights: dict, X: np.ndarray, y: np.ndarray, config: CheckConfig, report: Report,
            measured: dict[str, Measured]) -> Report:  # fmt: skip
    """The rows and notes of one spec's check from every framework's measurements."""
    b = config.batch_size
    X0, y0 = X[:b], y[:b]
    for dtype in config.dtypes:
        report.rows += forward_rows(spec, measured, dtype, weights, X0)
        report.rows += gradient_rows(spec, measured, dtype, weights, X0, y0)
        report.rows += trajectory_rows(spec, measured, dtype, config.steps, config.judged_steps32)
    report.rows += default_softmax_rows(spec, measured, weights, X, y, config)
    for name, m in measured.items():
        if not m.facts["has_gradients"]:
            report.notes.append(f"{name}: no public gradient API; its training steps are in the trajectory table")
        for dtype in config.dtypes:
            if m.downcast(dtype):
                report.notes.append(f"{name} ({m.facts['version']}) computes {dtype} in float32: its {dtype} rows are DOWNCAST")
    return report
