"""Same seed, same CPU: identical losses and accuracy, run after run, in every installed engine."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_cli
from shared_runs import ENGINES, trained_digits


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict, dict]:
    """Rows by (framework, model id, seed) of two runs, each row its own child: the shared digits run (seeds 3 and 4,
    see shared_runs.trained_digits), then seed 3 again with the same flags."""
    proc, results = trained_digits(tmp_path_factory)
    assert proc.returncode == 0, proc.stderr
    found = [{(r["framework"], r["model_id"], r["seed"]): r for r in json.loads(results.read_text())["results"]}]
    out = tmp_path_factory.mktemp("determinism") / "results.json"
    argv = proc.args[: proc.args.index("--seed")] + ["--seed", "3", "--quiet", "--output", str(out)]  # the same run, seed 3 only
    again = run_cli(*argv)
    assert again.returncode == 0, again.stderr
    found.append({(r["framework"], r["model_id"], r["seed"]): r for r in json.loads(out.read_text())["results"]})
    return found[0], found[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_same_seed_same_numbers(runs, engine):
    first, again = runs
    for (framework, model, seed), row in again.items():
        if framework != engine:
            continue
        before = first[framework, model, seed]
        assert row["status"] == before["status"] == "ok", (row["message"], before["message"])
        assert [h["train_loss"] for h in row["history"]] == [h["train_loss"] for h in before["history"]]
        assert (row["test_loss"], row["test_acc"]) == (before["test_loss"], before["test_acc"])
        if row["history"]:  # a network: the seed really changes the run (a one-shot baseline has no seed to use)
            assert first[framework, model, 4]["train_loss"] != row["train_loss"]
