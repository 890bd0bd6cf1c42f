"""Runs one (task, framework, model) in the current process and measures it.

All timing and metrics live here, in shared code, so every framework is measured the same way:
adapters only build, train, predict and hand back weights. A row is a `Network` (trained epoch by
epoch on the shared batch order) or a `Baseline` (one `fit`), as the adapter's `create` returns.

A row is `diverged` when an epoch's mean training loss is not finite, or is above
DIVERGED_FACTOR x ln(num_classes): five times the loss of a uniform guess (11.5 for ten classes,
3.5 for two), near which every run starts with these initialisations. Training stops at that
epoch and the model is not evaluated. (MLPClassifier clips probabilities at float32 epsilon, so its
loss cannot pass ~15.9: the factor is kept low enough to catch it.)
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np
from tqdm import tqdm

from frameworks.base import DEFAULT_MODES, DEVICE_VAR, RunSettings, load_adapter_module, missing_packages
from tasks.flops import train_flops
from tasks.init import init_weights
from tasks.pipeline import Dataset, accuracy, epoch_order, mean_loss, subset
from tasks.spec import TaskSpec, epoch_lr
from tasks.user_data import load_task_data
from workbench.process.adapters import determinism, precision_unsupported
from workbench.process.ask import load_function
from workbench.process.lines import one_line
from workbench.process.timing import DRY_RUN_LATENCY_CALLS, LATENCY_CALLS, latency_ms
from workbench.run.augmentation import epoch_images
from workbench.run import machine_load
from workbench.run.hardware import saved_peak
from workbench.run.request import RunRequest
from workbench.run.result import ArtifactRecord, EpochRecord, RunResult

DIVERGED_FACTOR = 5.0  # an epoch's training loss above this x ln(num_classes) is diverged (see the docstring)


def load_data(request: RunRequest, spec: TaskSpec) -> Dataset:
    """The task's prepared data, cut to the subsets or to one batch for a dry run."""
    data = load_task_data(request.task, spec, request.data_dir)  # a spec file's data, or the task's own
    if request.dry_run:
        n = min(spec.train.batch_size, request.subset or spec.train.batch_size)
        return subset(data, n, n)
    return subset(data, request.subset, request.test_subset) if request.subset or request.test_subset else data


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_one(request: RunRequest) -> RunResult:
    """Import, load, build, train, evaluate and time one row. Failures become statuses."""
    spec = request.task_spec()
    result = RunResult(task=request.task, framework=request.framework, model=request.model,
                       threads=request.settings.threads, dtype=request.settings.dtype, seed=spec.train.seed,
                       target_accuracy=spec.target_accuracy, tf32=request.settings.tf32,
                       precision=request.settings.precision, mode=request.settings.mode)  # fmt: skip
    missing = missing_packages(request.framework)
    if missing:
        result.status, result.message = "skipped", f"not installed: {', '.join(missing)}"
        return result
    module, settings, reason = _configured_adapter(request, result)
    if reason:
        result.status, result.message = "skipped", reason
        return result

    start = time.perf_counter()
    data = load_data(request, spec)
    result.data_s = time.perf_counter() - start
    result.dataset, result.data_warnings = data.describe(), list(data.warnings)
    result.train_samples, result.test_samples = len(data.y_train), len(data.y_test)

    start = time.perf_counter()
    row = module.create(spec, settings, request.model)
    result.model = row.model_label
    network = row.kind == "network"
    result.batch_size = spec.train.batch_size if network else None  # a one-shot baseline takes no steps of the spec's
    reason = (module.unsupported(spec) or mode_unsupported(module, spec, settings.mode)) if network else None
    if request.import_weights and not network:
        reason = "--import-weights starts the spec network; a one-shot baseline has no such weights"
    if reason:  # e.g. an optimizer the framework cannot express: a row that says so, not a wrong number
        result.status, result.message = "skipped", reason
        return result
    augment, note = epoch_images(module, spec, settings, data) if network else (None, "")
    if network and augment is None and note:  # --augment native where the framework has none
        result.status, result.message = "skipped", note
        return result
    if not network and spec.data.augment.mode != "off":
        note = "not augmented: a one-shot baseline fits the plain training arrays"
    result.message = "; ".join(m for m in (result.message, note, eps_placement_note(module, spec) if network else "") if m)
    if network:
        row.build(_start_weights(request, spec))
        row.set_train_data(data.X_train, data.y_train)
    else:
        row.build()
    result.build_s = time.perf_counter() - start

    predict = _predictor(row, data)
    _train(row, spec, data, result, predict, settings.progress, augment)
    result.model = row.model_label  # a baseline's label says if it trained on a subset
    result.params = row.num_params()
    result.compilations = row.compilations() if hasattr(row, "compilations") else None
    _efficiency(spec, result, settings.threads, network, settings.precision)
    if result.status == "ok":
        # a network's test loss is its spec loss; a baseline's, the cross-entropy of its scores
        _evaluate(predict, data, result, calls=latency_calls(request), loss_kind=spec.model.loss if network else None)
        if not network and result.test_acc >= spec.target_accuracy:
            result.time_to_target_s = result.train_s
        if request.export_dir:
            result.exports = _exports(module, row, spec, data, request, settings, network)
    result.peak_rss_mb = _peak_rss_mb()
    result.peak_gpu_mb = module.peak_gpu_mb() if settings.device == "cuda" else None
    return result


def _configured_adapter(request: RunRequest, result: RunResult) -> tuple[ModuleType, RunSettings, str]:
    """Import and configure the row's adapter (timed); the settings on the device it really runs on, and why the row
    is skipped ("" if it is not): a dtype or precision the adapter declares it cannot compute."""
    settings = request.settings
    if settings.device != "auto":
        os.environ[DEVICE_VAR] = settings.device  # for frameworks that choose their device at import
    start = time.perf_counter()
    module = load_adapter_module(request.framework)
    result.import_s = time.perf_counter() - start
    result.version = module.version()
    kind = module.configure(settings)  # "cpu" or "cuda": the device it really runs on
    settings = replace(settings, device=kind)
    result.device = device_label(kind, module.devices() if hasattr(module, "devices") else [kind])  # a plugin may not say
    result.determinism = determinism(module, kind)
    modes = getattr(module, "MODES", DEFAULT_MODES)
    settings = replace(settings, mode=settings.mode or next(iter(modes)))  # "": the engine's default mode
    result.mode = settings.mode
    if settings.mode not in modes:
        return module, settings, f"{request.framework} has no {settings.mode} mode: its modes are {', '.join(modes)}"
    computed = module.DTYPES.get(settings.dtype)
    if computed is None:
        return module, settings, f"{request.framework} does not compute in {settings.dtype}"
    reason = precision_unsupported(module, kind, settings.precision)
    if reason:
        return module, settings, f"--precision {settings.precision} on {kind}: {reason}"
    if computed != settings.dtype:  # e.g. Keras on JAX: float64 layers compute in float32, silently
        result.message = f"computes {settings.dtype} in {computed}"
    return module, settings, ""


def _train(row, spec: TaskSpec, data: Dataset, result: RunResult, predict, progress: bool, augment) -> None:  # noqa: ANN001
    """A network epoch by epoch, or a baseline's one fit; the first warning becomes the row's note if it has none."""
    before = machine_load.sample()  # the busy-machine guard: what else ran while this row was timed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if row.kind == "network":
            _train_epochs(row, spec, data, result, predict, progress, augment)
        else:
            start = time.perf_counter()
            result.epochs = row.fit(data.X_train, data.y_train, data.train_texts)
            result.train_s = time.perf_counter() - start
            result.throughput = len(data.y_train) / result.train_s if result.train_s else None
    load = machine_load.between(before, machine_load.sample())
    result.other_cores, result.load_avg = load.other_cores, load.load1
    if load.other_cores is not None:
        result.timing, result.timing_note = ("noisy" if load.noisy else "quiet"), load.reason
    if caught and not result.message:  # e.g. "lbfgs failed to converge": a note in the table
        result.message = f"{caught[0].category.__name__}: {str(caught[0].message).splitlines()[0]}"


def mode_unsupported(module: ModuleType, spec: TaskSpec, mode: str) -> str | None:
    """Why the adapter cannot run this spec's network in `mode` (its optional mode_unsupported), or None."""
    check = getattr(module, "mode_unsupported", None)
    return check(spec, mode) if check is not None else None


def device_label(kind: str, seen: list[str]) -> str:
    """The row's device as its adapter names it: "cpu", or its first CUDA device, e.g. "cuda:0 NVIDIA H200"."""
    if kind == "cpu":
        return "cpu"
    return next((d for d in seen if d.startswith(f"{kind}:")), kind)


def eps_placement_note(module, spec: TaskSpec) -> str:  # noqa: ANN001 - an adapter module
    """The row's note where its framework cannot put the optimizer's eps where the spec does and trains with the placement
    it has (its EPS_STYLES), e.g. MLPClassifier's Adam on the uncorrected sqrt(v) for a spec that says corrected."""
    opt = spec.optimizer
    styles = getattr(module, "EPS_STYLES", {}).get(opt.name)
    if not styles or opt.eps_style in styles:
        return ""
    return f"{opt.name} eps placement '{styles[0]}', not the spec's '{opt.eps_style}': the only one this framework runs"


def latency_calls(request: RunRequest) -> int:
    """Batch-1 predictions timed for the row's latency figures (and its exports')."""
    return DRY_RUN_LATENCY_CALLS if request.dry_run else LATENCY_CALLS


def _start_weights(request: RunRequest, spec: TaskSpec) -> dict[str, np.ndarray]:
    """The canonical initial weights, or the checked contents of --import-weights (read by the planner's function)."""
    if request.import_weights:
        return load_function(request.load_weights)(Path(request.import_weights), spec.model, spec.name)
    return init_weights(spec.model, spec.init, spec.train.seed)


def _exports(module, row, spec: TaskSpec, data: Dataset, request: RunRequest, settings: RunSettings, network: bool) -> list[ArtifactRecord]:  # noqa: ANN001
    """--export: every artifact of a trained network and its reload check (the planner's function); any failure stays
    in its cell."""
    if not network:
        return [ArtifactRecord("-", status="skipped: a one-shot baseline has no spec weights to export")]
    try:
        export = load_function(request.export)
        return export(module, row, spec, data, Path(request.export_dir), request.framework, settings.threads,
                      settings.dtype, latency_calls=latency_calls(request))  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - e.g. the folder vanished: the trained row is kept
        return [ArtifactRecord("(export)", status=f"export failed: {one_line(exc)}")]


def _predictor(row, data: Dataset) -> Callable[[np.ndarray], np.ndarray]:  # noqa: ANN001
    """predict(X); a baseline also gets the raw texts matching X (the text baselines read them)."""
    if row.kind == "baseline":
        return lambda X: row.predict(X, data.test_texts[: len(X)] if data.test_texts else None)
    return row.predict


def _train_epochs(adapter, spec: TaskSpec, data: Dataset, result: RunResult, predict, progress: bool, augment=None) -> None:  # noqa: ANN001
    """Epoch loop: shared order, timing per epoch, evaluation after each, divergence check.

    augment(epoch, order): the epoch's augmented training images (--augment), made inside the epoch's time.
    """
    n, elapsed = len(data.y_train), 0.0
    result.epochs = 0  # --epochs 0 (imported weights, evaluated as they are) stays 0, not "-"
    for epoch in range(1, spec.train.epochs + 1):
        order = epoch_order(spec.train.seed, epoch, n)
        adapter.set_learning_rate(epoch_lr(spec, epoch))  # the schedule lives here, the same for all
        desc = f"{result.framework} {result.task} epoch {epoch}/{spec.train.epochs}"
        with tqdm(total=n, desc=desc, unit="sample", file=sys.stderr, disable=not progress, leave=False) as bar:
            start = time.perf_counter()
            if augment is not None:
                adapter.set_train_data(augment(epoch, order), data.y_train)
            train_loss = adapter.fit_epoch(order, bar.update)
            seconds = time.perf_counter() - start
        elapsed += seconds
        result.epochs, result.train_loss, result.train_s = epoch, train_loss, elapsed
        if not math.isfinite(train_loss):
            result.status, result.message = "diverged", f"training loss became {train_loss} in epoch {epoch}"
            break
        limit = DIVERGED_FACTOR * math.log(max(spec.data.num_classes, 2))
        if train_loss > limit:
            result.status = "diverged"
            result.message = (f"training loss {train_loss:.3g} in epoch {epoch} is above {limit:.3g} "
                              f"({DIVERGED_FACTOR:g} x ln {max(spec.data.num_classes, 2)}, a uniform guess's loss)")
            break
        logits = predict(data.X_test)
        test_acc = accuracy(logits, data.y_test)
        result.history.append(EpochRecord(epoch, train_loss, mean_loss(logits, data.y_test, spec.model.loss), test_acc, seconds, elapsed))
        if result.time_to_target_s is None and test_acc >= spec.target_accuracy:
            result.time_to_target_s = elapsed
    times = [h.seconds for h in result.history]
    if times:
        result.first_epoch_s = times[0]
        result.steady_epoch_s = statistics.median(times[1:]) if len(times) > 1 else times[0]
        result.throughput = n / result.steady_epoch_s if result.steady_epoch_s else None


def _efficiency(spec: TaskSpec, result: RunResult, threads: int, epochwise: bool, precision: str = "fp32") -> None:
    """Achieved training GFLOP/s from the analytic count, its share of the matmul peak of the row's own device and
    precision (none measured: no share), compile time."""
    if not epochwise or not result.throughput:
        return  # FLOPs are counted for the spec's network, not for baselines
    result.train_gflops = train_flops(spec.model) * result.throughput / 1e9
    peak = saved_peak(threads, result.device, precision)
    result.peak_pct = 100 * result.train_gflops / peak if peak else None
    if result.first_epoch_s is not None and len(result.history) > 1:
        result.compile_s = max(result.first_epoch_s - result.steady_epoch_s, 0.0)


def _evaluate(predict, data: Dataset, result: RunResult, calls: int, loss_kind: str | None = None) -> None:  # noqa: ANN001
    """Test loss and accuracy, full-test-set inference time and batch-1 latency."""
    start = time.perf_counter()
    logits = predict(data.X_test)
    result.infer_s = time.perf_counter() - start
    result.infer_throughput = len(data.y_test) / result.infer_s if result.infer_s else None
    result.test_loss, result.test_acc = mean_loss(logits, data.y_test, loss_kind), accuracy(logits, data.y_test)
    result.latency_ms_p50, result.latency_ms_p95 = latency_ms(predict, data.X_test, calls)
