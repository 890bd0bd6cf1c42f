"""The command line: flag errors are one line with a non-zero exit; --list; the dry run end to end.

The end-to-end runs use `digits` (bundled with scikit-learn), so they need no data folder; the
mnist dry run checks the real files and skips without FRAMEBENCH_DATA.
"""

from __future__ import annotations

import json
import os

import pytest
from cli_helpers import assert_one_line_error, run_cli
from shared_runs import digits_dry_run, listed

from frameworks.base import DEFAULT_FRAMEWORKS, model_names
from tasks import registry
from tasks.spec import count_params

AFTER_STEP_TOL = 1e-4  # test loss after one float32 step; measured differences are ~1e-6, a 3% lr change ~1e-3


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--task", "nope"], ["unknown task 'nope'", "mnist"]),
        (["--frameworks", "pytorch,mxnet"], ["unknown framework 'mxnet'", "pytorch, keras"]),
        (["--frameworks", "pytorch,pytorch"], ["--frameworks names pytorch twice"]),
        (["--frameworks", "sklearn,pytorch,sklearn"], ["--frameworks names sklearn twice"]),
        (["--epochs", "0"], ["--epochs 0 evaluates imported weights: it needs --import-weights"]),
        (["--epochs", "-3"], ["--epochs", "non-negative integer"]),
        (["--epochs", "two"], ["--epochs", "'two'"]),
        (["--batch-size", "0"], ["--batch-size", "positive integer"]),
        (["--lr", "-1"], ["--lr", "positive"]),
        (["--lr", "nan"], ["--lr", "positive"]),
        (["--lr", "abc"], ["--lr", "'abc'"]),
        (["--subset", "0"], ["--subset", "positive integer"]),
        (["--test-subset", "-5"], ["--test-subset", "positive integer"]),
        (["--format", "fancy"], ["unknown --format 'fancy'", "csv or json"]),
        (["--device", "tpu"], ["--device", "'tpu'", "cpu"]),
        (["--output", "/no/such/folder/out.json"], ["--output folder", "does not exist"]),
        (["--output", "/proc/out.json"], ["--output folder", "not writable"]),
        (["--frameworks", ","], ["--frameworks is empty"]),
        (["--report", "/proc/x"], ["--report folder /proc is not writable"]),
        (["--plot", "/proc/x.png"], ["--plot folder /proc is not writable"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
        (["--task", "digits", "--precision", "bf16", "--dtype", "float64"], ["--precision bf16 needs --dtype float32"]),
        (["--task", "digits", "--tf32", "--precision", "fp16"], ["--tf32 cannot be combined with --precision fp16"]),
        (["--task", "digits", "--precision", "int8"], ["--precision", "'int8'", "'fp32', 'tf32', 'bf16', 'fp16'"]),
        (["--optimizer", "adagrad"], ["--optimizer: invalid choice: 'adagrad'"]),
        (["--weight-decay", "-1"], ["expected a non-negative finite number, got -1"]),
        (["--loss", "mse"], ["--loss mse does not fit task mnist"]),
    ],
)
def test_bad_flags_one_line(args, fragments):
    assert_one_line_error(run_cli(*args), 2, *fragments)


def test_help_states_defaults():
    out = run_cli("--help").stdout
    for text in ("--task TASK", "(default: mnist)", "(default: auto)", "--dry-run", "--subset", "--data-dir"):
        assert text in out
    flat = " ".join(out.split())
    assert "(default: None)" not in flat and "(default: False)" not in flat  # no placeholder defaults
    for flag in ("--seed", "--augment", "--weight-decay", "--batch-size"):  # each states its default once, in words
        entry = flat.split(f" {flag} ", 1)[1].split(" --", 1)[0]
        assert entry.count("default:") + entry.count("default;") <= 1, entry


def test_list_shows_tasks_and_availability(tmp_path_factory):
    proc = listed(tmp_path_factory)
    assert proc.returncode == 0
    for name in registry.names():
        assert name in proc.stdout
    assert "pytorch" in proc.stdout and "available" in proc.stdout
    frameworks = proc.stdout.split("\n\n")[1].splitlines()
    assert frameworks[0].split() == ["framework", "status", "devices"]
    assert any(line.split()[:3] == ["pytorch", "available", "cpu"] for line in frameworks)  # asked of torch in a child


def test_missing_data_offline_is_a_data_error(tmp_path):
    proc = run_cli("--task", "mnist", "--dry-run", "--quiet", "--data-dir", str(tmp_path), "--frameworks", "sklearn",
                   env={"FRAMEBENCH_DATA": "", "FRAMEBENCH_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert_one_line_error(proc, 3, "train-images-idx3-ubyte.gz", str(tmp_path))


def spec_rows_agree_after_one_step(results: list[dict], num_params: int) -> None:
    """The rows that train the spec network give the same test loss after their one dry-run step.

    The dry run's train loss is computed before the update, so it is the same whatever the optimizer
    does; its test loss is evaluated after the update, so a different lr, epsilon or update rule shows.
    """
    spec_rows = [r for r in results if r["params"] == num_params]
    assert len(spec_rows) >= 2, results
    before = [r["train_loss"] for r in spec_rows]
    after = [r["test_loss"] for r in spec_rows]
    assert max(before) - min(before) < AFTER_STEP_TOL, before  # same weights, same batch
    assert max(after) - min(after) < AFTER_STEP_TOL, after  # and the same step


@pytest.mark.parametrize("value", ["3", "abc"])
def test_threads_default_comes_from_the_environment(value):
    """FRAMEBENCH_THREADS is --threads' default (conftest.py sets 1 for the suite); a value that is not a positive
    integer is a one-line warning, and the default is every core."""
    proc = run_cli("--task", "digits", "--frameworks", "sklearn", "--dry-run", "--quiet", env={"FRAMEBENCH_THREADS": value})
    assert proc.returncode == 0, proc.stderr
    expected = int(value) if value.isdigit() else os.cpu_count()
    assert f"| threads: {expected} |" in proc.stdout, proc.stdout
    warned = f"FRAMEBENCH_THREADS='{value}' is not a positive integer: --threads defaults to every core ({os.cpu_count()})"
    assert (warned in proc.stderr) == (not value.isdigit()), proc.stderr


def test_dry_run_digits_end_to_end_without_data(tmp_path_factory):
    """The default engines' rows of the shared digits dry run (every engine, no data folder at all)."""
    proc, out = digits_dry_run(tmp_path_factory)  # the run test_templates reads too
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "oneDNN" not in proc.stderr  # TensorFlow's start-up noise hidden
    results = [r for r in json.loads(out.read_text())["results"] if r["framework"] in DEFAULT_FRAMEWORKS]
    expected = [(fw, "ok") for fw in DEFAULT_FRAMEWORKS for _ in (("sklearn",) * 2 if fw == "sklearn" else ("spec",))]
    assert [(r["framework"], r["status"]) for r in results] == expected
    params = count_params(registry.get("digits").spec.model)
    assert params == 64 * 64 + 64 + 64 * 10 + 10
    assert len([r for r in results if r["params"] == params]) == len(DEFAULT_FRAMEWORKS)  # MLPClassifier too
    spec_rows_agree_after_one_step(results, params)
    assert all(r["train_samples"] == r["test_samples"] == 64 for r in results)  # one batch each
    assert "Digits (canonical): 64 train / 64 test" in proc.stdout


def test_digits_trains_to_its_target(tmp_path):
    """The full digits run (10 epochs, seconds): every row reaches the spec's target accuracy."""
    out = tmp_path / "results.json"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch,sklearn", "--quiet", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    spec = registry.get("digits").spec
    results = json.loads(out.read_text())["results"]
    assert [r["model_id"] for r in results] == model_names("pytorch", spec) + model_names("sklearn", spec)
    assert all(r["test_acc"] >= spec.target_accuracy for r in results), [r["test_acc"] for r in results]
    assert all(r["test_samples"] == 360 and r["train_samples"] == 1437 for r in results)
    torch_row, _, mlp_row = results  # the same network, weights and batches: the same curve
    assert abs(torch_row["train_loss"] - mlp_row["train_loss"]) < 1e-3
