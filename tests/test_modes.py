"""Execution modes (issue 24): --mode and --compile, each engine's MODES, skipped rows for a mode an engine lacks,
compilation counts, the break-even column, old result files, and the compiled-mode check with an injected bug."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli
from frameworks.base import MODE_NAMES, RunSettings
from tasks import registry
from tiny_specs import MLP, tiny_task
from workbench.check.modes import judge_figure
from workbench.errors import UsageError
from workbench.options import Options
from workbench.plan import check_options, make_plan
from workbench.report.tables import break_even_steps, render
from workbench.run.driver import run_one
from workbench.run.meta import RunMeta
from workbench.run.request import make_request
from workbench.run.result import RunResult
from workbench.run.runner import same_row

TESTS = Path(__file__).resolve().parent


def test_compile_is_mode_eager_compiled_and_every_row_carries_its_mode():
    options = check_options(Options(task="digits", frameworks=("sklearn",), compile=True))
    assert options.mode == ("eager", "compiled")
    plan = make_plan(options)
    assert [(r.model, r.settings.mode) for r in plan.requests] == [
        ("logistic_regression", "eager"), ("logistic_regression", "compiled"),
        ("MLPClassifier", "eager"), ("MLPClassifier", "compiled"),
    ]  # fmt: skip
    default = make_plan(check_options(Options(task="digits", frameworks=("sklearn",))))
    assert [r.settings.mode for r in default.requests] == ["", ""]  # each engine's own default, resolved in its child


@pytest.mark.parametrize("options, fragment", [
    (Options(task="digits", mode=("fast",)), "unknown --mode 'fast'"),
    (Options(task="digits", mode=("eager", "eager")), "--mode names eager twice"),
    (Options(task="digits", mode=("compiled",), compile=True), "--compile means --mode eager,compiled"),
])  # fmt: skip
def test_bad_modes_are_one_line_usage_errors(options, fragment):
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(")):
        check_options(options)


def test_an_engine_without_the_asked_mode_is_a_skipped_row_naming_its_modes():
    request = make_request("digits", "sklearn", "logistic_regression", settings=RunSettings(threads=1, mode="compiled"))
    row = run_one(request)
    assert (row.status, row.mode) == ("skipped", "compiled")
    assert row.message == "sklearn has no compiled mode: its modes are eager"


def test_jax_runs_op_by_op_and_jitted_to_the_same_losses_and_counts_its_compilations():
    """Eager JAX is jax.disable_jit; the jitted step compiles once per batch shape: 4, 4, then the last 2 (twice)."""
    from frameworks import jax as engine
    from tasks.init import init_weights

    spec = tiny_task(MLP, batch_size=4)
    rng = np.random.default_rng(0)
    X, y = rng.random((10, 12)), rng.integers(0, 3, 10)
    losses, counts = {}, {}
    for mode in ("compiled", "eager"):
        settings = RunSettings(threads=1, mode=mode, progress=False)
        engine.configure(settings)
        network = engine.create(spec, settings)
        network.build(init_weights(spec.model, spec.init, 0))
        network.set_train_data(X, y)
        losses[mode] = network.fit_epoch(np.arange(10), lambda n: None)
        counts[mode] = network.compilations()
    assert counts == {"compiled": 2, "eager": None}
    np.testing.assert_allclose(losses["eager"], losses["compiled"], rtol=1e-5, atol=0)
    assert list(engine.MODES) == ["compiled", "eager"] and set(engine.MODES) <= set(MODE_NAMES)
    assert engine.mode_unsupported(spec, "eager") is None
    refusal = engine.mode_unsupported(registry.get("cifar10").spec, "eager")
    assert refusal.startswith("op-by-op JAX (--mode eager) is for small networks") and "\n" not in refusal
    assert engine.mode_unsupported(registry.get("cifar10").spec, "compiled") is None


def test_pytorch_compiles_the_optimizer_step_and_a_new_lr_recompiles_nothing():
    """The whole step compiled (model and Adam's update); the per-epoch lr is a tensor changed in place: float64
    losses equal eager's after the lr changes, and the graph count does not grow."""
    from frameworks import pytorch as engine
    from tasks.init import init_weights

    spec = tiny_task(MLP, batch_size=5)
    rng = np.random.default_rng(0)
    X, y = rng.random((10, 12)), rng.integers(0, 3, 10)
    losses, counts = {}, {}
    for mode in ("eager", "compiled"):
        settings = RunSettings(threads=1, mode=mode, dtype="float64", progress=False)
        engine.configure(settings)
        network = engine.create(spec, settings)
        network.build(init_weights(spec.model, spec.init, 0))
        network.set_train_data(X, y)
        first = network.fit_epoch(np.arange(10), lambda n: None)
        graphs = network.compilations()
        network.set_learning_rate(spec.optimizer.lr * 0.5)
        losses[mode] = [first, *(network.fit_epoch(np.arange(10), lambda n: None) for _ in range(2))]
        counts[mode] = (graphs, network.compilations())
    assert counts["eager"] == (None, None)
    assert counts["compiled"] == (2, 2), counts  # the model's graph and the optimizer's; none when the lr changes
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-12, atol=0)


def test_keras_xla_mode_runs_xla_and_graph_mode_keeps_op_determinism():
    """Keras runs jit_compile=True without XLA, silently, while TensorFlow's op determinism is on: the XLA row turns
    it off (and says so in its determinism line); the graph row keeps it."""
    code = (
        "from frameworks import keras as k; from frameworks.base import RunSettings; from tasks.init import init_weights;"
        "from tests.tiny_specs import MLP, tiny_task; from tensorflow.python.framework import config;"
        "spec = tiny_task(MLP)\n"
        "for mode in ('compiled', 'eager'):\n"
        "    s = RunSettings(threads=1, mode=mode, progress=False); k.configure(s); n = k.create(spec, s)\n"
        "    n.build(init_weights(spec.model, spec.init, 0)); print(mode, n.model.jit_compile, config.is_op_determinism_enabled())"
    )  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=TESTS.parent,
                          env={**os.environ, "KERAS_BACKEND": "tensorflow"}, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:2] == ["compiled True False", "eager False True"]
    assert "Proceeding with `jit_compile=False`" not in proc.stderr


def _timed(mode: str, compile_s: float, throughput: float) -> RunResult:
    return RunResult(task="digits", framework="pytorch", model=f"net ({mode})", model_id="spec", mode=mode,
                     compiled=mode == "compiled", compile_s=compile_s, throughput=throughput, batch_size=10)  # fmt: skip


def test_break_even_counts_the_steps_after_which_the_compiled_row_is_ahead():
    eager, compiled = _timed("eager", 0.1, 1000.0), _timed("compiled", 2.1, 2000.0)
    # 2.0 s more warm-up, 0.5 ms less per sample: 4,000 samples, 400 steps of 10
    assert break_even_steps(compiled, eager) == 400
    assert break_even_steps(_timed("compiled", 2.1, 900.0), eager) is None  # slower and later: never
    assert break_even_steps(_timed("compiled", 0.05, 1500.0), eager) == 0  # ahead from the start
    text = render(RunMeta(task="digits"), [eager, compiled])
    timings = text[text.index("Timings"):].splitlines()
    assert "break-even steps" in timings[2] and "compiles" in timings[2]
    assert timings[4].split()[-1] == "-" and timings[5].split()[-1] == "400"


def test_results_saved_before_modes_are_read():
    old = RunResult.from_dict({"task": "digits", "framework": "pytorch", "model": "m", "compiled": True})
    assert (old.mode, old.compilations, old.batch_size) == ("compiled", None, None)
    assert RunResult.from_dict({"task": "digits", "framework": "pytorch", "model": "m"}).mode == ""
    # --resume: a request for the engine's default mode ("") matches the saved row that names it
    assert same_row(("jax", "spec", 0, "", ()), ("jax", "spec", 0, "compiled", ()))
    assert not same_row(("jax", "spec", 0, "eager", ()), ("jax", "spec", 0, "compiled", ()))


def test_the_compiled_rule_allows_twice_eager_rounding_and_float64_its_tolerance():
    ref = np.linspace(-1.0, 1.0, 1000)
    eager = ref + 1e-5 * np.cos(np.arange(1000))  # rmse ~7.1e-6; bound 2 x 7.1e-6 + 1e-4 x 1 / 10 = 2.4e-5
    near, far = ref + 1.5e-5 * np.sin(np.arange(1000)), ref + 5e-5 * np.sin(np.arange(1000))  # rmse 1.1e-5, 3.5e-5
    ok = judge_figure("e", "float32", "logits", near, eager, ref, tol32=1e-4, tol64=1e-10, downcast=False)
    bad = judge_figure("e", "float32", "logits", far, eager, ref, tol32=1e-4, tol64=1e-10, downcast=False)
    assert ok.status == "OK" and bad.status == "FAIL" and bad.bound == pytest.approx(2 * ok.eager_err + 1e-5)
    exact = judge_figure("e", "float64", "logits", ref + 1e-12, ref, ref, tol32=1e-4, tol64=1e-10, downcast=False)
    assert exact.status == "OK" and exact.bound == 1e-10
    assert judge_figure("e", "float64", "logits", ref + 1e-9, ref, ref, 1e-4, 1e-10, downcast=False).status == "FAIL"


def test_a_compiled_only_bug_passes_the_eager_check_and_fails_the_compiled_one_with_exit_5():
    """tests/engines/pytorch_compiled_fused.py: relu(x + 1e-3) in the compiled path only."""
    env = {"FRAMEBENCH_EXTRA_FRAMEWORKS": "fusedbug=engines.pytorch_compiled_fused",
           "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    proc = run_cli("--task", "digits", "--check", "--mode", "compiled", "--frameworks", "fusedbug", "--threads", "1",
                   env=env, timeout=900)  # fmt: skip
    assert proc.returncode == 5, proc.stderr[-2000:]
    assert "result: no FAIL" in proc.stdout  # the eager mode is the real adapter
    compiled = proc.stdout[proc.stdout.index("Compiled against eager"):]
    assert "modes result: FAIL" in compiled and "Traceback" not in proc.stderr
    fails = [line.split()[:3] for line in compiled.splitlines() if line.endswith("FAIL") and line.startswith("fusedbug")]
    assert ["fusedbug", "float64", "logits"] in fails and ["fusedbug", "float32", "logits"] in fails
