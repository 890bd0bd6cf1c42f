"""--model NAME: model variants registered as data by a task module, and how a variant travels to a row."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, run_cli
from shared_runs import listed

from tasks import registry
from tasks.init import init_weights
from tasks.spec import GRU, LSTM, Add, Conv1D, Conv2D, GlobalAveragePooling2D, GlobalMaxPool1D, ReLU, is_chain, param_shapes
from tasks.spec_io import spec_from_json, spec_to_json
from workbench.options import Options
from workbench.plan import check_options, make_plan, task_spec
from workbench.run.request import RunRequest, make_request


def test_sentiment_registers_lstm_gru_cnn_with_its_own_spec_first():
    task = registry.get("sentiment")
    assert task.variant_names() == ["lstm", "gru", "cnn", "transformer"]
    assert task.variant(None) is task.spec and task.variant("lstm") is task.spec  # default runs are unchanged
    assert isinstance(task.variant("gru").model.layers[1], GRU)
    assert [type(layer) for layer in task.variant("cnn").model.layers[1:4]] == [Conv1D, ReLU, GlobalMaxPool1D]
    for name in task.variant_names():  # the same data, optimizer and training; another network
        spec = task.variant(name)
        assert (spec.name, spec.data, spec.optimizer, spec.train) == (task.spec.name, task.spec.data, task.spec.optimizer, task.spec.train)


def test_cifar10_resnet_is_a_graph_with_adds_and_a_projection():
    task = registry.get("cifar10")
    assert task.variant_names() == ["cnn", "resnet"]
    model = task.variant("resnet").model
    assert not is_chain(model) and sum(isinstance(layer, Add) for layer in model.layers) == 2
    assert any(isinstance(layer, Conv2D) and layer.kernel_size == 1 for layer in model.layers)
    assert isinstance(model.layers[-2], GlobalAveragePooling2D)


def test_a_task_without_variants_has_only_its_default():
    assert registry.get("mnist").variant_names() == [registry.DEFAULT_VARIANT]
    assert registry.get("mnist").variant(registry.DEFAULT_VARIANT) is registry.get("mnist").spec


def test_unknown_variant_lists_the_valid_ones():
    with pytest.raises(registry.UnknownVariantError, match="choose one of lstm, gru, cnn, transformer"):
        registry.get("sentiment").variant("bert")


@pytest.mark.parametrize("task, name", [("sentiment", "gru"), ("sentiment", "cnn"), ("cifar10", "resnet")])
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
