"""--model NAME: model variants registered as data by a task module, and how a variant travels to a row."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import assert_one_line_error, run_cli
from shared_runs import listed
from test_templates import TASK_MODELS

from tasks import registry
from tasks.init import init_weights
from tasks.spec import GRU, LSTM, Conv1D, param_shapes
from tasks.spec_io import spec_from_json, spec_to_json
from workbench.options import Options
from workbench.plan import check_options, make_plan, task_spec
from workbench.run.request import RunRequest, make_request


@pytest.mark.parametrize("task", registry.names())
def test_a_variant_is_the_task_with_another_network(task):
    """The first variant is the task's own spec (a run without --model is unchanged); every variant keeps the task's
    data, optimizer and training, and brings a network of its own."""
    own = registry.get(task).spec
    specs = [registry.get(task).variant(name) for name in registry.get(task).variant_names()]
    assert registry.get(task).variant(None) is own and specs[0] == own
    assert len({spec.model for spec in specs}) == len(specs)
    for spec in specs:
        assert (spec.name, spec.data, spec.optimizer, spec.train) == (own.name, own.data, own.optimizer, own.train)


def test_a_task_without_variants_has_only_its_default():
    assert registry.get("mnist").variant_names() == [registry.DEFAULT_VARIANT]
    assert registry.get("mnist").variant(registry.DEFAULT_VARIANT) is registry.get("mnist").spec


def test_unknown_variant_lists_the_valid_ones():
    task = registry.get("sentiment")
    valid = ", ".join(task.variant_names())
    with pytest.raises(registry.UnknownVariantError, match=re.escape(f"choose one of {valid}")):
        task.variant("bert")


@pytest.mark.parametrize("task, name", TASK_MODELS, ids=[f"{t}-{m}" for t, m in TASK_MODELS])
def test_variant_specs_round_trip_as_json_and_init(task, name):
    spec = registry.get(task).variant(name)
    assert spec_from_json(spec_to_json(spec)) == spec  # how a spec reaches --check and export children
    weights = init_weights(spec.model, spec.init, 0)
    assert {k: v.shape for k, v in weights.items()} == param_shapes(spec.model)


def test_the_variant_travels_in_the_run_request():
    request = make_request("sentiment", "pytorch", "spec", variant="gru", epochs=1)
    again = RunRequest.from_dict(request.to_dict())  # what a Ray task or a child process receives
    spec = again.task_spec()  # the resolved spec itself travels, not the flags that made it
    assert isinstance(spec.model.layers[1], GRU) and spec.train.epochs == 1
    assert isinstance(make_request("sentiment", "pytorch", "spec").task_spec().model.layers[1], LSTM)


def test_the_variant_reaches_the_plan():
    options = check_options(Options(task="sentiment", variant="cnn", frameworks=("pytorch",)))
    plan = make_plan(options)
    assert {type(r.task_spec().model.layers[1]) for r in plan.requests} == {Conv1D} and plan.meta.variant == "cnn"
    assert "text CNN" in plan.meta.title
    assert isinstance(task_spec(options).model.layers[1], Conv1D)


def test_resume_refuses_another_variant(tmp_path):
    """--resume keeps the saved run's --model: asking for another variant is a one-line usage error."""
    saved = tmp_path / "results.json"
    argv = ["--task", "sentiment", "--model", "gru", "--frameworks", "pytorch"]
    saved.write_text(json.dumps({"meta": {"task": "sentiment", "variant": "gru", "argv": argv}, "results": []}))
    assert_one_line_error(run_cli("--resume", str(saved), "--model", "cnn"), 2, "cnn differs", "gru")


def test_cli_list_and_unknown_variant(tmp_path_factory):
    proc = listed(tmp_path_factory)  # the --list run test_cli reads too
    assert proc.returncode == 0 and "lstm, gru, cnn" in proc.stdout
    assert_one_line_error(run_cli("--task", "sentiment", "--model", "resnet"), 2, "--model", "lstm, gru, cnn")
