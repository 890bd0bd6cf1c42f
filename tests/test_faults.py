"""Fault injection: every bad input and run fault ends in one clear line or one row, never a traceback or lost rows.

The run faults come from the adapters in tests/fault_adapters/, registered for the child
processes through the FRAMEBENCH_EXTRA_FRAMEWORKS plugin hook. Real rows are scikit-learn's
(it imports in about a second) on the `digits` task (bundled with scikit-learn, so no data folder
is needed) with --subset or --dry-run.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import ROOT, assert_one_line_error, default_sigint, run_cli

import compare
from workbench.run import execute, runner
from workbench.run.result import RunResult, load_results, row_key
from workbench.run.resume import kept_rows

TESTS = Path(__file__).resolve().parent
FAULTS = {  # name in the table -> adapter module in tests/fault_adapters/
    "noimport": "fault_adapters.import_fails",
    "missing": "fault_adapters.not_there",
    "raises": "fault_adapters.raises_in_build",
    "killed": "fault_adapters.killed",
    "exits": "fault_adapters.hard_exit",
    "hangs": "fault_adapters.hangs",
    "nan": "fault_adapters.nan_loss",
}
WORKING = {"works": "fault_adapters.working"}  # a fault-free adapter: a fast ok row without a framework import
TIMEOUT_S = 15  # generous: the real rows must finish well inside it on a loaded machine


def fault_env(overrides: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """Environment registering the fault adapters (`overrides` remaps names, e.g. to the working adapter)."""
    mapping = {**FAULTS, **WORKING, **(overrides or {})}
    return {
        "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p),
        "FRAMEBENCH_EXTRA_FRAMEWORKS": ",".join(f"{k}={v}" for k, v in mapping.items()),
        **extra,
    }


def assert_no_traceback(proc) -> None:  # noqa: ANN001
    """Neither stream shows a Python traceback."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


def rows_by_framework(path: Path) -> dict[str, list[RunResult]]:
    """The rows saved in a results file, grouped by framework."""
    grouped: dict[str, list[RunResult]] = {}
    for r in load_results(path)[1]:
        grouped.setdefault(r.framework, []).append(r)
    return grouped


# ------------------------------------------------------------------ bad flags and inputs: one line, exit 2 or 3


def _resume_file(tmp_path: Path, argv: list[str]) -> Path:
    path = tmp_path / "saved.json"
    path.write_text(json.dumps({"meta": {"task": "mnist", "argv": argv}, "results": []}))
    return path


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--list", "--task", "mnist"], ["--list cannot be combined with --task"]),
        (["--list", "--epochs", "2"], ["--list cannot be combined with --epochs"]),
        (["--in-process", "--timeout", "5"], ["--timeout cannot be enforced with --in-process"]),
        (["--output", str(ROOT)], ["--output", "is a folder"]),
        (["--data-dir", str(ROOT / "compare.py")], ["--data-dir", "compare.py is not a folder"]),
        (["--resume", "/no/such/run.json"], ["--resume /no/such/run.json: no such file"]),
        (["--resume", str(ROOT / "compare.py")], ["compare.py is not a framebench results file"]),
    ],
)
def test_conflicting_and_bad_flags(args, fragments):
    assert_one_line_error(run_cli(*args), 2, *fragments)


def test_resume_rejects_a_json_file_without_a_saved_run(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"meta": {}, "results": []}))
    assert_one_line_error(run_cli("--resume", str(path)), 2, "not a framebench results file", "no saved task")


def test_resume_rejects_changed_settings(tmp_path):
    path = _resume_file(tmp_path, ["--frameworks", "sklearn", "--epochs", "2"])
    proc = run_cli("--resume", str(path), "--epochs", "3")
    assert_one_line_error(proc, 2, "--epochs 3 differs from the saved run's 2")


def test_resume_rejects_an_output_elsewhere(tmp_path):
    path = _resume_file(tmp_path, ["--frameworks", "sklearn"])
    proc = run_cli("--resume", str(path), "--output", str(tmp_path / "elsewhere.json"))
    assert_one_line_error(proc, 2, "differs from --resume", "saves back into its file")


def test_resume_rejects_settings_that_now_conflict(tmp_path):
    path = _resume_file(tmp_path, ["--frameworks", "sklearn", "--timeout", "30"])
    proc = run_cli("--resume", str(path), "--in-process")
    assert_one_line_error(proc, 2, "--timeout cannot be enforced with --in-process")


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("no equals sign", "'no equals sign' is not name=module.path"),
        ("pytorch=fault_adapters.working", "already a built-in"),
    ],
)
@pytest.mark.parametrize("command", ["--dry-run", "--list"])
def test_bad_plugin_variable_is_a_usage_error(value, fragment, command):
    proc = run_cli(command, env={"FRAMEBENCH_EXTRA_FRAMEWORKS": value})
    assert_one_line_error(proc, 2, "FRAMEBENCH_EXTRA_FRAMEWORKS", fragment)


def test_check_of_a_crashing_adapter_is_an_error_not_a_pass():
    """--check: an installed framework whose adapter raises is ERROR (with its kind) and fails the run with exit 5; a
    framework that is not installed stays "skipped" and fails nothing."""
    env = fault_env({"fails": "engines.pytorch_build_fails"})
    proc = run_cli("--task", "digits", "--check", "--threads", "1", "--frameworks", "fails,missing", env=env, timeout=300)
    assert proc.returncode == 5, proc.stderr[-2000:]
    assert "ERROR fails (not checked): adapter: RuntimeError: simulated build failure" in proc.stdout
    assert "skipped missing: not installed: fault_adapters.not_there" in proc.stdout
    assert "result: FAIL: not checked (error): fails" in proc.stdout and "no FAIL" not in proc.stdout
    assert_no_traceback(proc)


def test_explain_of_an_adapter_that_cannot_answer_is_an_error_with_exit_4():
    """--explain: the adapter of `raises` lacks the teaching functions (an AttributeError in its child), `noimport` fails to
    import: both are named ERROR with their kind, the missing one skipped, and the exit code is 4."""
    proc = run_cli("--task", "digits", "--explain", "--frameworks", "raises,noimport,missing", env=fault_env(), timeout=300)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "- ERROR (adapter) raises: AttributeError" in proc.stdout
    assert "- ERROR (import) noimport: ImportError: simulated" in proc.stdout
    assert "- missing: skipped, not installed (fault_adapters.not_there)" in proc.stdout
    assert_no_traceback(proc)


def test_subset_larger_than_the_data_is_a_usage_error(tmp_path):
    out = tmp_path / "out.json"
    proc = run_cli("--task", "digits", "--frameworks", "sklearn", "--subset", "100000", "--output", str(out))
    assert_one_line_error(proc, 2, "--subset 100000 is larger than the 1437 training samples of Digits")
    assert not out.exists()  # a usage error is not a result


def test_test_subset_larger_than_the_test_set_is_a_usage_error(tmp_path):
    out = tmp_path / "out.json"
    proc = run_cli("--task", "digits", "--frameworks", "sklearn", "--test-subset", "361", "--output", str(out))
    assert_one_line_error(proc, 2, "--test-subset 361 is larger than the 360 test samples of Digits")
    assert not out.exists()


def test_test_subset_evaluates_the_first_test_samples_and_says_so(tmp_path):
    """--test-subset N: every epoch's test loss and accuracy are over the first N test samples, and the row says so."""
    out = tmp_path / "out.json"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch", "--epochs", "2", "--test-subset", "50", "--quiet",
                   "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(out.read_text())["results"][0]
    assert (row["train_samples"], row["test_samples"]) == (1437, 50) and "1437 train / 50 test" in row["dataset"], row["dataset"]
    for epoch in row["history"]:  # an accuracy over 50 samples is a whole count of them
        assert abs(epoch["test_acc"] * 50 - round(epoch["test_acc"] * 50)) < 1e-9, row["history"]


def test_data_folder_that_is_a_file_through_the_environment(tmp_path):
    proc = run_cli("--frameworks", "sklearn", "--dry-run", env={"FRAMEBENCH_DATA": str(ROOT / "compare.py")})
    assert_one_line_error(proc, 3, "compare.py (from FRAMEBENCH_DATA) is a file, not a folder")


def test_bug_in_compare_is_one_line_with_exit_1(monkeypatch, capsys):
    def broken(argv=None):  # noqa: ANN001, ANN202
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(compare, "main", broken)
    monkeypatch.delenv("FRAMEBENCH_DEBUG", raising=False)
    assert compare.run_main() == 1
    err = capsys.readouterr().err
    hint = "(FRAMEBENCH_DEBUG=1 shows the traceback)"
    assert err.splitlines() == [f"compare.py: internal error: RuntimeError: simulated bug {hint}"]


# ------------------------------------------------------------------ run faults: each a row, the others complete


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory):
    """One comparison with scikit-learn and every fault adapter, two epochs on 256 samples, saved to a file."""
    out = tmp_path_factory.mktemp("faults") / "results.json"
    proc = run_cli(
        "--task", "digits", "--frameworks", ",".join(["sklearn", *FAULTS]), "--subset", "256", "--epochs", "2", "--quiet",
        "--timeout", str(TIMEOUT_S), "--output", str(out), env=fault_env(),
    )  # fmt: skip
    return proc, out


def test_fault_run_exits_4_without_traceback(fault_run):
    proc, _ = fault_run
    assert proc.returncode == 4, proc.stderr
    assert_no_traceback(proc)


@pytest.mark.parametrize(
    "framework, status, message",
    [
        ("noimport", "error", "ImportError: simulated: libfault.so: cannot open shared object file"),
        ("missing", "skipped", "not installed: fault_adapters.not_there"),
        ("raises", "error", "RuntimeError: simulated build failure: layer not supported"),
        ("killed", "crashed", "child process killed by SIGKILL"),
        ("exits", "crashed", "child process exited with code 3 and no result"),
        ("hangs", "timeout", f"no result after the {TIMEOUT_S} s --timeout"),
        ("nan", "diverged", "training loss became nan in epoch 2"),
    ],
)
def test_each_fault_is_a_row_with_its_status(fault_run, framework, status, message):
    proc, out = fault_run
    assert proc.returncode == 4
    assert_no_traceback(proc)
    [row] = rows_by_framework(out)[framework]  # saved on disk
    assert (row.status, row.message) == (status, message)
    assert f"{framework} / {row.model}: {status}: {message}" in proc.stdout  # the note under the table


def test_saved_results_are_strict_json(fault_run):
    """NaN and inf are not JSON: the file holds null instead, and the diverged row keeps its status and message."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in the results file")

    payload = json.loads(fault_run[1].read_text(), parse_constant=refuse)
    [row] = [r for r in payload["results"] if r["framework"] == "nan"]
    assert row["train_loss"] is None and row["status"] == "diverged" and "became nan" in row["message"]


def test_divergence_is_reported_at_its_epoch(fault_run):
    [row] = rows_by_framework(fault_run[1])["nan"]
    assert row.epochs == 2 and [h.epoch for h in row.history] == [1]  # epoch 1 finished, epoch 2 did not
    assert row.test_acc is None  # a diverged model is not evaluated


def test_the_real_rows_complete_beside_the_faults(fault_run):
    proc, out = fault_run
    rows = rows_by_framework(out)["sklearn"]
    assert [(r.model_id, r.status) for r in rows] == [("logistic_regression", "ok"), ("MLPClassifier", "ok")]
    assert all(r.test_acc > 0.3 and r.train_samples == 256 for r in rows)
    assert len(load_results(out)[1]) == 2 + len(FAULTS)  # every row saved, in plan order
    assert "logistic_regression" in proc.stdout and "MLPClassifier" in proc.stdout


# ------------------------------------------------------------------ Ctrl-C, then --resume


def _wait_for_rows(path: Path, count: int, proc: subprocess.Popen, limit_s: float = 120) -> None:
    """Poll the results file until it holds `count` rows (the run saves after every row)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "compare.py ended before the rows were saved"
        if path.exists() and len(json.loads(path.read_text())["results"]) >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"{path} never held {count} rows")


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """sklearn (2 rows), a failing row, then a hanging one; Ctrl-C to the whole process group once 3 rows are saved."""
    out = tmp_path_factory.mktemp("interrupted") / "results.json"
    cmd = [sys.executable, str(ROOT / "compare.py"), "--task", "digits", "--frameworks", "sklearn,raises,hangs",
           "--dry-run", "--quiet", "--output", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **fault_env()}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint)  # fmt: skip
    try:
        _wait_for_rows(out, 3, proc)
        time.sleep(0.5)  # let the hanging row's child start, so Ctrl-C reaches it as in a terminal
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = out.read_text()
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), out, before


def test_ctrl_c_exits_130_with_the_partial_table(interrupted_run):
    proc, out, _ = interrupted_run
    assert proc.returncode == 130, proc.stderr
    assert_no_traceback(proc)
    assert f"compare.py: interrupted; the finished rows are above and in {out}" in proc.stderr
    assert "logistic_regression" in proc.stdout and "raises / spec: error: RuntimeError" in proc.stdout
    assert "hangs" not in proc.stdout
    saved = load_results(out)[1]
    assert [(r.framework, r.status) for r in saved] == [("sklearn", "ok"), ("sklearn", "ok"), ("raises", "error")]


def test_resume_reruns_only_the_failed_and_missing_rows(interrupted_run, tmp_path):
    _, interrupted, before = interrupted_run
    path = tmp_path / "resumed.json"
    path.write_text(before)
    gate = tmp_path / "gate"
    gate.touch()  # the hanging adapter now finishes; `raises` is fixed by mapping it to the working adapter
    env = fault_env({"raises": "fault_adapters.working"}, FAULT_GATE=str(gate))
    proc = run_cli("--resume", str(path), "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    old, new = json.loads(before)["results"], json.loads(path.read_text())["results"]
    assert new[:2] == old[:2]  # the ok rows are kept as they were, not run again
    statuses = [(r["framework"], r["status"]) for r in new]
    assert statuses == [("sklearn", "ok"), ("sklearn", "ok"), ("raises", "ok"), ("hangs", "ok")]
    assert json.loads(path.read_text())["meta"]["argv"] == json.loads(before)["meta"]["argv"]


def _start_works_then_hangs(out: Path) -> subprocess.Popen:
    """compare.py with a fast ok row and then a hanging one, in its own process group."""
    cmd = [sys.executable, str(ROOT / "compare.py"), "--task", "digits", "--frameworks", "works,hangs", "--dry-run",
           "--quiet", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **fault_env()}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def _group_gone(pgid: int) -> bool:
    """True once no process of the group is left (the hanging child included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sigterm_to_compare_alone_kills_the_child_and_keeps_the_rows(tmp_path):
    out = tmp_path / "results.json"
    proc = _start_works_then_hangs(out)
    try:
        _wait_for_rows(out, 1, proc)
        proc.terminate()  # `kill PID`: only compare.py gets the signal, not the child
        stdout, stderr = proc.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while not _group_gone(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _group_gone(proc.pid), "the hanging child outlived compare.py"
    finally:
        if not _group_gone(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert "works" in stdout and "hangs" not in stdout
    assert [(r.framework, r.status) for r in load_results(out)[1]] == [("works", "ok")]


def test_compare_killed_outright_leaves_the_saved_rows_readable(tmp_path):
    out = tmp_path / "results.json"
    proc = _start_works_then_hangs(out)
    try:
        _wait_for_rows(out, 1, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no handler runs: only what was saved survives
        proc.communicate(timeout=60)
    assert [(r.framework, r.status) for r in load_results(out)[1]] == [("works", "ok")]
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no half-written temporary file left


# ------------------------------------------------------------------ saving fails mid-run: warn, keep going


def test_output_folder_removed_mid_run_warns_and_prints_the_table(tmp_path):
    folder, gate = tmp_path / "out", tmp_path / "gate"
    folder.mkdir()
    out = folder / "results.json"
    cmd = [sys.executable, str(ROOT / "compare.py"), "--task", "digits", "--frameworks", "works,hangs", "--dry-run",
           "--quiet", "--output", str(out)]  # fmt: skip
    env = {**os.environ, **fault_env(FAULT_GATE=str(gate))}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_rows(out, 1, proc)
        shutil.rmtree(folder)  # the folder disappears while the last row runs
        gate.touch()
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"framebench: warning: could not save results to {out}: No such file or directory; still running"
    ]
    assert "works" in stdout and "hangs" in stdout and stdout.count("fault adapter") == 4  # both rows, both tables


def _no_child(request, timeout_s):  # noqa: ANN001, ANN202
    raise AssertionError(f"row {request.framework}/{request.model} ran, but it was kept from the saved run")


def test_disk_full_while_saving_keeps_every_row(tmp_path, monkeypatch, capsys):
    """Unit level: save_results raising ENOSPC on the second row; the run goes on and returns all rows."""
    from frameworks.base import RunSettings
    from workbench.run.driver import RunRequest

    requests = [RunRequest(task="digits", framework="sklearn", model=m, settings=RunSettings()) for m in ("a", "b", "c")]
    kept = kept_rows([RunResult(task="digits", framework="sklearn", model=r.model, model_id=r.model, message="saved")
                      for r in requests])  # fmt: skip
    calls = []

    def save(path, meta, results):  # noqa: ANN001, ANN202
        calls.append(len(results))
        if len(results) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        (tmp_path / "saved").write_text(str(len(results)))

    monkeypatch.setattr(execute, "save_results", save)
    monkeypatch.setattr(runner, "run_in_child", _no_child)  # every row is kept: none may run
    plan = runner.RunPlan(requests=requests, output=tmp_path / "r.json", kept=kept)
    results = execute.run_plan(plan)
    assert [r.model for r in results] == ["a", "b", "c"] and calls == [1, 2, 3]
    assert all(r is kept[row_key("sklearn", r.model, 0)] for r in results)  # the saved rows themselves
    assert (tmp_path / "saved").read_text() == "3"  # the next save wrote every row, the missed one included
    assert capsys.readouterr().err.splitlines() == [
        f"framebench: warning: could not save results to {tmp_path / 'r.json'}: No space left on device; still running"
    ]


def test_kept_rows_are_matched_by_model_seed_and_variant(monkeypatch):
    """Unit level: of (a, seed 0), (a, seed 1), (a, seed 1, compiled), (b, seed 0), only the saved (a, seed 1) is kept."""
    from frameworks.base import RunSettings
    from workbench.run.driver import RunRequest

    rows = [("a", 0, False), ("a", 1, False), ("a", 1, True), ("b", 0, False)]
    requests = [RunRequest(task="digits", framework="sklearn", model=m, settings=RunSettings(seed=seed, mode="compiled" if c else ""))
                for m, seed, c in rows]  # fmt: skip
    saved = RunResult(task="digits", framework="sklearn", model="a", model_id="a", seed=1, message="from the saved run")
    failed = RunResult(task="digits", framework="sklearn", model="b", model_id="b", status="error")  # not ok: reruns
    ran = []

    def child(request, timeout_s):  # noqa: ANN001, ANN202
        ran.append((request.model, request.settings.seed, request.settings.mode == "compiled"))
        return RunResult(task="digits", framework="sklearn", model=request.model, seed=request.settings.seed)

    monkeypatch.setattr(runner, "run_in_child", child)
    results = execute.run_plan(runner.RunPlan(requests=requests, kept=kept_rows([saved, failed])))
    assert ran == [rows[0], rows[2], rows[3]]
    assert results[1] is saved and [r.model for r in results] == ["a", "a", "a", "b"]


def test_a_dry_run_starts_each_engine_once_and_a_death_fails_only_its_rows(tmp_path):
    """A dry run times nothing, so each engine runs all of its rows in one child (here 2 seeds each): only the first
    row's import time and peak memory are measured; a child that dies or hangs fails its own engine's rows only."""
    out = tmp_path / "results.json"
    proc = run_cli("--task", "digits", "--dry-run", "--repeats", "2", "--frameworks", "sklearn,killed,hangs", "--quiet",
                   "--timeout", "6", "--output", str(out), env=fault_env())  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert_no_traceback(proc)
    rows = rows_by_framework(out)
    assert [(r.model_id, r.seed, r.status) for r in rows["sklearn"]] == [
        ("logistic_regression", 0, "ok"), ("MLPClassifier", 0, "ok"), ("logistic_regression", 1, "ok"), ("MLPClassifier", 1, "ok")]
    assert rows["sklearn"][0].import_s is not None and [r.import_s for r in rows["sklearn"][1:]] == [None] * 3
    assert rows["sklearn"][0].peak_rss_mb and [r.peak_rss_mb for r in rows["sklearn"][1:]] == [None] * 3
    assert [(r.status, r.message) for r in rows["killed"]] == [("crashed", "child process killed by SIGKILL")] * 2
    assert [(r.status, r.message) for r in rows["hangs"]] == [("timeout", "no result after 2 x the 6 s --timeout")] * 2
