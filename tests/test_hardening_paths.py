"""Issue 22, items 2, 4, 8 and 9: nothing the workbench writes replaces a FIFO, a device node, a symbolic link or a
folder; a symlink loop or an out-of-range seed is a one-line usage error before any row runs; atomic writes keep a
file's mode and work for the longest names the file system takes. Real FIFOs, links and loops in tmp_path."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cli_helpers import assert_one_line_error, run_cli

from workbench.process.files import UnsafeTarget, atomic_write_text, target_problem

FAST = ("--task", "digits", "--frameworks", "sklearn", "--dry-run", "--quiet")


def _fifo(path):  # noqa: ANN001, ANN202
    os.mkfifo(path)
    return path


def _link(path, to):  # noqa: ANN001, ANN202
    path.symlink_to(to)
    return path


def test_target_problem_names_every_kind(tmp_path):
    (tmp_path / "plain.json").write_text("{}")
    assert target_problem(tmp_path / "plain.json") is None and target_problem(tmp_path / "missing.json") is None
    assert "FIFO" in target_problem(_fifo(tmp_path / "pipe.json"))
    assert "symbolic link (to" in target_problem(_link(tmp_path / "link.json", tmp_path / "plain.json"))
    assert target_problem(_link(tmp_path / "loop", tmp_path / "loop")) == "is a symbolic link loop"
    assert target_problem(tmp_path / "loop" / "inside.json") == "is a symbolic link loop"
    assert "folder" in target_problem(tmp_path)
    assert "character device" in target_problem("/dev/null")  # only looked at, never written


def test_atomic_write_refuses_a_fifo_and_a_link_and_leaves_them(tmp_path):
    pipe = _fifo(tmp_path / "pipe.json")
    target = tmp_path / "target.json"
    target.write_text("old")
    link = _link(tmp_path / "link.json", target)
    for path in (pipe, link):
        with pytest.raises(UnsafeTarget, match="not a regular file"):
            atomic_write_text(path, "new")
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode) and link.is_symlink() and target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "pipe.json", "target.json"]  # no temporary left


def test_atomic_write_keeps_the_mode_of_an_old_file_and_gives_a_new_one_the_umask_mode(tmp_path):
    old = tmp_path / "old.json"
    old.write_text("{}")
    old.chmod(0o644)
    atomic_write_text(old, "[]")
    assert stat.S_IMODE(old.stat().st_mode) == 0o644 and old.read_text() == "[]"
    umask = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.json", "{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_atomic_write_takes_the_longest_name_the_file_system_takes(tmp_path):
    longest = tmp_path / ("r" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 5) + ".json")
    atomic_write_text(longest, "{}")
    assert longest.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == [longest.name]


@pytest.mark.parametrize("flag, make, fragment", [
    ("--output", lambda d: _fifo(d / "out.json"), "is a FIFO (named pipe), not a regular file"),
    ("--output", lambda d: _link(d / "out.json", d / "elsewhere.json"), "is a symbolic link (to"),
    ("--output", lambda d: _link(d / "loop.json", d / "loop.json"), "is a symbolic link loop"),
    ("--output", lambda d: d / ("r" * (os.pathconf(d, "PC_NAME_MAX") - 4) + ".json"), "has a name too long for the file system"),
    ("--output", lambda d: d, "is a folder, not a regular file"),
    ("--plot", lambda d: _fifo(d / "c.png"), "is a FIFO"),
    ("--plot", lambda d: _link(d / "loop.png", d / "loop.png"), "is a symbolic link loop"),
    ("--plot", lambda d: (d / "c.png").mkdir() or d / "c.png", "is a folder, not a regular file"),
    ("--report", lambda d: _fifo(d / "report.md") and d, "report.md is a FIFO"),
    ("--report", lambda d: _link(d / "index.html", "/dev/null") and d, "index.html is a symbolic link (to /dev/null)"),
    ("--report", lambda d: _link(d / "loop", d / "loop"), "is a symbolic link loop"),
    ("--tensorboard", lambda d: _link(d / "loop", d / "loop"), "is a symbolic link loop"),
    ("--export", lambda d: _link(d / "loop", d / "loop"), "is a symbolic link loop"),
    ("--import-weights", lambda d: _link(d / "loop", d / "loop"), "is a symbolic link loop"),
    ("--data-dir", lambda d: _link(d / "loop", d / "loop"), "is a symbolic link loop"),
])  # fmt: skip
def test_special_paths_are_refused_in_one_line_before_any_row(tmp_path, flag, make, fragment):
    path = make(tmp_path)
    before = {p.name: os.lstat(p).st_mode for p in tmp_path.iterdir()}
    proc = run_cli(*FAST, flag, str(path))
    assert_one_line_error(proc, 2, f"{flag} {tmp_path}", fragment)
    assert {p.name: os.lstat(p).st_mode for p in tmp_path.iterdir()} == before  # nothing replaced, nothing added


def test_a_real_run_saves_to_a_long_name_and_keeps_an_old_file_mode(tmp_path):
    output = tmp_path / ("r" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 5) + ".json")
    output.write_text("{}")
    output.chmod(0o644)
    proc = run_cli("--task", "digits", "--frameworks", "sklearn", "--epochs", "1", "--quiet", "--output", str(output))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o644
    assert [r["status"] for r in json.loads(output.read_text())["results"]] == ["ok", "ok"]
    assert [p.name for p in tmp_path.iterdir()] == [output.name]


@pytest.mark.parametrize("args, fragment", [
    (["--seed", str(2**32)], f"--seed {2**32} is above {2**32 - 1} (2**32 - 1)"),
    (["--seed", str(2**32 - 2), "--repeats", "3"], f"--seed {2**32 - 2} with --repeats 3 reaches seed {2**32}, which is above"),
])  # fmt: skip
def test_seeds_numpy_cannot_take_are_usage_errors(args, fragment):
    assert_one_line_error(run_cli(*FAST, *args), 2, fragment)


def test_more_threads_than_cpus_and_many_repeats_warn_in_one_line_each():
    proc = run_cli("--task", "digits", "--frameworks", "sklearn", "--explain", "--seed", str(2**32 - 101),
                   "--repeats", "101", "--threads", str((os.cpu_count() or 1) + 1))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2, proc.stderr
    assert f"--threads {(os.cpu_count() or 1) + 1} is more than this machine's" in warnings[0]
    assert f"--repeats 101 runs every row 101 times (seeds {2**32 - 101}..{2**32 - 1})" in warnings[1]
