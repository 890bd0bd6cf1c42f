"""RunMeta: the facts of one comparison that every row shares (the tables' header), saved as the results' "meta"."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class RunMeta:
    """The header facts of a run; its JSON keys are those of the untyped dict earlier versions saved."""

    task: str = "?"  # the task's registry name
    title: str = ""  # the spec's title
    variant: str = ""  # the variant trained (--model; its default is the task's first)
    device: str = "?"  # the device kind every row was asked to run on: "cpu" or "cuda"
    device_asked: str = ""  # --device as given: auto, cpu or cuda
    device_note: str = ""  # how --device auto resolved, and which frameworks run on the CPU only
    precision: str = ""  # fp32, tf32, bf16 or fp16 ("" in files saved before --precision)
    tf32: bool = False  # precision == "tf32" (kept for files read by older versions)
    threads: int | str = "?"  # threads of every row
    seed: int | str = "?"  # the seed, or "first..last" for --repeats
    dtype: str = "?"  # float32 or float64
    optimizer: str = ""  # tasks.optimizers.describe of the spec's optimizer ("" in files saved before --optimizer)
    loss: str = "?"  # the spec's loss
    augment: str = ""  # what --augment trains on ("" for off)
    determinism: str = ""  # files saved before the rows recorded their adapters' settings: the CUDA header line
    dry_run: bool = False  # --dry-run
    executor: str = "local"  # local or ray
    sweep: dict = field(default_factory=dict)  # the --sweep grid: key -> values
    argv: list[str] = field(default_factory=list)  # the command line: --resume parses it again
    spec_lines: list[str] = field(default_factory=list)  # --spec: the resolved spec, every field (defaults included)
    spec: str = ""  # the resolved spec as JSON (tasks/spec_io.py): a report rebuilt with --from shows it ("" in older files)

    def to_dict(self) -> dict:
        """The JSON form saved with the results."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunMeta":
        """Read a saved "meta" (unknown keys ignored, missing ones at their defaults): old files stay readable."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known and v is not None})
