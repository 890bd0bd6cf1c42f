"""--sweep: the grid of configurations x seeds x frameworks, its validation, and --resume matching on it."""

from __future__ import annotations

import json
import socket

import pytest
from cli_helpers import assert_one_line_error, run_cli
from test_faults import fault_env

import compare
from workbench.plan import make_plan
from workbench.run import runner
from workbench.run.result import RunResult


def plan_for(*argv: str) -> runner.RunPlan:
    """The plan compare.py would run for these flags (nothing is run)."""
    options, kept = compare.parse(list(argv))
    return make_plan(options, kept=kept)


def test_sweep_plan_is_the_grid_times_seeds_times_rows():
    plan = plan_for("--frameworks", "pytorch,sklearn", "--dry-run", "--repeats", "2",
                    "--sweep", "lr=1e-3,3e-3", "--sweep", "batch-size=64,128")  # fmt: skip
    assert len(plan.requests) == 2 * 2 * 2 * (1 + 2)  # lr x batch size x seeds x (pytorch + two sklearn baselines)
    assert list(plan.meta.sweep) == ["lr", "batch_size"]
    configs = [r.config for r in plan.requests]
    assert configs[0] == {"lr": 0.001, "batch_size": 64} and configs[-1] == {"lr": 0.003, "batch_size": 128}
    assert {(c["lr"], c["batch_size"]) for c in configs} == {(0.001, 64), (0.001, 128), (0.003, 64), (0.003, 128)}
    first, spec = plan.requests[0], plan.requests[0].task_spec()  # the row's spec, resolved once by the plan
    assert (spec.optimizer.lr, spec.train.batch_size, spec.train.seed, first.framework) == (0.001, 64, 0, "pytorch")
    assert first.settings.seed == 0 and spec.train.epochs == 1  # a dry run trains one epoch
    assert plan.meta.sweep == {"lr": [0.001, 0.003], "batch_size": [64, 128]}


def test_resume_matches_rows_on_their_configuration():
    plan = plan_for("--frameworks", "pytorch", "--dry-run", "--sweep", "epochs=1,2")
    done = RunResult(task="mnist", framework="pytorch", model="net", model_id="spec", seed=0, config={"epochs": 1})
    from workbench.run.resume import kept_rows

    plan.kept = kept_rows([done])
    one, two = plan.requests
    assert runner.kept_row(one, plan) is done
    assert runner.kept_row(two, plan) is None  # same framework, model and seed, another configuration: runs again


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--sweep", "lr"], ["--sweep 'lr': expected KEY=V1,V2,..."]),
        (["--sweep", "momentum=0.9"], ["unknown key 'momentum'", "lr, batch_size, epochs"]),
        (["--sweep", "lr=1e-3,fast"], ["--sweep lr=1e-3,fast", "'fast'"]),
        (["--sweep", "epochs=1,0"], ["--sweep epochs=1,0", "positive integer, got 0"]),
        (["--sweep", "lr=1e-3,0.001"], ["the value 0.001 is repeated"]),
        (["--sweep", "lr=1e-3", "--sweep", "lr=3e-3"], ["--sweep lr is given twice"]),
        (["--sweep", "lr=1e-3,3e-3", "--lr", "0.01"], ["--sweep lr cannot be combined with --lr"]),
    ],
)
def test_bad_sweeps_are_one_line(args, fragments):
    assert_one_line_error(run_cli(*args), 2, *fragments)


def test_sweep_end_to_end_then_resume_runs_nothing_again(tmp_path):
    out = tmp_path / "sweep.json"
    argv = ["--frameworks", "works", "--sweep", "epochs=1,2", "--repeats", "2", "--subset", "256", "--quiet",
            "--task", "digits", "--output", str(out)]  # fmt: skip
    proc = run_cli(*argv, "--format", "json", env=fault_env())
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert [b["config"] for b in payload["summary"]] == [{"epochs": 1}, {"epochs": 2}]
    assert [(r["config"]["epochs"], r["epochs"], r["seed"]) for r in payload["results"]] == [
        (1, 1, 0), (1, 1, 1), (2, 2, 0), (2, 2, 1)]  # fmt: skip
    assert {r["node"] for r in payload["results"]} == {socket.gethostname()}  # the local executor records it too
    saved = json.loads(out.read_text())["results"]
    again = run_cli("--resume", str(out), "--quiet", "--format", "simple", env=fault_env())
    assert again.returncode == 0, again.stderr
    assert json.loads(out.read_text())["results"] == saved  # every row kept: nothing ran again
    assert again.stdout.count("Summary over seeds: epochs=") == 2
