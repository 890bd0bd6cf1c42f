"""benchmarks/overhead.py end to end, on a small real subset: both sides run, the ratio is printed (refused when a run was
timed beside a busy process), a failure is one line; the transformer's plain scripts train."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from cli_helpers import ROOT
from conftest_data import real_data_dir

OVERHEAD = [sys.executable, str(ROOT / "benchmarks" / "overhead.py"), "--task", "mnist", "--frameworks", "pytorch",
            "--threads", "1", "--device", "cpu"]  # fmt: skip


def test_overhead_alternates_and_prints_the_ratio():
    real_data_dir()
    proc = subprocess.run([*OVERHEAD, "--runs", "2", "--epochs", "2", "--subset", "1024", "--allow-noisy"], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = re.findall(r"mnist pytorch run (\d): plain ([\d,]+) samples/s, workbench ([\d,]+)", proc.stdout)
    assert [r[0] for r in runs] == ["1", "2"] and all(float(v.replace(",", "")) > 0 for r in runs for v in r[1:])
    ratio = re.search(r"mnist pytorch: median plain [\d,]+, workbench [\d,]+ samples/s, ratio ([\d.]+) over 2", proc.stdout)
    assert ratio and float(ratio.group(1)) > 0, proc.stdout


def test_overhead_failed_run_is_one_line_not_a_traceback():
    real_data_dir()
    # the plain script trains 256 samples (it evaluates nothing); the workbench's run then refuses its --test-subset
    proc = subprocess.run([*OVERHEAD, "--runs", "1", "--epochs", "2", "--subset", "256", "--test-subset", "99999999", "--allow-noisy"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("overhead.py: the workbench's pytorch run failed (exit 2)"), proc.stderr
    assert "--test-subset 99999999 is larger than the 10000 test samples" in lines[0], lines[0]


def test_overhead_refuses_a_ratio_timed_beside_a_busy_process():
    """A busy loop on one core while both sides run: the runs print, the ratio is refused in one line, exit 6."""
    real_data_dir()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        proc = subprocess.run([*OVERHEAD, "--runs", "1", "--epochs", "2", "--subset", "512"], capture_output=True, text=True,
                              timeout=600)  # fmt: skip
    finally:
        busy.kill()
        busy.wait()
    assert re.search(r"mnist pytorch run 1: plain [\d,]+ samples/s, workbench [\d,]+", proc.stdout), proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 6 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("overhead.py: no ratio for mnist pytorch") and "cores" in lines[0], lines[0]
    assert "ratio" not in proc.stdout


def test_transformer_plain_scripts_train():
    """benchmarks/plain's transformer scripts (overhead.py --model transformer): nn.TransformerEncoder, keras-io style."""
    real_data_dir()
    for engine in ("pytorch", "keras"):
        script = ROOT / "benchmarks" / "plain" / f"sentiment_transformer_{engine}.py"
        proc = subprocess.run([sys.executable, str(script), "--epochs", "2", "--subset", "128", "--threads", "1"],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        reply = json.loads(proc.stdout.strip().splitlines()[-1])
        assert len(reply["epoch_seconds"]) == 2 and reply["throughput"] > 0, reply


def test_overhead_refuses_a_variant_without_plain_scripts():
    proc = subprocess.run([*OVERHEAD[:3], "sentiment", "--model", "gru", "--frameworks", "pytorch"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no plain script of sentiment --model gru for pytorch" in proc.stderr.strip().splitlines()[-1], proc.stderr


def test_compile_profile_prints_both_modes():
    """benchmarks/compile_profile.py: the steady epoch and the profiler's operator table, eager and compiled."""
    done = subprocess.run([sys.executable, "benchmarks/compile_profile.py", "--task", "digits", "--samples", "640",
                           "--repeats", "1", "--rows", "5"], cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"=== digits eager: steady epoch [\d.]+ s", done.stdout)
    assert re.search(r"=== digits compiled: steady epoch [\d.]+ s", done.stdout)
    assert "aten::" in done.stdout and "Torch-Compiled Region" in done.stdout  # the compiled mode really ran compiled


def test_keras_xla_profile_shows_xla_running_only_in_the_compiled_mode():
    """benchmarks/keras_xla_profile.py: TensorFlow's trace of one epoch per mode; XLA's CPU executable runs only in
    the compiled (XLA) mode, the graph mode runs TensorFlow's kernels."""
    done = subprocess.run([sys.executable, "benchmarks/keras_xla_profile.py", "--task", "digits", "--samples", "320",
                           "--repeats", "1", "--rows", "40"], cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    eager, compiled = done.stdout.split("=== digits keras compiled")
    assert re.search(r"=== digits keras eager .*steady epoch [\d.]+ s .* ms per step", eager)
    assert "CpuExecutable" not in eager and "CpuExecutable::ExecuteAsyncOnStream" in compiled


@pytest.mark.parametrize("flag", [["--lengths", "abc"], ["--lengths", "0,5"], ["--modes", "fast"]])
def test_rnn_compile_benchmark_refuses_bad_flags_in_one_line(flag):
    """benchmarks/keras_torch_rnn_compile.py: a bad --lengths or --modes is argparse's one line and exit 2, before any
    framework starts."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "keras_torch_rnn_compile.py"), *flag],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "invalid" in done.stderr.strip().splitlines()[-1] and flag[1] in done.stderr
