"""Same seed, same CPU: identical losses and accuracy, run after run, in each framework."""

from __future__ import annotations

import pytest

from frameworks.base import SPEC_MODEL, RunSettings
from workbench.run.child import execute
from workbench.run.driver import RunRequest


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_same_seed_same_numbers(framework):
    request = RunRequest(
        task="digits", framework=framework, model=SPEC_MODEL, epochs=2, seed=3,
        settings=RunSettings(threads=2, progress=False, seed=3),
    )  # fmt: skip
    first, second = execute(request), execute(request)
    assert first.status == second.status == "ok", (first.message, second.message)
    assert [h.train_loss for h in first.history] == [h.train_loss for h in second.history]
    assert (first.test_loss, first.test_acc) == (second.test_loss, second.test_acc)
    other_seed = execute(RunRequest(**{**request.__dict__, "seed": 4}))
    assert other_seed.train_loss != first.train_loss  # the seed really changes the run
