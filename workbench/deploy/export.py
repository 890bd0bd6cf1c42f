"""Runs in the row's training process, after evaluation: write every artifact, then have them checked.

The row's export folder gets check.npz (the first test samples and the in-memory model's logits),
weights.npz (canonical layout, checksummed), each artifact the adapter lists in EXPORTS, and
export.json (what was written and every file's sha256). A failed export is its own cell; a missing
package makes its artifact `skipped`. Then one fresh process reads every artifact back (verify.py).
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from types import ModuleType

import numpy as np

from tasks.pipeline import Dataset
from tasks.spec import TaskSpec
from tasks.spec_io import spec_to_json
from workbench.deploy.checks import CHECK_SAMPLES, predict_all
from workbench.deploy.manifest import CHECK_FILE, write_manifest
from workbench.deploy.reload import WEIGHTS
from workbench.deploy.verify import reload_checks
from workbench.deploy.weights_file import save_weights
from workbench.process.lines import one_line
from workbench.run.result import ArtifactRecord

WEIGHTS_ROUTE = "np.savez (canonical layout, sha256 in __meta__)"
WEIGHTS_LOADER = "np.load(allow_pickle=False) + Network.set_weights"


def row_folder(task: str, framework: str, model: str, suffix: str = "") -> str:
    """`<task>-<framework>-<model>`, with a suffix where one run has several such rows (seeds, variants)."""
    return f"{task}-{framework}-{model}{suffix}"


def _missing(packages: tuple[str, ...]) -> list[str]:
    found = []
    for package in packages:
        try:
            found.append(importlib.util.find_spec(package) is not None)
        except ImportError:
            found.append(False)
    return [p for p, ok in zip(packages, found) if not ok]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _write(folder: Path, artifact: str, write) -> ArtifactRecord:  # noqa: ANN001 - write(path) -> route
    """Time one export; an exception becomes `export failed: <reason>` and leaves no partial file."""
    path = folder / artifact
    start = time.perf_counter()
    try:
        route = write(str(path))
    except Exception as exc:  # noqa: BLE001 - this artifact fails alone: the others and the row go on
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        return ArtifactRecord(artifact, status=f"export failed: {one_line(exc)}")
    return ArtifactRecord(artifact, route=route, size_bytes=_size(path), export_s=time.perf_counter() - start)


def export_row(module: ModuleType, network, spec: TaskSpec, data: Dataset, folder: Path, framework: str,  # noqa: ANN001
               threads: int, dtype: str, latency_calls: int) -> list[ArtifactRecord]:  # fmt: skip
    """Write and check every artifact of a trained network; returns one record per artifact."""
    folder.mkdir(parents=True, exist_ok=True)
    X_check = data.X_test[:CHECK_SAMPLES]
    np.savez(folder / CHECK_FILE, X=X_check, logits=predict_all(network.predict, X_check))
    weights = _write(folder, WEIGHTS, lambda path: save_weights(Path(path), network.get_weights(), spec.name, framework) or WEIGHTS_ROUTE)
    records = [replace(weights, form="native predict", loader=WEIGHTS_LOADER)]
    exports = getattr(module, "EXPORTS", None)
    if not exports:
        records.append(ArtifactRecord("(native formats)", status=f"skipped: {framework} has no export"))
    for artifact, export in (exports or {}).items():
        missing = _missing(export.packages)
        if missing:
            record = ArtifactRecord(artifact, status=f"skipped: not installed: {', '.join(missing)}")
        else:
            record = _write(folder, artifact, lambda path: module.export(network, artifact, path))
        records.append(replace(record, form=export.form, loader=export.loader))
    request = {"spec": spec_to_json(spec), "threads": threads, "dtype": dtype}
    records = reload_checks(framework, folder, records, request, data.X_test, latency_calls)
    written = [r.artifact for r in records if r.size_bytes is not None]
    write_manifest(folder, {"task": spec.name, "framework": framework, "model": network.model_label, "request": request,
                            "artifacts": [asdict(r) for r in records]}, written)  # fmt: skip
    return records
