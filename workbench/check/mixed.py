"""--check --precision bf16|fp16: each framework's mixed precision against the NumPy float64 reference.

Two comparisons per framework, with their own tolerances (MIXED_TOLERANCES), both as max relative difference
(max |framework - reference| / max |reference|):

* forward: log-probabilities of the check batch, evaluation mode, the canonical weights (float32 master weights,
  half-precision compute);
* one step: every weight after one plain SGD step (lr measure.SGD_LR) on the same batch, against the reference step.

A framework that cannot run the precision on the device (its PRECISIONS) is listed with its reason. The frameworks
run in their own child processes (`answer`, through workbench/process/ask.py), as the other checks do.
"""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType

import numpy as np
from tabulate import tabulate

from frameworks.base import RunSettings, engine, missing_packages
from tasks import reference
from tasks.spec import OptimizerSpec, TaskSpec, Weights
from tasks.spec_io import spec_from_json, spec_to_json
from workbench.check.equivalence import log_probabilities
from workbench.check.measure import SGD_LR
from workbench.process.adapters import precision_unsupported, row_device
from workbench.process.ask import AskError, ask

# precision -> (forward log-probabilities, weights after one SGD step): max relative difference allowed.
# Measured on the 2-core CPU development machine, digits (8 samples, the check's weights): bf16 forward 8.1e-4 (torch
# autocast, Keras on TensorFlow) to 1.3e-3 (Keras on JAX and torch, Flax), one step 1.6e-3 (all five); fp16 (Keras' three
# backends; torch has no CPU fp16 row) forward 1.6e-4 to 1.8e-4, one step 1.9e-5 to 5.4e-5. bfloat16 keeps 8
# significant bits (unit roundoff 2^-8 = 3.9e-3), float16 11 (2^-11 = 4.9e-4): each tolerance is about two units,
# 5x the worst measured; a 5 % wrong output kernel measures 2.4e-2 forward and 5.0e-2 after one step (bf16): FAIL.
# A GPU's kernels accumulate differently: these were not measured there.
MIXED_TOLERANCES = {"bf16": (8e-3, 8e-3), "fp16": (1e-3, 1e-3)}


def _rel(left: np.ndarray, right: np.ndarray) -> float:
    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if left.shape != right.shape or not np.all(np.isfinite(left)):
        return float("nan")
    return float(np.max(np.abs(left - right)) / max(np.max(np.abs(right)), 1e-30))


def answer(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """In the framework's child: its log-probability inputs (logits) and its weights after one step, in `precision`."""
    spec = spec_from_json(request["spec"])
    settings = RunSettings(device=request["device"], threads=request["threads"], dtype="float32",
                           precision=request["precision"], seed=spec.train.seed, progress=False)  # fmt: skip
    kind = module.configure(settings)
    reason = precision_unsupported(module, kind, request["precision"]) or module.unsupported(spec)
    if reason:
        return {"skipped": reason}, {}
    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
    network = module.create(spec, replace(settings, device=kind), request["model"])
    network.build(weights)
    network.set_train_data(arrays["X"], arrays["y"])
    out = {"logits": np.asarray(network.predict(arrays["X"]), dtype=np.float32)}
    network.train_step(arrays["X"], arrays["y"])
    out.update({f"w/{k}": np.asarray(v) for k, v in network.get_weights().items()})
    return {"device": kind}, out


def mixed_rows(spec: TaskSpec, precision: str, frameworks: list[str], X: np.ndarray, y: np.ndarray, weights: Weights,
               device: str = "cpu", threads: int = 1) -> list[list]:  # fmt: skip
    """[framework, comparison, max rel, tol, status or reason] for every selected framework with a network."""
    forward_tol, step_tol = MIXED_TOLERANCES[precision]
    sgd = replace(spec, optimizer=OptimizerSpec(name="sgd", lr=SGD_LR))
    want_log_p = log_probabilities(reference.forward(spec.model, weights, X), spec.model.loss)
    want_step = reference.trajectory(sgd.model, weights, [(X, y)], sgd.optimizer, unbiased_variance=True)[0]
    arrays = {"X": X, "y": y, **{f"w/{k}": v for k, v in weights.items()}}
    rows = []
    for name in frameworks:
        if missing_packages(name):
            rows.append([name, "-", "-", "-", f"skipped: not installed: {', '.join(missing_packages(name))}"])
            continue
        request = {"spec": spec_to_json(sgd), "precision": precision, "threads": threads,
                   "device": row_device(name, device),
                   "model": engine(name).spec_model}  # fmt: skip
        try:
            facts, out = ask(answer, name, request, arrays, threads=threads)
        except AskError as exc:
            rows.append([name, "-", "-", "-", f"ERROR ({exc.kind}): {str(exc).split(': ', 1)[-1]}"])
            continue
        if "skipped" in facts:
            rows.append([name, "-", "-", "-", f"skipped: {facts['skipped']}"])
            continue
        forward = _rel(log_probabilities(out["logits"], spec.model.loss), want_log_p)
        # BatchNorm moving statistics are left out: their update convention differs by framework (the main check's)
        keys = [k for k in want_step if "moving" not in k]
        step = max((_rel(out[f"w/{k}"], want_step[k]) for k in keys), key=lambda v: (np.isnan(v), v))
        for item, measure, tol in (("forward log-probabilities", forward, forward_tol), ("weights after 1 SGD step", step, step_tol)):
            status = "OK" if measure <= tol else "FAIL"  # a NaN is FAIL too
            rows.append([name, item, f"{measure:.2e}", f"{tol:g}", status])
    return rows


def mixed_table(spec: TaskSpec, precision: str, frameworks: list[str], X: np.ndarray, y: np.ndarray, weights: Weights,
                device: str = "cpu") -> tuple[str, bool]:  # fmt: skip
    """The table as text (title, tolerances, rows) and whether any row is FAIL or ERROR (a framework not checked)."""
    rows = mixed_rows(spec, precision, frameworks, X, y, weights, device)
    forward_tol, step_tol = MIXED_TOLERANCES[precision]
    title = (f"Mixed precision ({precision}, {device}) vs the float64 reference: max relative difference; "
             f"tolerances: forward {forward_tol:g}, one step {step_tol:g}")  # fmt: skip
    table = tabulate(rows, headers=["framework", "comparison", "max rel", "tol", "status"], disable_numparse=True)
    return f"{title}\n\n{table}\n", any(r[-1] == "FAIL" or r[-1].startswith("ERROR") for r in rows)
