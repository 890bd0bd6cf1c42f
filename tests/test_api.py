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


@pytest.mark.parametrize(("values", "message"), [
    ({"batch_size": 0}, "--batch-size: expected a positive integer, got 0"),
    ({"lr": -1.0}, "--lr: expected a positive finite number, got -1.0"),
    ({"lr": float("nan")}, "--lr: expected a positive finite number, got nan"),
    ({"threads": 0}, "--threads: expected a positive integer, got 0"),
    ({"threads": None}, "--threads: expected a whole number, got None"),
    ({"repeats": 0}, "--repeats: expected a positive integer, got 0"),
    ({"seed": -5}, "--seed: expected a non-negative integer, got -5"),
    ({"subset": 0}, "--subset: expected a positive integer, got 0"),
    ({"epochs": -2}, "--epochs: expected a non-negative integer, got -2"),
    ({"epochs": "3"}, "--epochs: expected a whole number, got '3'"),
    ({"epochs": True}, "--epochs: expected a whole number, got True"),
    ({"batch_size": 32.0}, "--batch-size: expected a whole number, got 32.0"),
    ({"timeout": -1}, "--timeout: expected a positive finite number, got -1"),
    ({"weight_decay": float("inf")}, "--weight-decay: expected a non-negative finite number, got inf"),
    ({"device": "gpu"}, "unknown --device 'gpu': use auto, cpu, cuda"),
    ({"dtype": "float16"}, "unknown --dtype 'float16': use float32, float64"),
    ({"precision": "fp8"}, "unknown --precision 'fp8': use fp32, tf32, bf16, fp16"),
    ({"mode": "eager,jit"}, "unknown --mode 'jit'"),
])  # fmt: skip
def test_library_checks_values_as_the_flags_do(values: dict, message: str) -> None:
    """A library call has no argparse in front: the same types and ranges are checked, each a one-line UsageError."""
    with pytest.raises(UsageError) as caught:
        api.options_from(None, {"task": "digits", **values})
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_library_takes_the_command_line_spellings_of_lists() -> None:
    """mode and frameworks as comma-separated text, one sweep or one results file as a string, as compare.py's flags."""
    options = api.options_from(None, {"task": "digits", "frameworks": "pytorch,sklearn", "mode": "eager,compiled",
                                      "sweep": "lr=0.1,0.2", "threads": 1})  # fmt: skip
    assert (options.frameworks, options.mode, options.sweep) == (("pytorch", "sklearn"), ("eager", "compiled"), ("lr=0.1,0.2",))


def test_export_writes_checked_artifacts_that_verify_again(tmp_path) -> None:  # noqa: ANN001
    """api.export is compare with export=DIR: the row's artifacts are written and checked; api.verify reads them back."""
    comparison = api.export(tmp_path / "out", task="digits", frameworks=("sklearn",), epochs=1, threads=1)
    row = next(r for r in comparison.results if any(e.artifact != "-" for e in r.exports))  # the network row's (a
    # one-shot baseline's row says "skipped: ... no spec weights to export")
    statuses = [record.status for record in row.exports]
    assert "ok" in statuses and all(s == "ok" or s.startswith("skipped") for s in statuses), row.exports
    (folder,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    verified = api.verify(folder, trust=True)
    assert [(r.framework, r.model) for r in verified] == [(row.framework, row.model_id)]
    assert {record.artifact for record in verified[0].exports} == {record.artifact for record in row.exports}


def test_compare_py_uses_only_the_api_it_exports() -> None:
    """compare.py is a client of the library's front: every api name it calls is in api.__all__ and exists."""
    import re

    from cli_helpers import ROOT

    used = set(re.findall(r"\bapi\.([A-Za-z_]+)", (ROOT / "compare.py").read_text()))
    assert used and used <= set(api.__all__), sorted(used - set(api.__all__))
    assert all(hasattr(api, name) for name in api.__all__)
