"""--tensorboard: the event files of a real tiny run, read back with TensorBoard's own event reader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install tensorboard)")

from tasks import registry  # noqa: E402
from tasks.overrides import with_overrides  # noqa: E402
from tasks.spec_io import spec_to_json  # noqa: E402
from tests.cli_helpers import ROOT, run_cli  # noqa: E402
from workbench.report.tensorboard import (HPARAMS, RUN_TAGS, SPEC_TAG, run_name, use_tensorboard_stub,  # noqa: E402
                                          write_tensorboard)  # fmt: skip
from workbench.run.result import RunResult, load_results  # noqa: E402

use_tensorboard_stub()  # the reader goes through the same tensorboard.compat as the writer
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.plugins.hparams import metadata as hparams_metadata  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

SPEC = with_overrides(registry.get("digits").spec, epochs=2)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RunResult]]:
    """A real run of two seeds (sklearn: its spec network with per-epoch history and a one-shot baseline), written out."""
    folder = tmp_path_factory.mktemp("tb")
    proc = run_cli("--task", "digits", "--frameworks", "sklearn", "--epochs", "2", "--subset", "300", "--repeats", "2",
                   "--output", str(folder / "RUN.json"))  # fmt: skip
    assert (folder / "RUN.json").is_file(), proc.stderr
    _, results = load_results(folder / "RUN.json")
    write_tensorboard(folder / "logs", results, SPEC)
    return folder / "logs", results


def _read(path: Path) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    return acc


def _values(acc: event_accumulator.EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in acc.Tensors(tag)]


def test_one_run_per_row_named_task_engine_variant_seed(run: tuple[Path, list[RunResult]]) -> None:
    logs, results = run
    runs = {p.parent.relative_to(logs).as_posix() for p in logs.rglob("events.out.tfevents.*")} - {"."}
    assert runs == {run_name(r, "default") for r in results}
    parts = [name.split("/") for name in runs]
    assert len(runs) == len(results) == 4 and all(len(p) == 4 for p in parts)
    assert {(task, engine, seed) for task, engine, _, seed in parts} == {("digits", "sklearn", f"seed{s}") for s in (0, 1)}
    variants = {variant for _, _, variant, _ in parts}
    assert "logistic_regression" in variants and len(variants) == 2


def test_scalars_per_epoch_match_the_json_results(run: tuple[Path, list[RunResult]]) -> None:
    logs, results = run
    for r in results:
        acc = _read(logs / run_name(r, "default"))
        if r.history:
            expected = {"train/loss": [h.train_loss for h in r.history], "test/loss": [h.test_loss for h in r.history],
                        "test/accuracy": [h.test_acc for h in r.history],
                        "train/samples_per_second": [r.train_samples / h.seconds for h in r.history]}  # fmt: skip
            for tag, values in expected.items():
                got = _values(acc, tag)
                assert [step for step, _ in got] == [h.epoch for h in r.history], tag
                assert [v for _, v in got] == pytest.approx(values, rel=1e-6), tag  # float32 in the event file
        else:  # the one-shot baseline: its final test figures at step 1
            assert _values(acc, "test/accuracy") == [(1, pytest.approx(r.test_acc, rel=1e-6))]
            assert "train/loss" not in acc.Tags()["tensors"]


def test_hparams_and_spec_text(run: tuple[Path, list[RunResult]]) -> None:
    logs, results = run
    for r in results:
        acc = _read(logs / run_name(r, "default"))
        content = acc.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
        info = hparams_metadata.parse_session_start_info_plugin_data(content)
        got = {k: v.string_value or v.number_value for k, v in info.hparams.items()}
        assert set(got) == set(HPARAMS)
        assert (got["engine"], got["version"], got["device"], got["seed"]) == (r.framework, r.version, r.device, r.seed)
        assert (got["lr"], got["batch_size"]) == (SPEC.optimizer.lr, SPEC.train.batch_size)
        assert (got["precision"], got["dtype"]) == (r.precision, r.dtype)
        text = tensor_util.make_ndarray(acc.Tensors(SPEC_TAG)[0].tensor_proto).item().decode()
        assert json.loads(text.removeprefix("```json\n").removesuffix("\n```")) == json.loads(spec_to_json(SPEC))
    root = _read(logs)
    content = root.SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content
    experiment = hparams_metadata.parse_experiment_plugin_data(content)
    assert [h.name for h in experiment.hparam_infos] == list(HPARAMS)
    assert [m.name.tag for m in experiment.metric_infos] == list(RUN_TAGS)


def test_writing_imports_no_framework(run: tuple[Path, list[RunResult]], tmp_path: Path) -> None:
    """The writer goes through tensorboard's stub, never TensorFlow (installed or not), nor any other framework."""
    code = ("import sys; from workbench.run.result import load_results; from workbench.report.tensorboard import write_tensorboard;"
            "from tasks import registry; meta, results = load_results(sys.argv[1]);"
            "write_tensorboard(sys.argv[2], results, registry.get('digits').spec);"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'torch', 'jax', 'keras', 'sklearn'}))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, str(run[0].parent / "RUN.json"), str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert list(tmp_path.rglob("events.out.tfevents.*"))


def test_run_names_name_the_mode_where_an_engine_ran_several(tmp_path: Path) -> None:
    """--mode eager,compiled: pytorch's two rows get default+eager and default+compiled; JAX's default jit row (its
    only mode) keeps the bare variant, as a row of a file saved before modes does."""
    rows = [RunResult(task="digits", framework="pytorch", model="spec", mode="eager"),
            RunResult(task="digits", framework="pytorch", model="spec", mode="compiled", compiled=True),
            RunResult(task="digits", framework="jax", model="spec", mode="compiled", compiled=True),
            RunResult.from_dict({"task": "digits", "framework": "keras", "model": "spec", "compiled": True})]  # fmt: skip
    written = write_tensorboard(tmp_path, rows, SPEC)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "digits/pytorch/default+eager/seed0", "digits/pytorch/default+compiled/seed0", "digits/jax/default/seed0",
        "digits/keras/default/seed0"]  # fmt: skip
    assert all(list(p.glob("events.out.tfevents.*")) for p in written)
