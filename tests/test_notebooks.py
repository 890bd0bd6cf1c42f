"""The notebooks of docs/notebooks run top to bottom (nbclient), small and on the CPU; they are committed without outputs.

Each notebook reads FRAMEBENCH_NB_* in its first cell: here a tiny subset, one or two epochs and few
frameworks. Where the task's real data is absent (FRAMEBENCH_DATA unset), and always for sentiment (see
SIZES), the notebook runs on digits, which ships with scikit-learn. A cell that raises (a row not ok, a --check FAIL) fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "docs" / "notebooks"
CELL_TIMEOUT_S = 300  # the limit of each cell (a loaded machine is slow); a notebook takes 15-45 s of CPU
DATA_FOLDERS = {"mnist": "mnist", "cifar10": "cifar10"}  # task -> folder under FRAMEBENCH_DATA; the others run on digits
# task -> the FRAMEBENCH_NB_* sizes the test runs it at: epochs, a subset, the frameworks. Every child process
# loads the whole dataset before taking the subset, so the real-data notebooks run one framework. Measured CPU
# (user + sys, the kernel and its children) on the 2-core development machine: digits 37 s (pytorch and sklearn; 52 s
# with keras instead of sklearn: the Keras engines are the other tests'),
# mnist 20 s, cifar10 41 s; sentiment on real data took 70 s (its --check alone 38 s: 200-token LSTM trajectories
# against the float64 reference), past these notebooks' share of CI's time, so the test runs it on digits.
SIZES = {
    "digits": {"EPOCHS": "1", "FRAMEWORKS": "pytorch,sklearn"},  # two engines side by side; the cheapest to start
    "mnist": {"EPOCHS": "1", "SUBSET": "256", "FRAMEWORKS": "pytorch"},
    "cifar10": {"EPOCHS": "1", "SUBSET": "256", "FRAMEWORKS": "pytorch"},
    "sentiment": {},  # digits, see above
}
SMALL_DIGITS = {"EPOCHS": "1", "FRAMEWORKS": "pytorch"}  # a real-data notebook run on digits (23 s of CPU with sklearn too)


def _data_present(task: str) -> bool:
    """The task's folder exists under FRAMEBENCH_DATA (its first entry), so the notebook can run the real task."""
    value = os.environ.get("FRAMEBENCH_DATA", "")
    if task not in DATA_FOLDERS:
        return task == "digits"
    return bool(value) and (Path(value.split(os.pathsep)[0]) / DATA_FOLDERS[task]).is_dir()


def _code_output(nb) -> str:  # noqa: ANN001
    """All text the code cells printed."""
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or str(out.get("data", {}).get("text/markdown", "")))
    return "\n".join(texts)


def test_every_task_has_a_notebook_and_none_is_committed_with_outputs():
    from tasks import registry

    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(registry.names())
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs before committing"
        assert nb.cells[-1].source.startswith("## Exercises"), f"{path.name} ends with its exercises"


@pytest.mark.parametrize("task", list(SIZES))
def test_notebook_runs(task, tmp_path, monkeypatch):
    sizes = SIZES[task] if _data_present(task) else SMALL_DIGITS
    monkeypatch.setenv("FRAMEBENCH_NB_TASK", task if _data_present(task) else "digits")
    for name, value in sizes.items():
        monkeypatch.setenv(f"FRAMEBENCH_NB_{name}", value)
    monkeypatch.setenv("FRAMEBENCH_NB_OUT", str(tmp_path))
    nb = nbformat.read(NOTEBOOKS / f"{task}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})  # fmt: skip
    client.execute()  # a cell that raises raises CellExecutionError here
    printed = _code_output(nb)
    assert "test acc %" in printed  # the side-by-side table
    assert "result: no FAIL" in printed  # the --check tables
    assert "differ" in printed.lower()  # the --explain defaults
    assert list(tmp_path.glob("*-curves.png"))  # the learning-curve plot
    assert list((tmp_path / "code").glob("*_model.py")) and "parameters: " in printed  # a generated script, run


def test_api_refuses_what_it_cannot_run_and_raises_on_a_row_not_ok():
    from workbench import api

    with pytest.raises(api.UsageError, match="api.explain"):
        api.compare(task="digits", explain=True)
    with pytest.raises(api.UsageError, match="no augmentation"):
        api.compare(task="digits", augment="shared")
    # MLPClassifier has no RMSprop solver: its row is skipped, so a strict comparison raises and a lax one returns it
    options = api.Options(task="digits", frameworks=("sklearn",), optimizer="rmsprop", epochs=1)
    with pytest.raises(api.RowsFailed, match="skipped"):
        api.compare(options)
    lax = api.compare(options, strict=False)
    assert not lax.ok and "skipped" in lax.table() and list(lax.accuracy()) == ["sklearn / logistic_regression"]


def test_api_resolves_one_device_as_compare_does():
    """api.compare and api.check take compare.py's device rule: --device cuda with no GPU seen is refused up front (on a
    machine with one, the rows' device column says cuda)."""
    from workbench import api
    from workbench.run.devices import DeviceError, gpu_device_files

    comparison = api.compare(task="digits", frameworks=("sklearn",), epochs=1, device="cpu")
    assert {r.device for r in comparison.results} == {"cpu"}
    if gpu_device_files():
        pytest.skip("this machine has a GPU device: the refusal below needs one without")
    with pytest.raises(DeviceError, match="--device cuda: no GPU seen by pytorch"):  # refused before any row runs
        api.compare(task="digits", frameworks=("pytorch", "sklearn"), device="cuda")
    with pytest.raises(DeviceError, match="--device cuda"):
        api.check(task="digits", frameworks=("pytorch",), device="cuda")
