"""The injected mapping bugs of tests/engines/: each bug's largest difference, and its verdict under
the old rule (FAIL only above 1000 x tol) and under today's (above tol is FAIL; 10 x tol band for
float32 Adam trajectories only).

    .venv/bin/python benchmarks/injected_bugs.py
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tabulate import tabulate  # noqa: E402
from tiny_specs import MODELS, tiny_task  # noqa: E402

from workbench.check import equivalence as eq  # noqa: E402
from workbench.check.all_checks import run_checks  # noqa: E402

BUGS = {  # engine module -> tiny spec
    "pytorch_bn_eps": "cnn",
    "keras_default_eps": "mlp",
    "pytorch_bias_offset": "mlp",
    "pytorch_flatten": "cnn",
    "pytorch_lstm_gates": "rnn",
    "pytorch_gru_gates": "text",
    "jax_gru_gates": "text",
}


def old_verdict(row: eq.Row) -> str:
    """The rule before: OK <= tol < INACCURATE <= 1000 tol < FAIL."""
    measure = row.max_abs if row.dtype == "float64" else row.max_rel
    return "OK" if measure <= row.tol else "INACCURATE" if measure <= 1000 * row.tol else "FAIL"


def main() -> None:
    """One line per bug: its worst judged row."""
    os.environ["FRAMEBENCH_EXTRA_FRAMEWORKS"] = ",".join(f"{b}=engines.{b}" for b in BUGS)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    table = []
    for bug, model in BUGS.items():
        spec = tiny_task(MODELS[model])
        spec = replace(spec, optimizer=replace(spec.optimizer, eps=1e-8))  # not Keras' default 1e-7
        X, y = eq.random_inputs(spec, 8 * 5, 0)
        report = run_checks(spec, X, y, eq.CheckConfig(batch_size=8, steps=5, frameworks=(bug,)), "random")
        judged = [r for r in report.rows if r.pair == f"{bug} vs reference" and r.status != "INFO" and r.dtype == "float64"]
        worst = max(judged, key=lambda r: r.max_abs / r.tol)
        first = min((r for r in judged if r.status == "FAIL"), key=lambda r: r.max_abs, default=worst)
        table.append([bug, model, f"{worst.check}: {worst.item}", f"{worst.max_abs:.2e}", f"{worst.tol:g}", old_verdict(worst),
                      worst.status, f"{first.check}: {first.item} {first.max_abs:.2e} ({old_verdict(first)} before)"])  # fmt: skip
    print(tabulate(table, headers=["bug", "spec", "worst float64 row", "max abs", "tol", "old verdict", "new verdict",
                                   "smallest FAIL row"]))  # fmt: skip


if __name__ == "__main__":
    main()
