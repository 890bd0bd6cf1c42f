"""`compare.py --report DIR --from RUN.json [MORE.json ...]`: the HTML report rebuilt from saved results, nothing trained.

Several files of one task (a Ray sweep saved in parts, runs of one task on different machines) make one page.
Result files are data: each must be a regular file under MAX_BYTES holding strict JSON in the shape
`workbench.run.result.save_results` writes; anything else, or files of different tasks, is refused with a
ResultsFileError whose message is one line.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Sequence

from tasks.overrides import with_overrides
from tasks.spec import TaskSpec
from tasks.spec_io import spec_from_json
from workbench.run.result import RunResult

MAX_BYTES = 256 * 1024 * 1024  # a results file larger than this is not read
REQUIRED = ("task", "framework", "model", "status")  # keys every saved result has


class ResultsFileError(ValueError):
    """A file given to --from is not a framebench results file, or the files are of different tasks (one line)."""


def read_results_file(path: Path) -> tuple[dict, list[RunResult]]:
    """The meta and results of one saved run, checked before and after reading (ResultsFileError if not results)."""
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ResultsFileError(f"--from {path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ResultsFileError(f"--from {path}: not a regular file")
    if info.st_size > MAX_BYTES:
        raise ResultsFileError(f"--from {path}: {info.st_size:,} bytes, more than a results file may hold ({MAX_BYTES:,})")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"--from {path}: not a results file (not JSON: {str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise ResultsFileError(f"--from {path}: cannot read it ({exc.strerror})") from None
    if not (isinstance(payload, dict) and isinstance(payload.get("meta"), dict) and isinstance(payload.get("results"), list)):
        raise ResultsFileError(f"--from {path}: not a results file (no 'meta' object and 'results' list)")
    results = []
    for i, item in enumerate(payload["results"]):
        missing = [k for k in REQUIRED if not isinstance(item, dict) or not isinstance(item.get(k), str)]
        if missing:
            raise ResultsFileError(f"--from {path}: not a results file (result {i} has no {', '.join(missing)})")
        try:
            results.append(RunResult.from_dict(item))
        except (TypeError, ValueError) as exc:
            raise ResultsFileError(f"--from {path}: not a results file (result {i}: {str(exc).splitlines()[0]})") from None
    if not results:
        raise ResultsFileError(f"--from {path}: holds no results")
    return payload["meta"], results


def load_runs(paths: Sequence[Path]) -> tuple[dict, list[RunResult]]:
    """Every file's results in the order given, under the first file's meta; files of different tasks are refused."""
    if not paths:
        raise ResultsFileError("--from needs at least one results file")
    loaded = [(Path(p), *read_results_file(Path(p))) for p in paths]
    tasks: dict[str, list[str]] = {}
    for path, meta, results in loaded:
        for task in {meta.get("task"), *(r.task for r in results)} - {None}:
            tasks.setdefault(str(task), []).append(path.name)
    if len(tasks) > 1:
        said = "; ".join(f"{task}: {', '.join(dict.fromkeys(names))}" for task, names in tasks.items())
        raise ResultsFileError(f"--from: results of different tasks cannot share a report ({said})")
    meta = dict(loaded[0][1])
    meta.setdefault("task", next(iter(tasks)))
    return meta, [r for _, _, results in loaded for r in results]


def saved_spec(meta: dict, results: Sequence[RunResult] = ()) -> tuple[TaskSpec | None, str]:
    """The run's spec and where it came from: the one saved in meta['spec'] (workbench.run.meta.RunMeta.spec), else
    (files saved before it) the task's registered spec (its variant) as it is today, with the epochs every trained
    row ran; None when the task is not registered here."""
    if isinstance(meta.get("spec"), str):
        try:
            return spec_from_json(meta["spec"]), "saved with the results"
        except (ValueError, TypeError, KeyError):
            pass
    from tasks import registry

    try:
        variant = meta.get("variant")
        task = registry.get(str(meta.get("task")))
        spec = task.variant(variant if variant in task.variant_names() else None)
    except KeyError:
        return None, "not shown: the task is not registered in this checkout"
    epochs = {len(r.history) for r in results if r.history}
    if len(epochs) == 1:  # what the rows ran, whatever --epochs said
        spec = with_overrides(spec, epochs=epochs.pop())
    return spec, ("the task's registered spec in this checkout, with the epochs the rows ran (the results carry no "
                  "spec; the command shows any other overrides)")


def rebuild_report(folder: Path, paths: Sequence[Path], explain: bool = True) -> list[Path]:
    """Render FOLDER/index.html (and FOLDER/results.json, every file's rows in one) from saved result files without
    training; returns the paths written."""
    from workbench.report.html import write_html_report

    meta, results = load_runs(paths)
    spec, where = saved_spec(meta, results)
    frameworks = list(dict.fromkeys(r.framework for r in results))
    return write_html_report(folder, results, meta, spec, frameworks, explain=explain, sources=[str(p) for p in paths],
                             spec_note=where)  # fmt: skip
