"""workbench.api with keyword arguments: the library a notebook or a user's test calls, without compare.py."""

from __future__ import annotations

import pytest

from tasks import registry
from workbench import api
from workbench.errors import UsageError
from workbench.run.meta import RunMeta


def test_compare_with_keywords_runs_real_rows():
    comparison = api.compare(task="digits", frameworks=("pytorch",), epochs=1, threads=1)
    assert comparison.ok and isinstance(comparison.meta, RunMeta)
    (row,) = comparison.results
    assert (row.framework, row.model_id, row.epochs, row.status) == ("pytorch", "spec", 1, "ok")
    assert len(row.history) == 1 and 0.5 < row.test_acc <= 1.0  # one real epoch of the digits MLP
    assert comparison.meta.task == "digits" and comparison.meta.seed == registry.get("digits").spec.train.seed
    assert "framebench | task: digits" in comparison.table()


def test_options_can_be_passed_whole_and_bad_ones_are_usage_errors():
    with pytest.raises(UsageError, match="unknown option 'epoch'"):
        api.compare(task="digits", epoch=1)
    with pytest.raises(UsageError, match="--sweep lr cannot be combined with --lr"):
        api.compare(api.Options(task="digits", lr=0.1, sweep=("lr=0.1,0.2",)))
    with pytest.raises(UsageError, match="api.compare runs rows"):
        api.compare(task="digits", explain=True)


def test_dry_runs_refuses_ray_and_bad_options_before_any_row():
    """api.dry_runs shares one local child per engine: executor="ray" and an unknown option are UsageErrors."""
    from workbench import api

    with pytest.raises(api.UsageError, match="executor='local' only"):
        api.dry_runs({"task": "digits", "frameworks": "sklearn"}, {"task": "digits", "executor": "ray"})
    with pytest.raises(api.UsageError, match="unknown option 'epoch'"):
        api.dry_runs({"task": "digits", "epoch": 1})
