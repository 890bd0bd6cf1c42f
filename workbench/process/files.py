"""Files the workbench writes: atomically (never half-written), only over regular files, and as strict JSON (no NaN).

    check_target(path)                 # UnsafeTarget (an OSError) for a FIFO, a device, a symlink, a folder, a loop
    atomic_write_text(path, text)      # the same check, then a short temporary name in the folder and a rename
"""

from __future__ import annotations

import errno
import math
import os
import stat
import tempfile
from pathlib import Path

TEMP_PREFIX, TEMP_SUFFIX = ".fb-", ".tmp"  # the temporary name is short whatever the target's: `.fb-XXXXXXXX.tmp`
KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))  # fmt: skip


class UnsafeTarget(OSError):
    """A path the workbench will not write a file at; its strerror says why in a few words."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(errno.EINVAL, reason, str(path))

    def __str__(self) -> str:
        return f"{self.filename} {self.strerror}"


def resolve(path: str | Path) -> Path:
    """The absolute path with its links followed; a symlink loop is an UnsafeTarget, not a RuntimeError."""
    try:
        return Path(path).resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        raise UnsafeTarget(path, "is a symbolic link loop") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeTarget(path, "is a symbolic link loop") from None
        raise


def name_max(folder: Path) -> int:
    """The longest file name the folder's file system takes, in bytes (255 where it does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def target_problem(path: str | Path) -> str | None:
    """Why no file may be written at `path` ("is a FIFO (named pipe), not a regular file"), or None.

    A missing path is fine (its folder is checked elsewhere), and so is a regular file, which is replaced;
    anything else is refused, a symbolic link too: the write would replace the link, not its target.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        reasons = {errno.ELOOP: "is a symbolic link loop", errno.ENAMETOOLONG: "has a name too long for the file system"}
        return reasons.get(exc.errno, f"cannot be read ({exc.strerror or exc})")
    for is_kind, kind in KINDS:
        if mode is not None and is_kind(mode):
            if kind == "a symbolic link":
                try:
                    resolve(path)
                except UnsafeTarget as exc:
                    return exc.strerror
                return f"is a symbolic link (to {os.readlink(path)}), not a regular file: name the file itself"
            return f"is {kind}, not a regular file"
    limit = name_max(path.parent if path.parent.is_dir() else Path("."))
    if len(os.fsencode(path.name)) > limit:
        return f"has a file name longer than the file system's {limit} bytes"
    return None


def check_target(path: str | Path) -> None:
    """UnsafeTarget unless a regular file may be written at `path` (see `target_problem`)."""
    problem = target_problem(path)
    if problem is not None:
        raise UnsafeTarget(path, problem)


def new_file_mode() -> int:
    """The mode a new file gets from open(): 0o666 less the process's umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a short-named temporary file in the same folder, then rename: never a half-written file.

    Refuses (UnsafeTarget) a path that is not a regular file; an existing file keeps its mode, a new one gets the
    mode open() would give it.
    """
    path = Path(path)
    check_target(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
        check_target(path)  # again: it may have been swapped for a link or a FIFO meanwhile
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """`atomic_write_bytes` of the text in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def finite_or_null(value: object) -> object:
    """`value` with every NaN or infinite float replaced by None, in nested dicts and lists: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def is_writable(folder: Path) -> bool:
    """Really try to create a file in `folder`: permission bits say little for root or special file systems."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True
