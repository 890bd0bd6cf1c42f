"""Reading files that come from outside: regular files only, size-limited, never a pickle, headers checked first.

Export folders, weights files, results files and caches are data. Each is opened with
`O_NOFOLLOW | O_NONBLOCK` and kept only if `fstat` says it is a regular file of at most a stated size,
so a FIFO, a device (`/dev/zero`) or a symbolic link is refused at once instead of blocking or
reading forever. An .npz archive is read member by member: every member's zip entry and npy header
(dtype, shape) are checked before any of its data is read, so a header that declares 10^12 floats or a
zip bomb is refused by its declared sizes, and an object array (a pickle) is never read.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tasks.download import DataError

MAX_JSON_BYTES = 64 << 20  # a manifest or a results file larger than this is refused unread
MAX_NPZ_MEMBERS = 1024  # members of one .npz archive
MAX_NPY_HEADER = 10_000  # bytes of one npy header (numpy's own default limit)
MAX_FOLDER_ENTRIES = 100_000  # files and folders walked inside one artifact folder
NPY_VERSIONS = ((1, 0), (2, 0))  # what np.save writes; 3.0 (utf-8 field names) is never needed here
# Errors that malformed bytes raise inside zipfile and numpy's npy parser: all mean "corrupt".
CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, zlib.error, NotImplementedError,
           RuntimeError, KeyError, OverflowError, TypeError, SyntaxError, struct.error, MemoryError)  # fmt: skip


def float64_npz_limit(shapes: dict[str, tuple[int, ...]], extra_members: int = 0) -> int:
    """The largest .npz a reader of these arrays opens: their data as float64, plus 64 KiB per member (its npy header
    and zip records), `extra_members` (e.g. a JSON member) counted too."""
    return sum(math.prod(shape) * 8 for shape in shapes.values()) + (1 << 16) * (len(shapes) + extra_members)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def open_regular(path: str | os.PathLike, max_bytes: int, error: type[DataError] = DataError, what: str = "file") -> BinaryIO:
    """`path` opened for binary reading if it is a regular file (not a link) of at most max_bytes; `error` otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW on a symbolic link (or a loop of them)
            raise error(f"{path}: a symbolic link, not a regular file: refused (give the file itself)") from None
        raise error(f"{path}: cannot open it ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: {_kind(info.st_mode)}, not a regular file: refused")
        if info.st_size > max_bytes:
            raise error(f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} a {what} may have: refused unread")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, max_bytes: int, error: type[DataError] = DataError, what: str = "file") -> bytes:
    """The whole content of a regular file of at most max_bytes (see `open_regular`)."""
    with open_regular(path, max_bytes, error, what) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after fstat
        raise error(f"{path}: grew past {max_bytes:,} bytes while being read: refused")
    return data


def read_json(path: str | os.PathLike, error: type[DataError] = DataError, what: str = "JSON file",
              max_bytes: int = MAX_JSON_BYTES) -> object:  # fmt: skip
    """The parsed JSON of a regular file (see `open_regular`); `error` for any unreadable or malformed content."""
    data = read_bytes(path, max_bytes, error, what)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise error(f"{path}: not a readable {what} ({type(exc).__name__})") from None


def regular_files(path: Path, error: type[DataError] = DataError) -> list[Path]:
    """`path` itself if it is a regular file, else every regular file under the folder `path`, sorted.

    Nothing is followed: a symbolic link, FIFO, device or socket anywhere inside is an `error`.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise error(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode):
        return [path]
    if not stat.S_ISDIR(mode):
        raise error(f"{path}: {_kind(mode)}, not a regular file or folder: refused")
    found, pending, seen = [], [path], 0
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise error(f"{folder}: cannot list it ({exc.strerror or exc})") from None
        for entry in entries:
            seen += 1
            if seen > MAX_FOLDER_ENTRIES:
                raise error(f"{path}: more than {MAX_FOLDER_ENTRIES:,} entries: refused")
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                pending.append(Path(entry.path))
            elif stat.S_ISREG(mode):
                found.append(Path(entry.path))
            else:
                raise error(f"{entry.path}: {_kind(mode)} inside {path}, not a regular file: refused")
    return sorted(found)


@dataclass(frozen=True)
class NpyHeader:
    """What one .npz member declares about its array, read before any of its data."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int  # bytes of magic + header before the data
    nbytes: int  # bytes of data the shape and dtype declare


class SafeNpz:
    """An .npz archive opened for data only: `headers` lists every member's dtype and shape; `read(name)` reads one.

    Refused (as `error`, one line naming the file): anything but a regular file of at most max_bytes, a member that
    is not an npy array, a duplicate, an object array, a declared size that differs from the member's zip entry,
    and declared sizes that add up to more than max_bytes (a zip bomb is refused before it is inflated).
    """

    def __init__(self, path: str | os.PathLike, max_bytes: int, error: type[DataError] = DataError, what: str = ".npz file"):
        self.path, self.error, self.what = Path(path), error, what
        self._file = open_regular(path, max_bytes, error, what)
        try:
            self._zip = zipfile.ZipFile(self._file)
            self._infos = self._members(max_bytes)
            self.headers = {name: self._header(info) for name, info in self._infos.items()}
        except DataError:
            self.close()
            raise
        except CORRUPT as exc:
            self.close()
            raise self._corrupt(exc) from None

    def _corrupt(self, exc: BaseException) -> DataError:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return self.error(f"{self.path}: not a readable {self.what} (truncated or corrupt: {reason})")

    def _members(self, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_NPZ_MEMBERS:
            raise self.error(f"{self.path}: {len(infos)} members, more than {MAX_NPZ_MEMBERS}: refused")
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else ""
            if not name or info.is_dir():
                raise self.error(f"{self.path}: member {info.filename[:80]!r} is not an .npy array: refused")
            if name in members:
                raise self.error(f"{self.path}: member {name[:80]!r} appears twice: refused")
            members[name] = info
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise self.error(f"{self.path}: its members declare {declared:,} bytes, more than the {max_bytes:,} "
                             f"a {self.what} may hold: refused before inflating")  # fmt: skip
        return members

    def _header(self, info: zipfile.ZipInfo) -> NpyHeader:
        with self._zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in NPY_VERSIONS:
                raise self.error(f"{self.path}: member {info.filename!r} has npy format {version}: refused")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(member, max_header_size=MAX_NPY_HEADER)
            offset = member.tell()
        if dtype.hasobject:
            raise self.error(f"{self.path}: refused: member {info.filename!r} is an object array, which only a pickle "
                             f"can hold (read with allow_pickle=False, never unpickled)")  # fmt: skip
        if dtype.itemsize == 0 and dtype.kind not in "SU":
            raise self.error(f"{self.path}: member {info.filename!r} has a zero-size dtype {dtype}: refused")
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise self.error(f"{self.path}: member {info.filename!r} declares {shape} {dtype} ({nbytes:,} bytes) in an "
                             f"entry of {info.file_size - offset:,} bytes: refused unread")  # fmt: skip
        return NpyHeader(tuple(shape), dtype, bool(fortran), offset, nbytes)

    def read(self, name: str) -> np.ndarray:
        """Member `name` as a native-byte-order array (its header was checked when the archive was opened)."""
        header = self.headers[name]
        try:
            with self._zip.open(self._infos[name]) as member:
                member.read(header.offset)
                data = member.read(header.nbytes)
                if len(data) != header.nbytes or member.read(1):
                    raise ValueError(f"member {name!r} holds {len(data):,} bytes of data, not {header.nbytes:,}")
        except DataError:
            raise
        except CORRUPT as exc:
            raise self._corrupt(exc) from None
        if header.nbytes == 0:
            array = np.zeros(header.shape, dtype=header.dtype)
        else:
            array = np.frombuffer(data, dtype=header.dtype).reshape(header.shape, order="F" if header.fortran else "C")
        return array.astype(array.dtype.newbyteorder("="), order="C", copy=True)  # writable, native, 0-d kept

    def close(self) -> None:
        """Close the archive and its file."""
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
        self._file.close()

    def __enter__(self) -> "SafeNpz":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
