"""--executor ray on a real Ray cluster: two 1-CPU nodes on this machine, shared by every test here.

compare.py joins it with --ray-address, as on a real cluster. Rows are scikit-learn's and PyTorch's
dry runs, and the fault adapters of tests/fault_adapters/ through FRAMEBENCH_EXTRA_FRAMEWORKS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import ROOT, assert_one_line_error, default_sigint, run_cli
from test_faults import assert_no_traceback, fault_env

from workbench.run.result import load_results

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """One Ray cluster for the module: a head and a worker node of 1 CPU each."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c.address
    c.shutdown()


def ray_cli(address: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """compare.py --executor ray on the test cluster, one thread per row."""
    return run_cli("--executor", "ray", "--ray-address", address, "--threads", "1", *args, env=env)


@pytest.fixture(scope="module")
def two_node_run(cluster, tmp_path_factory):
    """sklearn (2 rows) and pytorch, 2 seeds: 6 dry-run rows of digits (no data folder needed) over the two nodes."""
    out = tmp_path_factory.mktemp("ray") / "results.json"
    proc = ray_cli(cluster, "--frameworks", "sklearn,pytorch", "--repeats", "2", "--dry-run", "--quiet",
                   "--task", "digits", "--output", str(out))  # fmt: skip
    return proc, out


def test_plan_end_to_end_on_ray(two_node_run):
    proc, out = two_node_run
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    rows = load_results(out)[1]
    assert len(rows) == 6 and all(r.status == "ok" for r in rows)
    assert [(r.framework, r.model_id, r.seed) for r in rows] == [  # saved in plan order, whatever the finish order
        ("sklearn", "logistic_regression", 0), ("sklearn", "MLPClassifier", 0), ("pytorch", "spec", 0),
        ("sklearn", "logistic_regression", 1), ("sklearn", "MLPClassifier", 1), ("pytorch", "spec", 1)]  # fmt: skip
    assert "Summary over seeds" in proc.stdout and "ties count half" in proc.stdout


def test_rows_are_dispatched_to_both_nodes(two_node_run):
    proc, out = two_node_run
    nodes = {r.node for r in load_results(out)[1]}
    assert len(nodes) == 2, nodes  # one CPU each and one thread per row: the second row must go to the other node
    timing_header = next(line for line in proc.stdout.splitlines() if line.startswith("framework") and "import s" in line)
    assert "node" in timing_header.split()  # the table shows where each row ran (a busy machine adds a timing column)
    assert all(node in proc.stdout for node in nodes)


def test_rows_that_need_more_cpus_than_any_node_are_refused(cluster):
    proc = run_cli("--executor", "ray", "--ray-address", cluster, "--threads", "2", "--frameworks", "sklearn", "--dry-run")
    assert_one_line_error(proc, 2, "--threads 2: no Ray node has 2 CPUs (the largest has 1)")


def test_unreachable_address_is_one_line(cluster):
    proc = run_cli("--executor", "ray", "--ray-address", "127.0.0.1:9", "--frameworks", "sklearn", "--dry-run")
    assert_one_line_error(proc, 2, "--ray-address 127.0.0.1:9: cannot reach a Ray cluster at", "Connection refused")


def test_without_ray_the_extra_is_named(tmp_path):
    fake = tmp_path / "ray"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")  # what a missing install raises
    proc = run_cli("--executor", "ray", "--dry-run", env={"PYTHONPATH": str(tmp_path)})
    assert_one_line_error(proc, 2, "--executor ray needs Ray, which is not installed: pip install .[ray]")


# ------------------------------------------------------------------ a killed child, Ctrl-C, then --resume


def _hanging_children() -> list[int]:
    """PIDs of live row processes whose request is for the `hangs` adapter."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"workbench.run.child" in argv:
                if '"framework": "hangs"' in Path(argv[argv.index(b"workbench.run.child") + 1].decode()).read_text():
                    found.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


SIGINT_EXIT_S = 60


@pytest.fixture(scope="module")
def interrupted_ray_run(cluster, tmp_path_factory):
    """sklearn (2 rows), a killed row and a hanging one on Ray; Ctrl-C once the other three are saved."""
    out = tmp_path_factory.mktemp("ray-interrupted") / "results.json"
    cmd = [sys.executable, str(ROOT / "compare.py"), "--executor", "ray", "--ray-address", cluster, "--threads", "1",
           "--frameworks", "sklearn,killed,hangs", "--dry-run", "--quiet", "--task", "digits",
           "--output", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **fault_env()}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=default_sigint)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len(json.loads(out.read_text())["results"]) >= 3:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        assert _hanging_children(), "the hanging row never started"
        os.killpg(proc.pid, signal.SIGINT)
        try:  # ~1 s, also under 3 CPU hogs (it hung only while pytest ran as a background job, without default_sigint)
            stdout, stderr = proc.communicate(timeout=SIGINT_EXIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(f"compare.py still ran {SIGINT_EXIT_S} s after Ctrl-C; its stderr ends: {stderr[-3000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), out, out.read_text()


def test_killed_child_is_crashed_and_the_others_finish(interrupted_ray_run):
    _, out, _ = interrupted_ray_run
    rows = {(r.framework, r.model_id): r for r in load_results(out)[1]}
    assert (rows[("killed", "spec")].status, rows[("killed", "spec")].message) == ("crashed", "child process killed by SIGKILL")
    assert [rows[("sklearn", m)].status for m in ("logistic_regression", "MLPClassifier")] == ["ok", "ok"]


def test_ctrl_c_cancels_the_running_rows_and_keeps_the_finished(interrupted_ray_run):
    proc, out, _ = interrupted_ray_run
    assert proc.returncode == 130, proc.stderr
    assert_no_traceback(proc)
    assert f"compare.py: interrupted; the finished rows are above and in {out}" in proc.stderr
    assert "hangs" not in proc.stdout and "logistic_regression" in proc.stdout
    assert [r.framework for r in load_results(out)[1]] == ["sklearn", "sklearn", "killed"]
    deadline = time.monotonic() + 20
    while _hanging_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _hanging_children(), "ray.cancel(force=True) left the hanging row's child running"


def test_resume_after_an_interrupted_ray_run(interrupted_ray_run, cluster, tmp_path):
    _, _, before = interrupted_ray_run
    path = tmp_path / "resumed.json"
    path.write_text(before)
    env = fault_env({"killed": "fault_adapters.working", "hangs": "fault_adapters.working"})  # both fixed now
    proc = run_cli("--resume", str(path), "--quiet", env=env)  # its saved flags: --executor ray on the cluster
    assert proc.returncode == 0, proc.stderr
    old, new = json.loads(before)["results"], json.loads(path.read_text())["results"]
    assert new[:2] == old[:2]  # the ok rows are kept as they were, not run again
    assert [(r["framework"], r["status"]) for r in new] == [("sklearn", "ok"), ("sklearn", "ok"), ("killed", "ok"),
                                                            ("hangs", "ok")]  # fmt: skip
    assert all(r["node"] for r in new)
