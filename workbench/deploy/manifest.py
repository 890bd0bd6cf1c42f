"""export.json in each row's export folder: what was written, by whom, the sha256 of every file, and a signature.

`--verify-export` reads it back as data (tasks/safe_files.py: a regular file, size-limited) and refuses,
before any loader sees a file, a manifest that is malformed, whose signature does not verify under the
given key, that leaves an artifact without a hash, or that names a file whose hash differs or that is
not a regular file (a FIFO, a device, a symbolic link).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import fields
from pathlib import Path

import numpy as np

from tasks.download import DataError
from tasks.safe_files import SafeNpz, open_regular, read_json, regular_files
from workbench.deploy.signing import SIGNATURE, signature_problem, signed
from workbench.run.result import ArtifactRecord, atomic_write_text

FORMAT = "framebench-export/1"
MANIFEST = "export.json"
CHECK_FILE = "check.npz"  # the first test samples and the in-memory model's logits for them
MAX_MANIFEST_BYTES = 16 << 20
MAX_FILE_BYTES = 8 << 30  # one artifact file (ONNX itself stops at 2 GiB)
MAX_CHECK_BYTES = 1 << 30  # check.npz: CHECK_SAMPLES inputs and their logits
ROW_FIELDS = {"task": str, "framework": str, "model": str, "request": dict, "artifacts": list, "files": dict}
RECORD_FIELDS = {f.name: f.type for f in fields(ArtifactRecord)}  # "str", "int | None", "float | None"
SHA256 = re.compile(r"[0-9a-f]{64}")


class ArtifactError(DataError):
    """An export folder that cannot be trusted: the message names the file."""


def file_hash(path: Path) -> str:
    """sha256 of a file, or of a folder (every file's relative path and bytes, in sorted order).

    Regular files only: a FIFO, device or symbolic link in the way is an ArtifactError, never read.
    """
    digest = hashlib.sha256()
    for file in regular_files(path, ArtifactError):
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        with open_regular(file, MAX_FILE_BYTES, ArtifactError, "exported file") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, row: dict, written: list[str], signing_key: bytes | None = None) -> None:
    """Record the row (task, framework, spec, settings) and the hash of every written file; signed if a key is given."""
    manifest = {"format": FORMAT, **row, "files": {name: file_hash(folder / name) for name in [CHECK_FILE, *written]}}
    atomic_write_text(folder / MANIFEST, json.dumps(signed(manifest, signing_key) if signing_key else manifest, indent=2))


def sign_folder(folder: Path, signing_key: bytes) -> None:
    """Sign an export folder's manifest after checking it and every file's hash (for `--export --signing-key`)."""
    manifest = read_manifest(folder)
    atomic_write_text(folder / MANIFEST, json.dumps(signed(manifest, signing_key), indent=2))


def sign_folders(folders: list[Path], signing_key: bytes) -> list[Path]:
    """Sign every folder of `folders` that holds a manifest (each checked first); the folders signed."""
    signed_folders = [folder for folder in folders if (folder / MANIFEST).is_file()]
    for folder in signed_folders:
        sign_folder(folder, signing_key)
    return signed_folders


def _plain_name(name: object) -> bool:
    """A file or folder name directly inside the export folder: no path, no '..', not the manifest."""
    return isinstance(name, str) and name not in ("", ".", "..", MANIFEST) and "/" not in name and "\\" not in name and "\0" not in name


def _value_ok(value: object, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value is None or (number and (kind != "int | None" or isinstance(value, int)))


def _check_record(record: object, path: Path, seen: set[str]) -> None:
    if not isinstance(record, dict):
        raise ArtifactError(f"{path}: an artifacts entry is {type(record).__name__}, not a record")
    unknown = sorted(set(record) - set(RECORD_FIELDS))
    if unknown:
        raise ArtifactError(f"{path}: an artifacts record has unknown field {unknown[0][:40]!r}")
    name = record.get("artifact")
    if not isinstance(name, str) or (record.get("status", "ok") == "ok" and not _plain_name(name)):
        raise ArtifactError(f"{path}: an artifacts record names {str(name)[:80]!r}, not a file of the folder")
    for field, value in record.items():
        if not _value_ok(value, RECORD_FIELDS[field]):
            raise ArtifactError(f"{path}: artifact record field {field!r} is {type(value).__name__}, not {RECORD_FIELDS[field]}")
    if name in seen:
        raise ArtifactError(f"{path}: artifact {name[:80]!r} is listed twice")
    seen.add(name)


def _check_schema(manifest: object, path: Path) -> dict:
    """The manifest if it has every field with its type; ArtifactError naming the first that is wrong."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a {FORMAT} manifest")
    for name, kind in ROW_FIELDS.items():
        if name not in manifest:
            raise ArtifactError(f"{path}: no {name!r} field: not a complete {FORMAT} manifest")
        if not isinstance(manifest[name], kind):
            raise ArtifactError(f"{path}: {name!r} is {type(manifest[name]).__name__}, not {kind.__name__}")
    request = manifest["request"]
    if not isinstance(request.get("spec"), str) or type(request.get("threads")) is not int or request["threads"] < 1 \
            or request.get("dtype") not in ("float32", "float64"):  # fmt: skip
        raise ArtifactError(f"{path}: its 'request' needs spec (JSON text), threads (>= 1) and dtype (float32 or float64)")
    seen: set[str] = set()
    for record in manifest["artifacts"]:
        _check_record(record, path, seen)
    for name, digest in manifest["files"].items():
        if not _plain_name(name) or not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise ArtifactError(f"{path}: files entry {name[:80]!r} is not a file name with its sha256")
    if SIGNATURE in manifest and not isinstance(manifest[SIGNATURE], dict):
        raise ArtifactError(f"{path}: its signature is not an object")
    return manifest


def read_manifest(folder: Path, signing_key: bytes | None = None) -> dict:
    """The manifest, after checking its form, its signature (with a key) and every file against its hash.

    Every artifact to be loaded (status ok) must have a hash, as must check.npz; ArtifactError otherwise.
    """
    path = folder / MANIFEST
    manifest = _check_schema(read_json(path, ArtifactError, "export manifest", MAX_MANIFEST_BYTES), path)
    if signing_key is not None:
        problem = signature_problem(manifest, signing_key)
        if problem:
            raise ArtifactError(f"{path}: {problem}")
    unhashed = [r["artifact"] for r in manifest["artifacts"] if r.get("status", "ok") == "ok" and r["artifact"] not in manifest["files"]]
    if CHECK_FILE not in manifest["files"] or unhashed:
        name = unhashed[0] if unhashed else CHECK_FILE
        raise ArtifactError(f"{folder / name}: no sha256 for it in {path}: refused (every file read must be hashed)")
    for name, expected in manifest["files"].items():
        if file_hash(folder / name) != expected:
            raise ArtifactError(f"{folder / name}: sha256 differs from {path}: the file was truncated or changed after export")
    return manifest


def read_check(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """check.npz's inputs X and logits (numbers only, one logits row per input); ArtifactError otherwise."""
    path = folder / CHECK_FILE
    with SafeNpz(path, MAX_CHECK_BYTES, ArtifactError, "check file") as npz:
        X, logits = npz.headers.get("X"), npz.headers.get("logits")
        if set(npz.headers) != {"X", "logits"} or X.dtype.kind not in "iuf" or logits.dtype.kind != "f" \
                or len(logits.shape) != 2 or not X.shape or X.shape[0] != logits.shape[0]:  # fmt: skip
            raise ArtifactError(f"{path}: not a check file (numeric X and 2-D float logits, one row per sample)")
        return npz.read("X"), npz.read("logits")
