"""`compare.py --tensorboard DIR`: TensorBoard event files, one run per row, named task/engine/variant/seedN (the
variant names the row's mode where its engine and model ran in several modes, e.g. default+eager, default+compiled).

Each run holds the row's per-epoch scalars (RUN_TAGS), its hyper-parameters for the HParams dashboard, and the spec
as text; DIR itself holds the HParams experiment (which hyper-parameters and metrics the runs share). Everything
goes through the `tensorboard` package's own event-file writer and its plugins' summary metadata, the way its
`tensorboard.summary.Writer` writes scalars: no TensorFlow, and no hand-written event format.
"""

from __future__ import annotations

import re
import sys
import time
import types
from pathlib import Path
from typing import Collection

from frameworks.base import SPEC_MODEL
from tasks.spec import TaskSpec
from tasks.spec_io import spec_to_json
from workbench.report.statistics import mixed_modes, shown_mode
from workbench.report.tables import config_title
from workbench.run.result import RunResult

# tag -> (what it shows); per epoch: step = epoch (1-based). A one-shot baseline has its two test figures at step 1.
RUN_TAGS = {
    "train/loss": "mean training loss over the epoch",
    "test/loss": "test loss after the epoch",
    "test/accuracy": "test accuracy after the epoch (0-1)",
    "train/samples_per_second": "training samples per second in the epoch",
}
SPEC_TAG = "spec"
HPARAMS = ("engine", "version", "device", "precision", "dtype", "lr", "batch_size", "seed")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+,-]+")


class TensorBoardUnavailable(RuntimeError):
    """The `tensorboard` package is not installed (pip install tensorboard)."""


def use_tensorboard_stub() -> None:
    """Make the `tensorboard` package use its own TensorFlow stub in this process, never TensorFlow itself.

    tensorboard.compat picks the stub when a module `tensorboard.compat.notf` can be imported (its no-TensorFlow build
    ships one); the pip package does not, so it is registered here. Without it, the event-file writer imports the
    whole of TensorFlow (and Keras, JAX) when they are installed: a framework import outside frameworks/, and seconds.
    """
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))


def _part(text: str) -> str:
    """One path component of a run name: letters, digits and ._=+,- only."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


def row_variant(r: RunResult, variant: str, mixed: Collection[tuple[str, str]] = ()) -> str:
    """The variant part of a run name: the task's model variant for the spec's network, else the row's own model id;
    then the row's mode where its (framework, model) is in `mixed` (ran in several modes: an engine's default mode
    alone, e.g. JAX's jit, is not named), and the --sweep values when the row has them."""
    name = variant if r.model_id in ("", SPEC_MODEL) else r.model_id
    mode = [shown_mode(r, mixed)] if shown_mode(r, mixed) else []
    sweep = [config_title(r.config).replace(", ", ",")] if r.config else []
    return "+".join([name] + mode + sweep)


def run_name(r: RunResult, variant: str, mixed: Collection[tuple[str, str]] = ()) -> str:
    """task/engine/variant/seedN: TensorBoard's run list then groups and compares the engines directly. mixed: the
    (framework, model) pairs of the run that ran in several modes (workbench.report.statistics.mixed_modes)."""
    return "/".join(_part(p) for p in (r.task, r.framework, row_variant(r, variant, mixed), f"seed{r.seed}"))


def row_hparams(r: RunResult, spec: TaskSpec) -> dict[str, object]:
    """engine, version, device, precision, dtype, lr, batch size and seed of one row (a --sweep value wins)."""
    return {"engine": r.framework, "version": r.version or "-", "device": r.device or "-", "precision": r.precision,
            "dtype": r.dtype, "lr": float(r.config.get("lr", spec.optimizer.lr)),
            "batch_size": int(r.config.get("batch_size", spec.train.batch_size)), "seed": int(r.seed)}  # fmt: skip


def epoch_scalars(r: RunResult) -> list[tuple[int, float, dict[str, float]]]:
    """(step, training seconds so far, tag -> value) for every epoch; a one-shot baseline: its final test loss and
    accuracy at step 1."""
    out = []
    for h in r.history:
        values = {"train/loss": h.train_loss, "test/loss": h.test_loss, "test/accuracy": h.test_acc}
        if r.train_samples and h.seconds and h.seconds > 0:
            values["train/samples_per_second"] = r.train_samples / h.seconds
        out.append((h.epoch, h.elapsed or 0.0, {k: float(v) for k, v in values.items() if v is not None}))
    if not r.history and r.status == "ok":
        final = {"test/loss": r.test_loss, "test/accuracy": r.test_acc}
        out.append((1, r.train_s or 0.0, {k: float(v) for k, v in final.items() if v is not None}))
    return out


def write_tensorboard(folder: Path, results: list[RunResult], spec: TaskSpec, variant: str = "default") -> list[Path]:
    """Write one event file per row under FOLDER/task/engine/variant/seedN and the HParams experiment in FOLDER;
    returns the run folders. Raises TensorBoardUnavailable without the `tensorboard` package."""
    use_tensorboard_stub()
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.hparams import summary_v2 as hp
        from tensorboard.plugins.scalar import metadata as scalar_metadata
        from tensorboard.plugins.text import metadata as text_metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
    except ImportError as exc:
        raise TensorBoardUnavailable(f"--tensorboard needs the tensorboard package ({exc}); pip install tensorboard") from None

    def summary_event(step: int, wall_time: float, tag: str, tensor: object, metadata: object) -> object:
        event = event_pb2.Event(wall_time=wall_time, step=step)
        event.summary.value.add(tag=tag, tensor=tensor_util.make_tensor_proto(tensor), metadata=metadata)
        return event

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    spec_text = f"```json\n{spec_to_json(spec)}\n```"
    metrics = [hp.Metric(tag, display_name=tag, description=about) for tag, about in RUN_TAGS.items()]
    experiment = EventFileWriter(str(folder))
    experiment.add_event(event_pb2.Event(wall_time=now, summary=hp.hparams_config_pb([hp.HParam(n) for n in HPARAMS], metrics)))
    experiment.close()
    written: list[Path] = []
    seen: dict[str, int] = {}
    mixed = mixed_modes(results)
    for r in results:
        name = run_name(r, variant, mixed)
        seen[name] = seen.get(name, 0) + 1
        name += f"-{seen[name]}" if seen[name] > 1 else ""  # the same row given twice (e.g. two --from files)
        run = folder / name
        writer = EventFileWriter(str(run))
        writer.add_event(event_pb2.Event(wall_time=now, summary=hp.hparams_pb(row_hparams(r, spec), trial_id=name,
                                                                              start_time_secs=now)))  # fmt: skip
        text_meta = text_metadata.create_summary_metadata(display_name="spec", description="the resolved TaskSpec (JSON)")
        writer.add_event(summary_event(0, now, SPEC_TAG, spec_text.encode(), text_meta))
        for step, elapsed, values in epoch_scalars(r):  # wall time = start + training time: TensorBoard's "relative" axis
            for tag, value in values.items():
                meta = scalar_metadata.create_summary_metadata(display_name=tag, description=RUN_TAGS[tag])
                meta.data_class = summary_pb2.DataClass.DATA_CLASS_SCALAR
                writer.add_event(summary_event(step, now + elapsed, tag, value, meta))
        writer.close()
        written.append(run)
    return written
