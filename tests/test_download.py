"""Tests for tasks.download: search order, verification, atomic downloads, safe extraction. No network."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tasks.download import DataError, RemoteFile, cache_dir, data_dirs, fetch, safe_extract_tar, verify_file

PAYLOAD = b"framebench test payload\n" * 1000


def remote_for(data: bytes, name: str = "blob.bin", urls=("https://a.example/blob.bin",
                                                          "https://b.example/blob.bin")) -> RemoteFile:
    return RemoteFile(name, tuple(urls), sha256=hashlib.sha256(data).hexdigest(),
                      md5=hashlib.md5(data).hexdigest(), size=len(data))


class FakeResponse(io.BytesIO):
    """What urlopen returns: readable, a context manager, with headers; can fail after some bytes."""

    def __init__(self, data: bytes, fail_after: int | None = None, exc: BaseException | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}
        self.fail_after, self.exc = fail_after, exc

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise self.exc
        return super().read(min(n, 100) if n and n > 0 else 100)


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path) -> Path:
    """Isolate every test: its own cache, no FRAMEBENCH_DATA, online, and any real network use fails."""
    for var in ("FRAMEBENCH_DATA", "FRAMEBENCH_OFFLINE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FRAMEBENCH_CACHE", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path / "cache"


def serve(monkeypatch, table: dict) -> list[str]:
    """Make urlopen answer from table (url -> bytes | exception | FakeResponse); returns the urls asked for."""
    asked: list[str] = []

    def urlopen(url, timeout=None):
        asked.append(url)
        answer = table[url]
        if isinstance(answer, BaseException):
            raise answer
        return answer if isinstance(answer, FakeResponse) else FakeResponse(answer)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


# ------------------------------------------------------------------ search order


def test_data_dirs_order_and_cache_fallbacks(monkeypatch, tmp_path, env):
    monkeypatch.setenv("FRAMEBENCH_DATA", str(tmp_path / "shared"))
    assert data_dirs(tmp_path / "flag") == [tmp_path / "flag", tmp_path / "shared", env]
    assert data_dirs(None) == [tmp_path / "shared", env]
    assert data_dirs(env) == [env, tmp_path / "shared"]  # no duplicates
    monkeypatch.delenv("FRAMEBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "framebench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "framebench"


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    not_a_dir = tmp_path / "data.txt"
    not_a_dir.write_text("oops")
    with pytest.raises(DataError, match=r"data\.txt \(from --data-dir\) is a file, not a folder"):
        data_dirs(not_a_dir)


# ------------------------------------------------------------------ verification


def test_verify_file_accepts_good_and_names_bad(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(PAYLOAD)
    verify_file(path, remote_for(PAYLOAD))
    path.write_bytes(PAYLOAD[:-1] + b"X")  # same size, different content
    with pytest.raises(DataError) as e:
        verify_file(path, remote_for(PAYLOAD))
    assert str(path) in str(e.value) and "sha256" in str(e.value) and "delete it" in str(e.value)
    with pytest.raises(DataError, match="md5"):
        verify_file(path, RemoteFile("blob.bin", (), md5=hashlib.md5(PAYLOAD).hexdigest()))
    path.write_bytes(PAYLOAD[:10])
    with pytest.raises(DataError, match=r"has 10 bytes, expected 24,000"):
        verify_file(path, remote_for(PAYLOAD))


def test_fetch_uses_verified_local_copy_first(tmp_path):
    (tmp_path / "flag" / "sub").mkdir(parents=True)
    (tmp_path / "flag" / "sub" / "blob.bin").write_bytes(PAYLOAD)
    assert fetch(remote_for(PAYLOAD), "sub", tmp_path / "flag") == tmp_path / "flag" / "sub" / "blob.bin"


def test_fetch_refuses_corrupt_local_copy_without_downloading(tmp_path):
    (tmp_path / "flag" / "sub").mkdir(parents=True)
    (tmp_path / "flag" / "sub" / "blob.bin").write_bytes(b"x" * len(PAYLOAD))
    with pytest.raises(DataError, match=r"flag/sub/blob\.bin has sha256 .* delete it"):
        fetch(remote_for(PAYLOAD), "sub", tmp_path / "flag")  # network use would raise AssertionError


def test_missing_offline_names_file_places_and_fix(monkeypatch, tmp_path, env):
    monkeypatch.setenv("FRAMEBENCH_OFFLINE", "1")
    monkeypatch.setenv("FRAMEBENCH_DATA", str(tmp_path / "shared"))
    with pytest.raises(DataError) as e:
        fetch(remote_for(PAYLOAD), "mnist", tmp_path / "flag")
    msg = str(e.value)
    assert "\n" not in msg and "blob.bin" in msg and "FRAMEBENCH_OFFLINE=1" in msg
    for place in (tmp_path / "flag" / "mnist", tmp_path / "shared" / "mnist", env / "mnist"):
        assert str(place) in msg
    assert "--data-dir" in msg and "FRAMEBENCH_DATA" in msg and "DIR/mnist/" in msg


# ------------------------------------------------------------------ downloads


def test_download_tries_mirrors_verifies_and_lands_atomically(monkeypatch, env):
    remote = remote_for(PAYLOAD)
    asked = serve(monkeypatch, {remote.urls[0]: urllib.error.URLError("no route"), remote.urls[1]: PAYLOAD})
    path = fetch(remote, "sub")
    assert path == env / "sub" / "blob.bin" and path.read_bytes() == PAYLOAD
    assert asked == list(remote.urls)
    assert [p.name for p in (env / "sub").iterdir()] == ["blob.bin"]  # no temp file left
    assert fetch(remote, "sub") == path and len(asked) == 2  # cached: no second download


def test_download_with_wrong_content_everywhere_keeps_nothing(monkeypatch, env):
    remote = remote_for(PAYLOAD)
    serve(monkeypatch, {remote.urls[0]: b"<html>captive portal</html>", remote.urls[1]: PAYLOAD * 2})
    with pytest.raises(DataError) as e:
        fetch(remote, "sub")
    msg = str(e.value)
    assert "could not be downloaded" in msg and remote.urls[0] in msg and remote.urls[1] in msg
    assert "the downloaded file has 27 bytes, expected 24,000" in msg and "more than the expected" in msg
    assert ".part" not in msg and "\n" not in msg
    assert list((env / "sub").iterdir()) == []


@pytest.mark.parametrize("exc", [ConnectionResetError("reset by peer"), KeyboardInterrupt()])
def test_interrupted_download_leaves_nothing_trusted(monkeypatch, env, exc):
    remote = remote_for(PAYLOAD, urls=("https://a.example/blob.bin",))
    serve(monkeypatch, {remote.urls[0]: FakeResponse(PAYLOAD, fail_after=500, exc=exc)})
    with pytest.raises(DataError if isinstance(exc, OSError) else KeyboardInterrupt):
        fetch(remote, "sub")
    assert list((env / "sub").iterdir()) == []  # neither blob.bin nor a .part file
    monkeypatch.setenv("FRAMEBENCH_OFFLINE", "1")
    with pytest.raises(DataError, match="not found"):
        fetch(remote, "sub")


# ------------------------------------------------------------------ safe extraction


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, data: bytes = b"hello") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_safe_extract_good_archive(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", [file_member("top/a.txt"), file_member("top/sub/b.txt", b"b"),
                                                link_member("top/sub/link", "../a.txt"),
                                                link_member("top/hard", "top/a.txt", tarfile.LNKTYPE)])
    safe_extract_tar(archive, tmp_path / "dest")
    assert (tmp_path / "dest" / "top" / "a.txt").read_bytes() == b"hello"
    assert (tmp_path / "dest" / "top" / "sub" / "link").read_bytes() == b"hello"
    assert (tmp_path / "dest" / "top" / "hard").read_bytes() == b"hello"
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["top"]  # temp folder removed


@pytest.mark.parametrize("member, reason", [
    (file_member("../evil.txt"), "'..'"),
    (file_member("top/../../evil.txt"), "'..'"),
    (file_member("/tmp/evil.txt"), "absolute path"),
    (link_member("top/link", "../../evil.txt"), "points outside"),
    (link_member("top/link", "/etc/passwd"), "absolute"),
    (link_member("top/hard", "../evil.txt", tarfile.LNKTYPE), "points outside"),
    (link_member("top/dev", "", tarfile.CHRTYPE), "device"),
])
def test_safe_extract_refuses_escapes(tmp_path, member, reason):
    archive = make_tar(tmp_path / "bad.tar.gz", [file_member("top/a.txt"), member])
    with pytest.raises(DataError) as e:
        safe_extract_tar(archive, tmp_path / "dest")
    assert "refused to extract" in str(e.value) and reason in str(e.value) and str(archive) in str(e.value)
    assert not (tmp_path / "evil.txt").exists()
    assert list((tmp_path / "dest").iterdir()) == []  # nothing extracted, not even the good member


def test_safe_extract_truncated_or_not_an_archive(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", [file_member(f"top/{i}.bin", bytes(range(256)) * 400)
                                                for i in range(5)])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"ok\.tar\.gz is truncated or corrupt.*download it again"):
        safe_extract_tar(archive, tmp_path / "dest")
    archive.write_bytes(b"not an archive at all" * 10)
    with pytest.raises(DataError, match="truncated or corrupt"):
        safe_extract_tar(archive, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []
