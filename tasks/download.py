"""Verified, atomic, cached downloads and safe archive extraction.

A file is used only after its size and checksum match the table entry (`RemoteFile`).
Downloads go to a temporary file in the destination folder, are verified, and only
then renamed into place with `os.replace`, so an interrupted run never leaves a file
that a later run would trust. Archives are extracted into a temporary folder first
and moved into place entry by entry, after every member has been checked. The caches built from the
data (write_atomically) follow the same rule.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tqdm import tqdm

_CHUNK = 1 << 20  # bytes read per step when hashing or downloading
_TIMEOUT_S = 60  # socket timeout for one url


class DataError(Exception):
    """A one-line, user-facing message naming the file, what is wrong and the fix."""


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its name, mirrors (tried in order) and expected checksums."""

    filename: str  # name on disk, inside DIR/<subdir>/
    urls: tuple[str, ...]  # mirrors, tried in this order
    sha256: str | None = None  # expected hex digest, checked when given
    md5: str | None = None  # expected hex digest, checked when given
    size: int | None = None  # expected size in bytes, checked first (cheap)


def cache_dir() -> Path:
    """The user cache: $FRAMEBENCH_CACHE, else $XDG_CACHE_HOME/framebench, else ~/.cache/framebench."""
    if os.environ.get("FRAMEBENCH_CACHE"):
        return Path(os.environ["FRAMEBENCH_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "framebench"


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for data, in order: data_dir (--data-dir), $FRAMEBENCH_DATA (os.pathsep list), cache_dir()."""
    candidates: list[tuple[Path, str]] = []
    if data_dir is not None and str(data_dir) != "":
        candidates.append((Path(data_dir).expanduser(), "--data-dir"))
    for part in os.environ.get("FRAMEBENCH_DATA", "").split(os.pathsep):
        if part:
            candidates.append((Path(part).expanduser(), "FRAMEBENCH_DATA"))
    candidates.append((cache_dir(), "the cache folder (FRAMEBENCH_CACHE)"))
    dirs: list[Path] = []
    for path, origin in candidates:
        if path.exists() and not path.is_dir():
            raise DataError(
                f"{path} (from {origin}) is a file, not a folder: point it at the folder "
                "that holds mnist/, cifar10/ and imdb/"
            )
        if path not in dirs:
            dirs.append(path)
    return dirs


def _offline() -> bool:
    return os.environ.get("FRAMEBENCH_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _mismatch(path: Path, remote: RemoteFile) -> str | None:
    """What is wrong with path's size or checksums (e.g. "has sha256 X, expected Y"), or None."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"has {size:,} bytes, expected {remote.size:,}"
    hashers = []
    if remote.sha256:
        hashers.append(("sha256", hashlib.sha256(), remote.sha256.lower()))
    if remote.md5:
        hashers.append(("md5", hashlib.md5(usedforsecurity=False), remote.md5.lower()))
    if hashers:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                for _, h, _ in hashers:
                    h.update(chunk)
    for name, h, expected in hashers:
        if h.hexdigest() != expected:
            return f"has {name} {h.hexdigest()}, expected {expected}"
    return None


def verify_file(path: Path, remote: RemoteFile) -> None:
    """Check size and checksums of path against remote; raise DataError on any mismatch."""
    path = Path(path)
    fix = "delete it and run again to re-download it, or replace it with a good copy"
    try:
        problem = _mismatch(path, remote)
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e.strerror or e}): check its permissions or {fix}") from e
    if problem:
        raise DataError(f"{path} {problem} (corrupt, incomplete or wrong file): {fix}")


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """write(f) into a temporary file in path's folder, then os.replace it to path: a reader sees the old file or the
    whole new one, never a part; a failure leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(url: str, target: Path, remote: RemoteFile) -> None:
    """Download url to a temp file next to target, verify it, then os.replace it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
            total = int(length) if length and length.isdigit() else remote.size
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, file=sys.stderr,
                      leave=False) as bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
                    if remote.size is not None and bar.n > remote.size:
                        raise DataError(f"the server sent more than the expected {remote.size:,} bytes")
            out.flush()
            os.fsync(out.fileno())
        problem = _mismatch(tmp, remote)
        if problem:
            raise DataError(f"the downloaded file {problem}")
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a cache entry is plain data
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # no-op after a successful os.replace


def fetch(remote: RemoteFile, subdir: str, data_dir: str | os.PathLike | None = None,
          *, hint: str = "") -> Path:
    """Return a verified local copy of remote, searching data_dirs() then downloading into cache_dir().

    hint is appended to the 'not found' message (e.g. "or its extracted folder aclImdb/").
    """
    dirs = data_dirs(data_dir)
    for d in dirs:
        path = d / subdir / remote.filename
        if path.is_file():
            verify_file(path, remote)
            return path
    searched = ", ".join(str(d / subdir) for d in dirs)
    how = (f"put {remote.filename}{(' ' + hint) if hint else ''} in one of those folders, "
           f"or pass --data-dir DIR / set FRAMEBENCH_DATA=DIR with it in DIR/{subdir}/")
    if _offline():
        raise DataError(f"{remote.filename} not found (searched {searched}) and FRAMEBENCH_OFFLINE=1 "
                        f"forbids downloading: {how}")
    target = cache_dir() / subdir / remote.filename
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {target.parent} ({e.strerror or e}): "
                        f"set FRAMEBENCH_CACHE to a writable folder, or {how}") from e
    failures = []
    for url in remote.urls:
        try:
            _download(url, target, remote)
            return target
        except (OSError, urllib.error.URLError, ValueError, DataError) as e:
            reason = e if isinstance(e, urllib.error.HTTPError) else (getattr(e, "reason", None) or e)
            failures.append(f"{url}: {reason}".replace("\n", " "))
    raise DataError(f"{remote.filename} not found (searched {searched}) and could not be downloaded "
                    f"({'; '.join(failures) or 'no urls'}): {how}")


def _check_member(m: tarfile.TarInfo, archive: Path) -> None:
    """Refuse a member that would write outside dest, or is not a file, folder or internal link."""
    def refuse(why: str) -> DataError:
        return DataError(f"{archive}: refused to extract member {m.name!r}: {why}; "
                         "the archive is unsafe or corrupt, delete it and download it again")

    name = PurePosixPath(m.name)
    if m.name.startswith(("/", "\\")) or name.is_absolute() or (len(m.name) > 1 and m.name[1] == ":"):
        raise refuse("absolute path")
    if ".." in name.parts:
        raise refuse("path contains '..'")
    if m.isdev():
        raise refuse("device file or fifo")
    if m.issym() or m.islnk():
        link = PurePosixPath(m.linkname)
        if m.linkname.startswith(("/", "\\")) or link.is_absolute():
            raise refuse(f"link to absolute path {m.linkname!r}")
        # a symlink resolves against its own folder, a hard link against the archive root
        base = name.parent.parts if m.issym() else ()
        depth = 0
        for part in (*base, *link.parts):
            depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
            if depth < 0:
                raise refuse(f"link to {m.linkname!r} points outside the destination")
    elif not (m.isfile() or m.isdir()):
        raise refuse("unsupported member type")


def safe_extract_tar(archive: Path, dest: Path) -> None:
    """Extract a (gzipped) tar into dest after checking every member; refuse unsafe or corrupt archives.

    Extraction goes to a temporary folder inside dest; each top-level entry is then renamed into
    dest. A folder that already exists in dest (e.g. extracted by a concurrent run) is left as is.
    """
    archive, dest = Path(archive), Path(dest)
    corrupt = f"{archive} is truncated or corrupt: delete it and download it again"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    except OSError as e:
        raise DataError(f"cannot extract {archive} into {dest} ({e.strerror or e}): make {dest} "
                        "writable or extract the archive there yourself") from e
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()  # reads the whole stream: truncation shows up here
            for m in members:
                _check_member(m, archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # pragma: no cover - Python without PEP 706 backport
                tar.extractall(tmp, members=members)
        for entry in sorted(tmp.iterdir()):
            try:
                os.rename(entry, dest / entry.name)
            except OSError:
                if not (dest / entry.name).exists():
                    raise
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{corrupt} ({e})".replace("\n", " ")) from e
    except OSError as e:
        raise DataError(f"cannot extract {archive} into {dest} ({e.strerror or e}): free space "
                        f"or fix permissions in {dest}, then run again") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
