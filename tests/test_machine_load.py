"""The busy-machine guard reads real /proc figures: a busy neighbour is seen, the row's own work is not counted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.run.machine_load import CLOCK_TICKS, NOISY_OTHER_CORES, LoadSample, between, sample

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc")


def _neighbour() -> int:
    """The pid of a busy loop that is not this process's descendant (its parent shell has exited): another user's job."""
    shell = subprocess.run(["sh", "-c", f"{sys.executable} -c 'while True: pass' >/dev/null 2>&1 & echo $!"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(shell.stdout)


def test_a_busy_neighbour_marks_the_timing_noisy():
    neighbour = _neighbour()
    try:
        time.sleep(0.3)  # let it start
        before = sample()
        time.sleep(1.5)  # this process idles; the neighbour spins on a core
        after = sample()
    finally:
        os.kill(neighbour, signal.SIGKILL)
    load = between(before, after, cores=2)
    assert load.other_cores is not None and load.other_cores >= 0.7, load
    assert load.noisy and "other processes used" in load.reason and "of 2 cores" in load.reason


def test_the_rows_own_child_processes_are_its_own_work():
    """A row's subprocesses (e.g. torch.compile's compile workers) working while it is timed are not a busy machine:
    a live child that has spun for 0.6 s of CPU time, however loaded the machine, counts as this process's own time."""
    spin = "import time\nwhile time.process_time() < 0.6: pass\nprint('done', flush=True)\ntime.sleep(600)"
    before = sample()
    worker = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "done"  # it spun, and is still alive (asleep) for the sample
        after = sample()
    finally:
        worker.kill()
        worker.wait()
    own_s = (after.own_jiffies - before.own_jiffies) / CLOCK_TICKS
    assert own_s >= 0.5  # the live child's spin is counted as this process's own time ...
    busy_s = (after.busy_jiffies - before.busy_jiffies) / CLOCK_TICKS
    wall_s = after.wall_s - before.wall_s
    assert between(before, after).other_cores == pytest.approx(max(busy_s - own_s, 0) / wall_s, abs=1e-9)  # ... not others'


def test_own_work_is_not_counted_as_other_processes():
    before = sample()
    end = time.process_time() + 1.0
    while time.process_time() < end:  # this process spins for 1 s of CPU time, however busy the machine is
        pass
    after = sample()
    own_s = (after.own_jiffies - before.own_jiffies) / CLOCK_TICKS
    busy_s = (after.busy_jiffies - before.busy_jiffies) / CLOCK_TICKS
    assert own_s >= 0.9  # the spin was seen as this process's own time ...
    load = between(before, after)
    assert load.other_cores == pytest.approx(max(busy_s - own_s, 0) / (after.wall_s - before.wall_s), abs=1e-9)


def test_threshold_and_unknown_readings():
    quiet = between(LoadSample(0.0, 0, 0, 0, 0.1), LoadSample(10.0, 100, 90, 5, 0.2), cores=2)
    assert (quiet.noisy, quiet.reason) == (False, "") and quiet.involuntary_per_s == 0.5
    busy_jiffies = int(NOISY_OTHER_CORES * CLOCK_TICKS * 10) + 1  # just over the threshold, for 10 s
    noisy = between(LoadSample(0.0, 0, 0, 0, None), LoadSample(10.0, busy_jiffies, 0, 0, None), cores=2)
    assert noisy.noisy and "load average" not in noisy.reason
    unknown = between(LoadSample(0.0, None, None, 0, None), LoadSample(1.0, None, None, 0, None))
    assert (unknown.other_cores, unknown.noisy) == (None, False)


def test_a_row_timed_beside_a_busy_neighbour_says_so(tmp_path):
    """The driver records the guard's verdict in the row: JSON fields, the timings table's column and a note."""
    import json

    from cli_helpers import run_cli

    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]  # both cores taken
    try:
        done = run_cli("--task", "digits", "--frameworks", "sklearn", "--quiet", "--output", str(tmp_path / "r.json"))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["results"]
    assert rows and all(r["timing"] == "noisy" and r["other_cores"] >= NOISY_OTHER_CORES for r in rows)
    assert "timing noisy: 2 of 2 rows were timed while other processes used" in done.stdout and "  noisy" in done.stdout
