"""The command line: flag errors are one line with a non-zero exit; --list; the dry run end to end."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, run_cli
from conftest_data import real_data_dir

from tasks import registry


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--task", "nope"], ["unknown task 'nope'", "mnist"]),
        (["--frameworks", "pytorch,jax"], ["unknown framework 'jax'", "pytorch, keras, sklearn"]),
        (["--epochs", "0"], ["--epochs", "positive integer"]),
        (["--epochs", "-3"], ["--epochs", "positive integer"]),
        (["--epochs", "two"], ["--epochs", "'two'"]),
        (["--batch-size", "0"], ["--batch-size", "positive integer"]),
        (["--lr", "-1"], ["--lr", "positive"]),
        (["--lr", "nan"], ["--lr", "positive"]),
        (["--lr", "abc"], ["--lr", "'abc'"]),
        (["--subset", "0"], ["--subset", "positive integer"]),
        (["--format", "fancy"], ["unknown --format 'fancy'", "csv or json"]),
        (["--device", "tpu"], ["--device", "'tpu'", "cpu"]),
        (["--output", "/no/such/folder/out.json"], ["--output folder", "does not exist"]),
        (["--output", "/proc/out.json"], ["--output folder", "not writable"]),
        (["--frameworks", ","], ["--frameworks is empty"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_flags_one_line(args, fragments):
    assert_one_line_error(run_cli(*args), 2, *fragments)


def test_help_states_defaults():
    out = run_cli("--help").stdout
    for text in ("--task TASK", "(default: mnist)", "(default: auto)", "--dry-run", "--subset", "--data-dir"):
        assert text in out


def test_list_shows_tasks_and_availability():
    proc = run_cli("--list")
    assert proc.returncode == 0
    for name in registry.names():
        assert name in proc.stdout
    assert "pytorch" in proc.stdout and "available" in proc.stdout


def test_missing_data_offline_is_a_data_error(tmp_path):
    proc = run_cli("--task", "mnist", "--dry-run", "--quiet", "--data-dir", str(tmp_path), "--frameworks", "sklearn",
                   env={"FRAMEBENCH_DATA": "", "FRAMEBENCH_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert_one_line_error(proc, 3, "train-images-idx3-ubyte.gz", str(tmp_path))


def test_dry_run_mnist_end_to_end(tmp_path):
    data = real_data_dir()
    out = tmp_path / "results.json"
    proc = run_cli("--task", "mnist", "--dry-run", "--data-dir", str(data), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "oneDNN" not in proc.stderr  # TensorFlow's start-up noise hidden
    results = json.loads(out.read_text())["results"]
    assert [(r["framework"], r["status"]) for r in results] == [
        ("pytorch", "ok"), ("keras", "ok"), ("sklearn", "ok"), ("sklearn", "ok"),
    ]  # fmt: skip
    spec_rows = [r for r in results if r["params"] == 235146]
    assert len(spec_rows) == 3  # pytorch, keras and MLPClassifier build the same network
    # same weights, same batch: one step gives the same loss in every framework (float32)
    losses = [r["train_loss"] for r in spec_rows]
    assert max(losses) - min(losses) < 1e-4, losses
    assert "MNIST (canonical)" in proc.stdout and "pytorch" in proc.stdout
