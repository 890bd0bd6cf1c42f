"""export.json in each row's export folder: what was written, by whom, and the sha256 of every file.

`--verify-export` reads it back: a file whose hash differs (truncated, tampered) is refused before any
loader sees it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tasks.download import DataError
from workbench.run.result import atomic_write_text

FORMAT = "framebench-export/1"
MANIFEST = "export.json"
CHECK_FILE = "check.npz"  # the first test samples and the in-memory model's logits for them


class ArtifactError(DataError):
    """An export folder that cannot be trusted: the message names the file."""


def file_hash(path: Path) -> str:
    """sha256 of a file, or of a folder (every file's relative path and bytes, in sorted order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, row: dict, written: list[str]) -> None:
    """Record the row (task, framework, spec, settings) and the hash of every written file."""
    files = {name: file_hash(folder / name) for name in [CHECK_FILE, *written]}
    atomic_write_text(folder / MANIFEST, json.dumps({"format": FORMAT, **row, "files": files}, indent=2))


def read_manifest(folder: Path) -> dict:
    """The manifest, after checking every file it names against its hash; ArtifactError otherwise."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a readable export manifest ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise ArtifactError(f"{path}: not a {FORMAT} manifest")
    for name, expected in manifest["files"].items():
        target = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts or not target.exists():
            raise ArtifactError(f"{target}: missing (named in {path})")
        if file_hash(target) != expected:
            raise ArtifactError(f"{target}: sha256 differs from {path}: the file was truncated or changed after export")
    return manifest
