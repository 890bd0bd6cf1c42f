"""compare.py runs that several test files only read, each made once per test run and kept.

A run is named; its folder lives beside the pytest workers' temporary folders (the run's base folder, shared by
every pytest-xdist worker), and an exclusive file lock makes the first worker that asks run it while the others
wait and then read what it saved: the process's exit status, stdout and stderr, and the files it wrote there.
Tests that read a shared run must not change its files: they copy what they edit.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from cli_helpers import run_cli

from frameworks.base import EXTRA_FRAMEWORKS_VAR, FRAMEWORKS, missing_packages

TESTS = Path(__file__).resolve().parent
ENGINES = tuple(name for name in FRAMEWORKS if not missing_packages(name))  # every installed built-in engine
PLUGIN = "numpyref"  # a fourth kind of engine, registered only through FRAMEBENCH_EXTRA_FRAMEWORKS (tests/engines/)
# The plugin's registration, for the runs and tests that use it (children inherit it); set at import, the variable
# would reach every later test of the same pytest worker.
PLUGIN_ENV = {
    EXTRA_FRAMEWORKS_VAR: f"{PLUGIN}=engines.numpy_engine",
    "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p),
}


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    """The folder every worker of this test run sees (the same rule as conftest's compilation cache)."""
    base = factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-runs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def shared_cli(factory: pytest.TempPathFactory, name: str, args: Callable[[Path], list[str]],
               env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, Path]:  # fmt: skip
    """(the completed `compare.py ARGS`, its folder): run once per test run under `name`; args(folder) gives the flags,
    whose output files go in folder. A second call with the same name returns the first one's process and folder."""
    root = _shared_root(factory)
    folder, saved = root / name, root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        if not saved.exists():
            folder.mkdir(exist_ok=True)
            argv = args(folder)
            proc = run_cli(*argv, env=env)
            tmp = saved.with_suffix(".tmp")
            record = {"args": argv, "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
            tmp.write_text(json.dumps(record))
            tmp.replace(saved)  # a worker killed mid-run leaves no half result
    record = json.loads(saved.read_text())
    return subprocess.CompletedProcess(record["args"], record["returncode"], record["stdout"], record["stderr"]), folder


def listed(factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    """`compare.py --list` (every engine asked for its devices in a child), run once for the test run."""
    return shared_cli(factory, "list", lambda folder: ["--list"])[0]


def trained_digits(factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """(process, results file) of one real tiny training run of every installed engine on digits: 2 epochs on 320
    samples, seeds 3 and 4 (`--seed 3 --repeats 2`), each row in its own child process, saved as compare.py saves it."""
    proc, folder = shared_cli(factory, "digits-trained", lambda folder: [
        "--task", "digits", "--frameworks", ",".join(ENGINES), "--epochs", "2", "--subset", "320", "--seed", "3",
        "--repeats", "2", "--quiet", "--output", str(folder / "results.json")])  # fmt: skip
    return proc, folder / "results.json"


def digits_dry_run(factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """(process, results file) of `--task digits --dry-run` over every installed engine and the plugin, with no data
    folder at all (FRAMEBENCH_DATA empty, an empty cache): digits ships with scikit-learn."""
    env = {**PLUGIN_ENV, "FRAMEBENCH_DATA": "", "FRAMEBENCH_CACHE": str(_shared_root(factory) / "digits-dry-run-cache")}
    proc, folder = shared_cli(factory, "digits-dry-run", lambda folder: [
        "--task", "digits", "--dry-run", "--output", str(folder / "results.json"),  # progress bars on, as a user sees it
        "--frameworks", ",".join((*ENGINES, PLUGIN))], env=env)  # fmt: skip
    return proc, folder / "results.json"


def _key_and_flags(folder: Path) -> list[str]:
    """The export run's flags; its signing key (32 random bytes) written first, in its folder. Three engines by name,
    not the registry's: the tests read these engines' own artifacts, and each more engine is one more trained row."""
    (folder / "export.key").write_bytes(os.urandom(32))
    return ["--task", "digits", "--frameworks", "pytorch,keras,sklearn", "--epochs", "1", "--quiet",
            "--export", str(folder / "exports"), "--signing-key", str(folder / "export.key"),
            "--output", str(folder / "results.json")]  # fmt: skip


def digits_export(factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path, Path, Path]:
    """(process, export folder, signing key file, results file) of one epoch of digits in PyTorch, Keras and
    scikit-learn, every row exported and signed (--export DIR --signing-key KEY): test_export and
    test_export_security read it, and copy a row before they change it."""
    proc, folder = shared_cli(factory, "digits-export", _key_and_flags)
    return proc, folder / "exports", folder / "export.key", folder / "results.json"
