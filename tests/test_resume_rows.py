"""Issue 22, items 3, 5 and 8: --resume keeps every finished row whatever is installed now, reruns an ok row holding
NaN or infinity, and refuses in one line a file whose rows hold values of the wrong type. The engines are the
fault-free test adapter (tests/fault_adapters/working.py) registered under two names through the plugin variable."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run_cli

from workbench.run.result import RunResult, save_results
from workbench.run.resume import ResumeError, kept_rows, read_saved_run

TESTS = Path(__file__).resolve().parent


def plugins(*names: str) -> dict[str, str]:
    """The environment registering the working test adapter under these names."""
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p),
            "FRAMEBENCH_EXTRA_FRAMEWORKS": ",".join(f"{n}=fault_adapters.working" for n in names)}  # fmt: skip


def saved_run(tmp_path: Path, frameworks: str, *extra: str) -> Path:
    """A real saved run of the test adapters (digits, one epoch)."""
    out = tmp_path / "run.json"
    proc = run_cli("--task", "digits", "--frameworks", frameworks, "--epochs", "1", "--quiet", "--output", str(out), *extra,
                   env=plugins(*frameworks.split(",")))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def rewrite(path: Path, change) -> None:  # noqa: ANN001 - change(payload) edits the saved JSON in place
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload, allow_nan=True))


def test_rows_of_an_engine_no_longer_registered_stay_and_the_others_rerun(tmp_path):
    path = saved_run(tmp_path, "gone,here")
    rewrite(path, lambda p: p.update(results=[r for r in p["results"] if r["framework"] == "gone"]))  # "here" is missing
    gone = json.loads(path.read_text())["results"]
    proc = run_cli("--resume", str(path), "--quiet", env=plugins("here"))  # "gone" is not registered any more
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "--resume keeps" in line]
    assert notes == ["framebench: note: --resume keeps 1 saved row(s) of gone as they were: not available in this run, "
                     "so not rerun"], proc.stderr  # fmt: skip
    rows = json.loads(path.read_text())["results"]
    assert [(r["framework"], r["status"]) for r in rows] == [("here", "ok"), ("gone", "ok")]
    assert rows[1] == gone[0]  # kept as it was


def test_resume_with_no_engine_left_is_one_line_and_leaves_the_file(tmp_path):
    path = saved_run(tmp_path, "gone")
    before = path.read_text()
    assert_one_line_error(run_cli("--resume", str(path), env=plugins()), 2, "none of its frameworks (gone) is registered now")
    assert path.read_text() == before


def test_an_ok_row_holding_nan_or_infinity_reruns_and_a_finite_one_is_kept(tmp_path):
    path = saved_run(tmp_path, "here", "--repeats", "3")

    def poison(payload: dict) -> None:
        first, second, third = payload["results"]
        first["test_loss"], second["history"][0]["train_loss"] = float("nan"), float("inf")
        third["message"] = "kept from the saved run"

    rewrite(path, poison)
    proc = run_cli("--resume", str(path), "--quiet", env=plugins("here"))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(path.read_text())["results"]
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert math.isfinite(rows[0]["test_loss"]) and math.isfinite(rows[1]["history"][0]["train_loss"])
    assert rows[2]["message"] == "kept from the saved run" and rows[0]["message"] != "kept from the saved run"


def test_kept_rows_turns_a_non_finite_ok_row_into_an_error_row():
    nan = RunResult(task="digits", framework="a", model="spec", model_id="spec", test_acc=float("nan"))
    fine = RunResult(task="digits", framework="a", model="spec", model_id="spec", seed=1, test_acc=0.5)
    kept = kept_rows([nan, fine])
    assert [(r.seed, r.status) for r in kept.values()] == [(0, "error"), (1, "ok")]
    assert kept[next(iter(kept))].message == "saved as ok with a non-finite test_acc nan"


@pytest.mark.parametrize("field, value, fragment", [
    ("seed", [0], "row 1 is not a framebench row: seed holds [0] where int is expected"),
    ("config", "lr", 'config holds "lr" where dict is expected'),
    ("test_acc", "high", 'test_acc holds "high" where float | None is expected'),
    ("status", "fine", "status 'fine' is not one of ok, skipped"),
    ("history", [{"epoch": 1, "train_loss": "x", "test_loss": 1, "test_acc": 1, "seconds": 1, "elapsed": 1}],
     'history: train_loss holds "x"'),
])  # fmt: skip
def test_rows_of_the_wrong_type_refuse_the_file_in_one_line(tmp_path, field, value, fragment):
    path = tmp_path / "run.json"
    save_results(path, {"task": "digits", "argv": ["--task", "digits"]}, [RunResult(task="digits", framework="sklearn", model="m")])
    rewrite(path, lambda p: p["results"][0].update({field: value}))
    with pytest.raises(ResumeError, match="not a framebench row"):
        read_saved_run(path)
    assert_one_line_error(run_cli("--resume", str(path)), 2, f"--resume {path}: ", fragment)


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(b'\xff\xfe{"meta": {}}')
    assert_one_line_error(run_cli("--resume", str(path)), 2, f"--resume {path}: cannot read it", "can't decode byte 0xff")
