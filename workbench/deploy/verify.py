"""Asks a fresh process to read back a row's artifacts (workbench.deploy.reload), and `--verify-export DIR`.

The training process never checks its own files: one new process per row imports the framework again
and reads every artifact with the framework's own loader, as a user deploying it would.

What `--verify-export` guarantees: every file is a regular file whose sha256 matches export.json, and every
artifact it loads is hashed there. Without a key that catches accidental corruption, not forgery (anyone who
can edit the folder can rehash the manifest), so an artifact whose loader can run operations stored in the
file (its Export says `runs_code`: a TensorFlow graph, a pickle, a torch.export program) is refused unless the
user trusts the folder. With `--signing-key FILE`, an HMAC over the manifest proves that neither the manifest
nor any file changed since it was signed, and every artifact is loaded.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np

from frameworks.base import framework_names
from tasks.spec_io import spec_from_json
from workbench.deploy.checks import LATENCY_CALLS
from workbench.deploy.manifest import MANIFEST, ArtifactError, read_check, read_manifest
from workbench.deploy.reload import WEIGHTS
from workbench.deploy.reload import answer as reload_answer
from workbench.process.ask import AskError, ask
from workbench.run.result import ArtifactRecord

VERIFY_TIMEOUT_S = 1800  # reading back and timing every artifact of one row (LSTM test sets in ONNX Runtime are slow)
TRUST_FLAG = "--trust-artifacts"
UNSIGNED_NOTE = ("verified without --signing-key: the sha256 hashes catch accidental corruption (a truncated or changed "
                 "file), not forgery (whoever can edit the folder can rehash export.json); artifacts that can run code "
                 f"were {{}}")  # fmt: skip
REFUSED = "refused"  # the status of an artifact that was not loaded because it can run code and is not trusted


def unsigned_note(trust: bool) -> str:
    """The one line printed after a verification without a key: what it can and cannot guarantee."""
    return UNSIGNED_NOTE.format(f"loaded because of {TRUST_FLAG}" if trust else "refused")


def _refusal(module: ModuleType, artifact: str) -> str | None:
    """Why this artifact is not loaded from an untrusted folder, or None if its loader runs no stored code."""
    if artifact == WEIGHTS:
        return None  # read by workbench.deploy.weights_file: arrays only
    export = getattr(module, "EXPORTS", {}).get(artifact)
    if export is None:
        return f"{REFUSED}: {module.NAME} writes no artifact {artifact!r}"
    if getattr(export, "runs_code", True):
        return (f"{REFUSED}: its loader ({export.loader}) can run operations stored in the file, and the manifest is not "
                f"signed: pass --signing-key FILE (the export's key) or {TRUST_FLAG} to load it")  # fmt: skip
    return None


def answer_untrusted(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """reload.answer for the artifacts safe to load from an untrusted folder; the others are refused unread."""
    refused = {a: {"status": why} for a in request["artifacts"] if (why := _refusal(module, a))}
    checks: dict = {}
    safe = [a for a in request["artifacts"] if a not in refused]
    if safe:
        checks = reload_answer(module, {**request, "artifacts": safe}, arrays)[0]["checks"]
    return {"checks": {**checks, **refused}}, {}


def reload_checks(framework: str, folder: Path, records: list[ArtifactRecord], request: dict, X_test: np.ndarray,
                  latency_calls: int = LATENCY_CALLS, trusted: bool = True) -> list[ArtifactRecord]:  # fmt: skip
    """The records with their fresh-process checks filled in (only artifacts whose export succeeded are read).

    trusted=False: artifacts whose loader can run stored code are refused unread (status "refused: ...").
    """
    written = [r.artifact for r in records if r.status == "ok"]
    if not written:
        return records
    X_check, logits = read_check(folder)
    arrays = {"X_check": X_check, "logits": logits, "X_test": X_test}
    question = {**request, "folder": str(folder), "artifacts": written, "latency_calls": latency_calls}
    try:
        answer, _ = ask(reload_answer if trusted else answer_untrusted, framework, question, arrays,
                        threads=request["threads"], timeout=VERIFY_TIMEOUT_S)  # fmt: skip
    except AskError as exc:  # the fresh process itself failed: every artifact it should have read says so
        return [replace(r, status=f"reload failed: {exc}") if r.status == "ok" else r for r in records]
    checks = answer["checks"]
    return [replace(r, **checks[r.artifact]) if r.artifact in checks else r for r in records]


def row_folders(directory: Path) -> list[Path]:
    """The export folders in DIR (each holds an export.json), or DIR itself if it is one."""
    if (directory / MANIFEST).exists() or (directory / MANIFEST).is_symlink():
        return [directory]
    folders = sorted(p.parent for p in directory.glob(f"*/{MANIFEST}"))
    if not folders:
        raise ArtifactError(f"{directory}: no {MANIFEST} in it or in its sub-folders: not a --export folder")
    return folders


def _records(manifest: dict, path: Path) -> list[ArtifactRecord]:
    """The manifest's artifact records with their measured fields cleared (they are measured again)."""
    if manifest["framework"] not in framework_names():
        raise ArtifactError(f"{path}: framework {manifest['framework'][:40]!r} is not one of {', '.join(framework_names())}")
    try:
        spec_from_json(manifest["request"]["spec"])
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise ArtifactError(f"{path}: its request's spec is not a task spec ({type(exc).__name__})") from None
    cleared = dict(max_abs=None, max_rel=None, latency_ms_p50=None, latency_ms_p95=None, infer_throughput=None)
    return [replace(ArtifactRecord(**record), **cleared) for record in manifest["artifacts"]]


def verify_folder(folder: Path, latency_calls: int = LATENCY_CALLS, signing_key: bytes | None = None,
                  trust: bool = False) -> tuple[dict, list[ArtifactRecord]]:  # fmt: skip
    """Check one export folder again: manifest, signature and hashes first (ArtifactError), then every artifact in a
    fresh process. Artifacts that can run stored code load only under a verified signature or trust=True."""
    manifest = read_manifest(folder, signing_key)
    records = _records(manifest, folder / MANIFEST)
    X_check, _ = read_check(folder)
    trusted = trust or signing_key is not None  # read_manifest verified the signature
    checked = reload_checks(manifest["framework"], folder, records, manifest["request"], X_check, latency_calls, trusted)
    failed = [r for r in checked if r.status.startswith(("reload failed", REFUSED))]
    if failed:
        raise ArtifactError(f"{folder / failed[0].artifact}: {failed[0].status}")
    return manifest, checked
