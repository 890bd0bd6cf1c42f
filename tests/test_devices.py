"""One device per comparison, --precision, the device column and the peak each row is divided by.

The rules are checked with faked GPU availability (this machine and CI have no GPU); the command-line runs are
real, on digits: `--device cuda` stops with one line, a precision a framework cannot run is a skipped row.
"""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import assert_one_line_error, run_cli

from workbench.options import Options
from workbench.plan import check_options, make_plan
from frameworks.base import RunSettings
from tasks import registry
from workbench.run import devices, driver, hardware
from workbench.run.devices import DeviceError, resolve, resolve_for
from workbench.run.result import RunResult

H200 = ["cpu", "cuda:0 NVIDIA H200"]


# ---------------------------------------------------------------- the rule, with faked availability


def test_auto_is_cuda_only_when_every_framework_sees_a_gpu():
    assert resolve("auto", {"pytorch": H200, "keras": H200}).device == "cuda"
    lacking = resolve("auto", {"pytorch": H200, "keras": ["cpu"], "jax": "jax: the child process ended"})
    assert lacking.device == "cpu"
    assert lacking.note == "auto -> cpu: no GPU seen by keras, jax"


def test_cpu_only_frameworks_do_not_hold_the_comparison_back():
    resolution = resolve("auto", {"pytorch": H200}, cpu_only=("sklearn",))
    assert resolution.device == "cuda" and "sklearn: CPU only, its rows run on cpu" in resolution.note
    assert resolve("auto", {}, cpu_only=("sklearn",)).device == "cpu"


def test_cuda_with_a_framework_without_gpu_is_one_error():
    with pytest.raises(DeviceError, match=r"--device cuda: no GPU seen by keras; use --device cpu"):
        resolve("cuda", {"pytorch": H200, "keras": ["cpu"]})
    with pytest.raises(DeviceError, match=r"jax \(jax: no answer after 300 s\)"):
        resolve("cuda", {"jax": "jax: no answer after 300 s"})
    assert resolve("cuda", {"pytorch": H200}).device == "cuda"
    assert resolve("cpu", {"pytorch": H200}).device == "cpu"  # asked for, kept


def test_resolve_for_asks_only_where_a_gpu_could_be(monkeypatch):
    asked = []
    monkeypatch.setattr(devices, "ask_devices", lambda names, threads=1: asked.append(names) or {n: H200 for n in names})
    monkeypatch.setattr(devices, "gpu_device_files", lambda: False)
    no_gpu = resolve_for("auto", ["pytorch", "sklearn"], cpu_only=("sklearn",))
    assert (no_gpu.device, asked) == ("cpu", [])  # no driver device node: nothing asked, cpu, said so
    assert "no GPU" in no_gpu.note
    monkeypatch.setattr(devices, "gpu_device_files", lambda: True)
    assert resolve_for("auto", ["pytorch", "sklearn"], cpu_only=("sklearn",)).device == "cuda"
    assert asked == [["pytorch"]]  # the CPU-only engine is not asked


def test_plan_puts_every_row_on_the_resolved_device():
    options = check_options(Options(task="digits", frameworks=("pytorch", "keras", "sklearn"), precision="bf16"))
    plan = make_plan(options, devices.Resolution("cuda", "auto -> cuda"))
    placed = {(r.framework, r.settings.device, r.settings.precision) for r in plan.requests}
    assert placed == {("pytorch", "cuda", "bf16"), ("keras", "cuda", "bf16"), ("sklearn", "cpu", "bf16")}
    assert plan.meta.device == "cuda" and plan.meta.precision == "bf16"


def test_device_label_is_the_adapters_own_name():
    assert driver.device_label("cuda", H200) == "cuda:0 NVIDIA H200"
    assert driver.device_label("cpu", H200) == "cpu"


# ---------------------------------------------------------------- % of peak: the row's own device and precision


def test_peak_of_the_rows_device_and_precision(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEBENCH_CACHE", str(tmp_path))
    hardware.save_peak(100.0, threads=2)
    hardware.save_gpu_peaks("cuda:0 NVIDIA H200", {"fp32": 50_000.0, "tf32": 400_000.0})
    hardware.save_peak(120.0, threads=2)  # measuring the CPU again keeps the GPU's figures
    assert hardware.saved_peak(2) == 120.0
    assert hardware.saved_peak(2, "cpu", "bf16") is None  # no CPU bf16 peak measured
    assert hardware.saved_peak(2, "cuda:0 NVIDIA H200", "tf32") == 400_000.0
    assert hardware.saved_peak(2, "cuda:0 NVIDIA H100", "fp32") is None  # another GPU's peak is not this one's
    spec = registry.get("digits").spec
    for device, precision, peak in (("cpu", "fp32", 120.0), ("cuda:0 NVIDIA H200", "fp32", 50_000.0),
                                    ("cuda:0 NVIDIA H200", "bf16", None), ("cuda:0 NVIDIA H100", "fp32", None)):
        row = RunResult(task="digits", framework="f", model="spec", device=device, throughput=1e6)
        driver._efficiency(spec, row, threads=2, epochwise=True, precision=precision)
        expected = None if peak is None else 100 * row.train_gflops / peak
        assert row.peak_pct == expected, (device, precision)  # a GPU row never gets the CPU's peak


# ---------------------------------------------------------------- the command line, real runs on digits


def test_device_cuda_without_gpu_is_one_line(tmp_path):
    proc = run_cli("--task", "digits", "--frameworks", "pytorch,sklearn", "--device", "cuda", "--output", str(tmp_path / "r.json"))
    # sklearn is CPU-only (not asked, not blamed); torch is asked in a child and sees no GPU
    assert_one_line_error(proc, 2, "--device cuda: no GPU seen by pytorch")
    assert not (tmp_path / "r.json").exists()  # stopped before any row


@pytest.mark.parametrize("framework, model, precision, reason", [
    ("pytorch", "spec", "tf32", "TF32 is a CUDA matmul mode (Ampere and newer GPUs)"),
    ("pytorch", "spec", "fp16", "float16 autocast on the CPU: no float16 LSTM in oneDNN"),
    ("sklearn", "logistic_regression", "bf16", "no mixed precision: NumPy has no bfloat16 matmul"),
])  # fmt: skip
def test_precision_a_framework_cannot_run_is_a_skipped_row(framework, model, precision, reason):
    """A real row on digits (the driver in this process): skipped right after configure, with the adapter's reason."""
    settings = RunSettings(device="cpu", threads=1, precision=precision, tf32=precision == "tf32", progress=False)
    row = driver.run_one(driver.RunRequest(task="digits", framework=framework, model=model, dry_run=True, settings=settings))
    assert (row.status, row.precision, row.device) == ("skipped", precision, "cpu")
    assert row.message.startswith(f"--precision {precision} on cpu: {reason}"), row.message


def test_bf16_on_cpu_trains_in_torch_and_shows_its_device(tmp_path):
    """bf16 trains with torch.autocast on the CPU (to the target in 4 epochs); the device column, table and JSON."""
    out = tmp_path / "r.json"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--precision", "bf16", "--epochs", "4", "--quiet",
                   "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    row = json.loads(out.read_text())["results"][0]
    assert (row["status"], row["device"], row["precision"]) == ("ok", "cpu", "bf16")
    assert row["test_acc"] >= registry.get("digits").spec.target_accuracy
    header, table = proc.stdout.split("\n\n")[:2]
    assert "precision: bf16 (mixed precision" in header and "device choice: auto -> cpu" in header
    assert table.splitlines()[0].split()[:4] == ["framework", "model", "mode", "device"]
    assert re.search(r"nn\.Module \+ explicit loop\s+eager\s+cpu", table), table


# ---------------------------------------------------------------- --check --precision: the mixed-precision table


def test_mixed_precision_check_passes_torch_bf16_and_fails_a_wrong_weight(monkeypatch):
    """torch.autocast bf16 on the CPU is within its stated tolerance; the same network with a 5 % wrong output
    kernel (tests/engines/pytorch_wrong_weight.py, through the plugin hook) is FAIL."""
    import os
    from pathlib import Path

    from workbench.check.equivalence import check_weights, default_config, task_inputs
    from workbench.check.mixed import MIXED_TOLERANCES, mixed_rows

    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("FRAMEBENCH_EXTRA_FRAMEWORKS", "wrong=engines.pytorch_wrong_weight")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH", "")) if p))
    spec = registry.get("digits").spec
    config = default_config(spec)
    X, y, _ = task_inputs("digits", None, config.batch_size, config.seed)
    rows = mixed_rows(spec, "bf16", ["pytorch", "wrong"], X, y, check_weights(spec, config.seed))
    status = {(r[0], r[1]): r[4] for r in rows}
    assert status == {("pytorch", "forward log-probabilities"): "OK", ("pytorch", "weights after 1 SGD step"): "OK",
                      ("wrong", "forward log-probabilities"): "FAIL", ("wrong", "weights after 1 SGD step"): "FAIL"}, rows
    assert all(float(r[2]) > 0 for r in rows)  # bf16 really ran: not bit-identical to float64
    assert set(MIXED_TOLERANCES) == {"bf16", "fp16"}
