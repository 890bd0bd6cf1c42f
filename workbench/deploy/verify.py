"""Asks a fresh process to read back a row's artifacts (workbench.deploy.reload), and `--verify-export DIR`.

The training process never checks its own files: one new process per row imports the framework again
and reads every artifact with the framework's own loader, as a user deploying it would.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from workbench.deploy.checks import LATENCY_CALLS
from workbench.deploy.manifest import CHECK_FILE, MANIFEST, ArtifactError, read_manifest
from workbench.deploy.reload import answer as reload_answer
from workbench.process.ask import AskError, ask
from workbench.run.result import ArtifactRecord

ASK_TIMEOUT_S = 1800  # reading back and timing every artifact of one row (LSTM test sets in ONNX Runtime are slow)


def reload_checks(framework: str, folder: Path, records: list[ArtifactRecord], request: dict, X_test: np.ndarray,
                  latency_calls: int = LATENCY_CALLS) -> list[ArtifactRecord]:  # fmt: skip
    """The records with their fresh-process checks filled in (only artifacts whose export succeeded are read)."""
    written = [r.artifact for r in records if r.status == "ok"]
    if not written:
        return records
    with np.load(folder / CHECK_FILE, allow_pickle=False) as check:
        arrays = {"X_check": check["X"], "logits": check["logits"], "X_test": X_test}
    question = {**request, "folder": str(folder), "artifacts": written, "latency_calls": latency_calls}
    try:
        answer, _ = ask(reload_answer, framework, question, arrays, threads=request["threads"], timeout=ASK_TIMEOUT_S)
    except AskError as exc:  # the fresh process itself failed: every artifact it should have read says so
        return [replace(r, status=f"reload failed: {exc}") if r.status == "ok" else r for r in records]
    checks = answer["checks"]
    return [replace(r, **checks[r.artifact]) if r.artifact in checks else r for r in records]


def row_folders(directory: Path) -> list[Path]:
    """The export folders in DIR (each holds an export.json), or DIR itself if it is one."""
    if (directory / MANIFEST).is_file():
        return [directory]
    folders = sorted(p.parent for p in directory.glob(f"*/{MANIFEST}"))
    if not folders:
        raise ArtifactError(f"{directory}: no {MANIFEST} in it or in its sub-folders: not a --export folder")
    return folders


def verify_folder(folder: Path, latency_calls: int = LATENCY_CALLS) -> tuple[dict, list[ArtifactRecord]]:
    """Check one export folder again: file hashes first (ArtifactError), then every artifact in a fresh process."""
    manifest = read_manifest(folder)
    records = [ArtifactRecord(**record) for record in manifest["artifacts"]]
    records = [replace(r, max_abs=None, max_rel=None, latency_ms_p50=None, latency_ms_p95=None, infer_throughput=None) for r in records]
    with np.load(folder / CHECK_FILE, allow_pickle=False) as check:
        X_check = check["X"]
    checked = reload_checks(manifest["framework"], folder, records, manifest["request"], X_check, latency_calls)
    failed = [r for r in checked if r.status.startswith("reload failed")]
    if failed:
        raise ArtifactError(f"{folder / failed[0].artifact}: {failed[0].status}")
    return manifest, checked
