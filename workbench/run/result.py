"""The one typed result record, built by shared code, and its atomic JSON storage."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from workbench.run.meta import RunMeta
from workbench.process.files import atomic_write_text, finite_or_null  # noqa: F401 - atomic_write_text: re-exported

STATUSES = ("ok", "skipped", "error", "diverged", "timeout", "crashed")
# What kind of failure an `error` row is, so the CLI can act on it without parsing messages:
#   data     missing, corrupt or unsafe data (every row would fail the same way: exit 3)
#   usage    a request the data cannot satisfy, e.g. --subset larger than the training set (exit 2)
#   import   the framework is installed but fails to import
#   adapter  anything the framework or its adapter raised while building, training or predicting
ERROR_KINDS = ("data", "usage", "import", "adapter")


@dataclass
class EpochRecord:
    """Figures after one epoch."""

    epoch: int  # 1-based
    train_loss: float  # mean training loss over the epoch's samples
    test_loss: float
    test_acc: float
    seconds: float  # training time of this epoch (evaluation excluded)
    elapsed: float  # training time since the start of the first epoch


@dataclass
class ArtifactRecord:
    """One exported artifact of a row: how it was written, and its reload check in a fresh process."""

    artifact: str  # e.g. "model.onnx", "weights.npz" (the file or folder name in the row's export folder)
    status: str = "ok"  # "ok", "FAIL" (reloaded, logits outside the tolerance), "export failed: ...",
    #                     "reload failed: ...", "skipped: ..."
    route: str = ""  # the call that wrote it, e.g. "torch.onnx.export(dynamo=True)"
    loader: str = ""  # the call that read it back in the fresh process, e.g. "onnxruntime.InferenceSession"
    form: str = ""  # what runs after the reload: "native eager", "exported program" or "ONNX Runtime"
    size_bytes: int | None = None
    export_s: float | None = None
    max_abs: float | None = None  # reloaded vs in-memory logits on the first CHECK_SAMPLES test samples
    max_rel: float | None = None  # max_abs / max |in-memory logit|
    atol: float | None = None  # the tolerances the status was judged with
    rtol: float | None = None
    latency_ms_p50: float | None = None  # batch-1 prediction in the reloaded form
    latency_ms_p95: float | None = None
    infer_throughput: float | None = None  # test samples/s in the reloaded form


@dataclass
class RunResult:
    """Everything measured for one (task, framework, model) run. Adapters never build it."""

    task: str
    framework: str
    model: str  # the model label, shown in the tables (glossary: workbench/options.py)
    status: str = "ok"  # one of STATUSES
    message: str = ""  # one line: why it is not ok, or a note
    error_kind: str = ""  # for status "error": one of ERROR_KINDS
    version: str = ""  # framework version
    device: str = ""  # device actually used, as its adapter names it: "cpu" or e.g. "cuda:0 NVIDIA H200"
    threads: int = 0
    dtype: str = "float32"
    tf32: bool = False
    precision: str = "fp32"  # fp32 (TF32 off), tf32, bf16 or fp16 (mixed precision)
    seed: int = 0
    dataset: str = ""  # one line: name, canonical or not, counts, source
    data_warnings: list[str] = field(default_factory=list)
    params: int | None = None  # trainable parameters as the framework counts them
    epochs: int | None = None  # epochs run (iterations, for one-shot baselines)
    train_samples: int | None = None
    batch_size: int | None = None  # the spec's training batch (the break-even column counts steps of it)
    test_samples: int | None = None
    train_loss: float | None = None  # last epoch's mean training loss
    test_loss: float | None = None
    test_acc: float | None = None
    import_s: float | None = None  # importing the framework
    data_s: float | None = None  # loading and preparing the data
    build_s: float | None = None  # building the model and loading the weights
    train_s: float | None = None  # all training time (evaluation excluded)
    first_epoch_s: float | None = None  # includes warm-up, tracing, compilation
    steady_epoch_s: float | None = None  # median of the later epochs
    throughput: float | None = None  # training samples/s in the steady state
    infer_s: float | None = None  # predicting the whole test set
    infer_throughput: float | None = None  # test samples/s
    latency_ms_p50: float | None = None  # batch-1 prediction latency, median
    latency_ms_p95: float | None = None
    train_gflops: float | None = None  # achieved training GFLOP/s (analytic FLOPs x steady throughput)
    peak_pct: float | None = None  # train_gflops as % of the measured matmul peak of the row's device and precision
    compile_s: float | None = None  # first epoch minus a steady epoch: warm-up, tracing, compilation
    peak_rss_mb: float | None = None  # peak resident memory of the run's process
    peak_gpu_mb: float | None = None  # peak GPU memory of the row's process, read through its adapter (CUDA rows)
    target_accuracy: float | None = None
    time_to_target_s: float | None = None  # training time until test accuracy first reached the target
    history: list[EpochRecord] = field(default_factory=list)
    model_id: str = ""  # the model the row was asked for ("spec" or a baseline's name); --resume matches on it
    compiled: bool = False  # mode == "compiled" (kept for readers of files saved before modes)
    mode: str = ""  # the execution mode it ran: a name of its adapter's MODES ("" in files saved before modes)
    compilations: int | None = None  # times its training step was compiled or traced (1: never recompiled); None:
    #                                  nothing compiled, or its engine does not count them
    config: dict = field(default_factory=dict)  # the --sweep values of this row, e.g. {"lr": 0.003}; --resume matches on it
    determinism: str = ""  # the determinism settings its adapter applied on the row's device (its DETERMINISM); "" in
    #                        files saved before adapters declared them
    node: str = ""  # where the row ran: the host name (local executor) or Ray node "IP/node id"
    timing: str = ""  # "quiet", or "noisy": other processes used the CPU while it trained ("" in older files)
    timing_note: str = ""  # why its timing is noisy, one line (workbench/run/machine_load.py)
    other_cores: float | None = None  # mean CPU cores other processes used while it trained
    load_avg: float | None = None  # the 1-minute load average when its training ended
    exports: list[ArtifactRecord] = field(default_factory=list)  # --export: every artifact and its reload check

    @classmethod
    def from_dict(cls, data: dict) -> "RunResult":
        """Rebuild a result from its JSON form (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["history"] = [EpochRecord(**h) for h in kwargs.get("history", [])]
        kwargs["exports"] = [ArtifactRecord(**a) for a in kwargs.get("exports", [])]
        if "mode" not in kwargs and kwargs.get("compiled"):  # saved before modes: only the compiled rows are known
            kwargs["mode"] = "compiled"
        return cls(**kwargs)


SCALARS = (str, int, float, bool)  # what a sweep configuration's values may be


def _type_problem(value: object, declared: str) -> str | None:
    """Why `value` does not fit a field declared as `declared` ("str", "float | None", "list[str]", "dict"...), or None."""
    if value is None and declared.endswith("| None"):
        return None
    kind = declared.removesuffix(" | None")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    fits = {"str": isinstance(value, str), "bool": isinstance(value, bool), "float": number,
            "int": number and isinstance(value, int),
            "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "dict": isinstance(value, dict) and all(isinstance(v, SCALARS) for v in value.values())}.get(kind, True)  # fmt: skip
    return None if fits else f"holds {json.dumps(value, default=repr)[:40]} where {declared} is expected"


def record_problem(record: object) -> str | None:
    """The first field of a result, epoch or artifact record whose value is not of its declared type ("seed holds [0],
    not an int"), or None; rows read back from a file are checked with it before they are trusted."""
    for f in fields(record):
        value = getattr(record, f.name)
        problem = _type_problem(value, str(f.type))
        if problem is not None:
            return f"{f.name} {problem}"
        for item in value if f.name in ("history", "exports") else ():
            problem = record_problem(item)
            if problem is not None:
                return f"{f.name}: {problem}"
    if isinstance(record, RunResult) and record.status not in STATUSES:
        return f"status {record.status!r} is not one of {', '.join(STATUSES)}"
    return None


def non_finite(row: RunResult) -> str | None:
    """The first number of the row (or of its epochs) that is NaN or infinite, as "test_loss nan", or None."""
    for record in (row, *row.history):
        for f in fields(record):
            value = getattr(record, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                return f"{f.name} {value}" if record is row else f"epoch {record.epoch} {f.name} {value}"
    return None


def row_key(framework: str, model_id: str, seed: int, mode: str = "", config: dict | None = None) -> tuple:
    """What identifies a row of a run: --resume matches saved rows to requests with it ("" mode: the engine's default,
    which a saved row of that run matches whatever the default is called)."""
    return (framework, model_id, seed, mode, config_key(config or {}))


def config_key(config: dict) -> tuple:
    """A sweep configuration as a hashable, order-free key."""
    return tuple(sorted(config.items()))


def save_results(path: Path, meta: "dict | RunMeta", results: list[RunResult]) -> None:
    """Save the run's metadata and every result as strict JSON, atomically (NaN and inf become null).

    A diverged row keeps its status and its message, which names the value the loss became.
    """
    payload = finite_or_null({"meta": meta if isinstance(meta, dict) else meta.to_dict(), "results": [asdict(r) for r in results]})
    atomic_write_text(Path(path), json.dumps(payload, indent=2, allow_nan=False))


def load_results(path: Path) -> tuple[dict, list[RunResult]]:
    """Read a file written by `save_results`."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    return payload.get("meta", {}), [RunResult.from_dict(r) for r in payload.get("results", [])]
