"""benchmarks/overhead.py end to end, on a small real subset: both sides run, the ratio is printed, a failure is one line."""

from __future__ import annotations

import re
import subprocess
import sys

from cli_helpers import ROOT
from conftest_data import real_data_dir

OVERHEAD = [sys.executable, str(ROOT / "benchmarks" / "overhead.py"), "--task", "mnist", "--frameworks", "pytorch",
            "--threads", "1", "--device", "cpu"]  # fmt: skip


def test_overhead_alternates_and_prints_the_ratio():
    real_data_dir()
    proc = subprocess.run([*OVERHEAD, "--runs", "2", "--epochs", "2", "--subset", "1024"], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = re.findall(r"mnist pytorch run (\d): plain ([\d,]+) samples/s, workbench ([\d,]+)", proc.stdout)
    assert [r[0] for r in runs] == ["1", "2"] and all(float(v.replace(",", "")) > 0 for r in runs for v in r[1:])
    ratio = re.search(r"mnist pytorch: median plain [\d,]+, workbench [\d,]+ samples/s, ratio ([\d.]+) over 2", proc.stdout)
    assert ratio and float(ratio.group(1)) > 0, proc.stdout


def test_overhead_failed_run_is_one_line_not_a_traceback():
    real_data_dir()
    proc = subprocess.run([*OVERHEAD, "--runs", "1", "--epochs", "2", "--subset", "99999999"], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("overhead.py: ") and "failed" in lines[0], proc.stderr
