"""Fuzz the readers of untrusted files with seeded random mutations of valid files (issue 22, "Also").

Readers: the results JSON (--resume), export.json and check.npz (--verify-export), weights.npz (--import-weights)
and the encoded-text cache. Each mutated file must give either a result or the reader's own one-line error type:
no other exception (compare.py would show it as an internal error, exit 1), no hang (an interval timer interrupts a
reader that takes longer than HANG_S). Bounded: MUTATIONS per reader, and stopped after BUDGET_S seconds each.
"""

from __future__ import annotations

import json
import random
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tasks import registry
from tasks.init import init_weights
from tasks.spec_io import spec_to_json
from tasks.text import encode_dataset
from workbench.deploy.manifest import CHECK_FILE, MANIFEST, ArtifactError, read_check, read_manifest, write_manifest
from workbench.deploy.weights_file import WeightsFileError, load_weights, save_weights
from workbench.run.result import ArtifactRecord, RunResult, save_results
from workbench.run.resume import ResumeError, read_saved_run

DIGITS = registry.get("digits").spec
MUTATIONS = 200  # per reader
BUDGET_S = 60.0  # per reader: stop early on a slow machine (the count tried is printed)
HANG_S = 10.0  # one read taking longer than this is a hang
SEED = 22
ODD_VALUES = [None, True, -1, 0, 2**63, 1e308, float("nan"), "", "x" * 1000, [], {}, [[[[]]]], {"a": {"b": None}},
              "../../etc/passwd", "\u0000", [0], "0" * 64]  # fmt: skip


class Hang(Exception):
    """A reader ran past HANG_S."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def _bytes_mutation(data: bytes, rng: random.Random) -> bytes:
    """One random byte-level change: flips, truncation, insertion, a zeroed or duplicated run."""
    data = bytearray(data)
    kind = rng.randrange(5)
    at = rng.randrange(len(data))
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        del data[at:]
    elif kind == 2:
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == 3:
        data[at : at + rng.randint(1, 256)] = bytes(min(256, len(data) - at))
    else:
        data[at:at] = data[at : at + rng.randint(1, 512)]
    return bytes(data)


def _json_mutation(data: bytes, rng: random.Random) -> bytes:
    """Half the time a byte change, else one to three structural ones: a random node replaced, deleted or given an
    extra key."""
    if rng.random() < 0.5:
        return _bytes_mutation(data, rng)
    document = json.loads(data)
    for _ in range(rng.randint(1, 3)):
        _change_node(document, rng)
    return json.dumps(document).encode()


def _change_node(document: object, rng: random.Random) -> None:
    nodes = [document]
    parents: list[tuple[object, object]] = []
    for node in nodes:
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            parents.append((node, key))
            nodes.append(child)
    container, key = rng.choice(parents)
    action = rng.randrange(3)
    if action == 0 or not isinstance(container, dict):
        container[key] = rng.choice(ODD_VALUES)
    elif action == 1:
        del container[key]
    else:
        container[f"extra{rng.randrange(10)}"] = rng.choice(ODD_VALUES)


def fuzz(path: Path, read: Callable[[], object], allowed: tuple[type[BaseException], ...],
         mutate: Callable[[bytes, random.Random], bytes]) -> dict[str, int]:  # fmt: skip
    """Mutate `path` MUTATIONS times (seeded) and call read() on each; counts of outcomes. Fails, listing the first
    mutation of each kind, on any other exception or a hang."""
    original, rng = path.read_bytes(), random.Random(SEED)
    read()  # the valid file itself is accepted: a reader that refuses everything would pass the rest
    counts = {"tried": 0, "refused": 0, "accepted": 0}
    findings: dict[str, str] = {}  # exception type -> its first mutation, one line
    previous = signal.signal(signal.SIGALRM, _alarm)
    start = time.monotonic()
    try:
        for i in range(MUTATIONS):
            if time.monotonic() - start > BUDGET_S:
                break
            path.write_bytes(mutate(original, rng))
            counts["tried"] += 1
            signal.setitimer(signal.ITIMER_REAL, HANG_S)
            try:
                read()
                counts["accepted"] += 1
            except allowed as exc:
                counts["refused"] += 1
                if not str(exc) or "\n" in str(exc):
                    findings.setdefault("message", f"mutation {i}: not a one-line message: {exc!r}")
            except Hang:
                findings.setdefault("hang", f"mutation {i}: the reader ran past {HANG_S:g} s")
            except Exception as exc:  # noqa: BLE001 - the finding: an exception compare.py would call internal
                findings.setdefault(type(exc).__name__, f"mutation {i}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
        path.write_bytes(original)
    print(f"\nfuzz {path.name}: {counts['tried']} mutations tried, {counts['refused']} refused, {counts['accepted']} accepted, "
          f"{len(findings)} unexpected outcome kinds")  # fmt: skip
    assert not findings, f"{path.name}: " + "; ".join(findings.values())
    return counts


def _export_folder(folder: Path) -> Path:
    """A small, valid export folder: check.npz, weights.npz, one more artifact file, export.json."""
    folder.mkdir()
    np.savez(folder / CHECK_FILE, X=np.zeros((4, 64), np.float32), logits=np.zeros((4, 10), np.float32))
    save_weights(folder / "weights.npz", init_weights(DIGITS.model, DIGITS.init, 0), "digits", "pytorch")
    (folder / "model.onnx").write_bytes(b"not loaded by the reader")
    request = {"spec": spec_to_json(DIGITS), "threads": 1, "dtype": "float32"}
    records = [asdict(ArtifactRecord("weights.npz", route="np.savez", size_bytes=1, export_s=0.1)), asdict(ArtifactRecord("model.onnx"))]
    write_manifest(folder, {"task": "digits", "framework": "pytorch", "model": "spec", "request": request, "artifacts": records},
                   ["weights.npz", "model.onnx"])  # fmt: skip
    return folder


def _manifest_and_records(folder: Path) -> list[ArtifactRecord]:
    """What --verify-export builds from an accepted manifest: its records must always construct."""
    return [ArtifactRecord(**record) for record in read_manifest(folder)["artifacts"]]


def test_fuzz_export_manifest(tmp_path):
    folder = _export_folder(tmp_path / "row")
    counts = fuzz(folder / MANIFEST, lambda: _manifest_and_records(folder), (ArtifactError,), _json_mutation)
    assert counts["tried"] >= 50 and counts["refused"] > 0


def test_fuzz_check_file(tmp_path):
    folder = _export_folder(tmp_path / "row")
    counts = fuzz(folder / CHECK_FILE, lambda: read_check(folder), (ArtifactError,), _bytes_mutation)
    assert counts["tried"] >= 50 and counts["refused"] > 0


def test_fuzz_weights_file(tmp_path):
    path = tmp_path / "weights.npz"
    save_weights(path, init_weights(DIGITS.model, DIGITS.init, 0), "digits", "pytorch")
    counts = fuzz(path, lambda: load_weights(path, DIGITS.model, "digits"), (WeightsFileError,), _bytes_mutation)
    assert counts["tried"] >= 50 and counts["refused"] > 0


def test_fuzz_text_cache(tmp_path):
    """The cache reader never raises: a bad entry is rebuilt, and the result always equals a fresh encoding."""
    texts, labels = ["the cat sat", "a dog ran far", "the dog sat"], np.array([0, 1, 0])
    fresh = encode_dataset(texts, labels, texts[:2], labels[:2], num_words=6, maxlen=4, cache_dir=tmp_path)
    [path] = tmp_path.glob("text-*.npz")

    def read() -> None:
        got = encode_dataset(texts, labels, texts[:2], labels[:2], num_words=6, maxlen=4, cache_dir=tmp_path)
        assert np.array_equal(got.X_train, fresh.X_train) and np.array_equal(got.X_test, fresh.X_test)

    counts = fuzz(path, read, (), _bytes_mutation)
    assert counts["tried"] >= 50


def test_fuzz_results_file(tmp_path):
    path = tmp_path / "results.json"
    rows = [RunResult(task="digits", framework="pytorch", model="spec", seed=0, test_acc=0.9),
            RunResult(task="digits", framework="keras", model="spec", status="error", message="boom", error_kind="adapter")]
    save_results(path, {"task": "digits", "argv": ["--task", "digits"]}, rows)
    counts = fuzz(path, lambda: read_saved_run(path), (ResumeError,), _json_mutation)
    assert counts["tried"] >= 50 and counts["refused"] > 0
