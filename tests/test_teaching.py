"""Teaching outputs: --explain shows the code that really runs, plots are real PNGs, the report is complete."""

from __future__ import annotations

import inspect
import os
import re
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, run_cli
from tiny_specs import CNN, MLP, RNN, tiny_task

from frameworks.base import DEFAULT_FRAMEWORKS, SPEC_MODEL, RunSettings, missing_packages
from tasks import registry
from tasks.init import init_weights
from tasks.spec import BaselineSpec, DataSpec, count_params
from workbench.teach.explain import explain_sections, gather_many
from workbench.report.markdown import PLOT_NAME, REPORT_NAME, write_report
from workbench.report.plots import curve_stats, plot_learning_curves
from workbench.run.result import EpochRecord, RunResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG signature and IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", head
    return struct.unpack(">II", head[16:24])


def run(framework: str, model: str, accs: list[float], losses: list[float] | None = None) -> RunResult:
    """A finished result with one EpochRecord per accuracy (no training needed)."""
    losses = losses or [1.0 / (i + 1) for i in range(len(accs))]
    history = [EpochRecord(i + 1, loss, loss, acc, 1.0, i + 1.0) for i, (loss, acc) in enumerate(zip(losses, accs))]
    return RunResult(task="mnist", framework=framework, model=model, version="1.0", device="cpu", threads=2,
                     epochs=len(accs), train_loss=losses[-1], test_acc=accs[-1], history=history)  # fmt: skip


def sample_results() -> list[RunResult]:
    """PyTorch and Keras with curves, scikit-learn's MLP with a curve and a one-shot baseline."""
    baseline = RunResult(task="mnist", framework="sklearn", model="logistic_regression", version="1.0", test_acc=0.92, epochs=50)
    return [run("pytorch", "nn.Module", [0.9, 0.95, 0.97]), run("keras", "keras.Sequential", [0.91, 0.95, 0.96]),
            baseline, run("sklearn", "MLPClassifier", [0.9, 0.94, 0.965])]  # fmt: skip


# ------------------------------------------------------------------ plots


@pytest.mark.parametrize("figsize, dpi", [((11.0, 4.2), 100), ((6.0, 3.0), 50)])
def test_plot_is_png_of_figsize_times_dpi(tmp_path, figsize, dpi):
    path = plot_learning_curves(sample_results(), tmp_path / "curves.png", "mnist: test", figsize=figsize, dpi=dpi)
    assert png_size(path) == (round(figsize[0] * dpi), round(figsize[1] * dpi))


def test_repeated_runs_give_mean_and_min_max_band():
    runs = [run("pytorch", "m", [0.8, 0.9]), run("pytorch", "m", [0.6, 0.7, 0.95])]
    epochs, mean, low, high = curve_stats(runs, "test_acc")
    assert list(epochs) == [1, 2]  # up to the shortest history
    np.testing.assert_allclose(mean, [0.7, 0.8], rtol=0, atol=1e-12)
    np.testing.assert_allclose(low, [0.6, 0.7], rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, [0.8, 0.9], rtol=0, atol=1e-12)


def test_plot_draws_bands_legend_and_labels(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to inspect it
    results = sample_results() + [run("pytorch", "nn.Module", [0.88, 0.93, 0.96])]
    plot_learning_curves(results, tmp_path / "c.png", "mnist: repeats")
    ax_loss, ax_acc = figures[0].axes
    assert figures[0]._suptitle.get_text() == "mnist: repeats"
    assert (ax_loss.get_xlabel(), ax_acc.get_ylabel()) == ("epoch", "test accuracy (%)")
    labels = [t.get_text() for t in ax_acc.get_legend().get_texts()]
    assert "pytorch · nn.Module (mean of 2, min-max band)" in labels
    assert "sklearn · logistic_regression (trained once)" in labels and "keras · keras.Sequential" in labels
    assert len(ax_acc.collections) == 1  # one band: only PyTorch has repeats


# ------------------------------------------------------------------ report


def test_report_has_tables_plot_links_code_and_extra_sections(tmp_path):
    spec = registry.get("mnist").spec
    meta = {"task": "mnist", "title": spec.title, "threads": 2, "seed": 0, "dtype": "float32", "argv": ["--task", "mnist"]}
    extra = [("Equivalence checks", "| check | max abs diff |\n|---|---|\n| forward64 | 1e-15 |")]
    written = write_report(tmp_path / "rep", meta, sample_results(), spec, ["pytorch", "keras", "sklearn"], extra)
    assert {p.name for p in written} >= {REPORT_NAME, PLOT_NAME, "results.json"}
    text = (tmp_path / "rep" / REPORT_NAME).read_text()
    assert "| framework   | model" in text and "| pytorch     | nn.Module" in text  # the results table, GitHub format
    assert f"]({PLOT_NAME})" in text and png_size(tmp_path / "rep" / PLOT_NAME)[0] > 0  # relative link to a real PNG
    assert "## Equivalence checks" in text and "| forward64 | 1e-15 |" in text  # the extra-section hook
    assert text.index("## Learning curves") < text.index("## Equivalence checks") < text.index("## The model in each")
    for framework, path in (("pytorch", "frameworks/pytorch.py"), ("keras", "frameworks/keras.py"), ("sklearn", "frameworks/sklearn.py")):
        assert f"**{framework}** · `{path}`" in text  # a code section for every framework run
    assert "versions: pytorch 1.0" in text and "Adam epsilon" in text


# ------------------------------------------------------------------ --explain


def _spy(monkeypatch, module, name: str) -> list:
    """Replace module.name by a wrapper that records the function the adapter really calls."""
    called, original = [], getattr(module, name)

    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        called.append(original)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return called


EXPLAINED = ["pytorch", "keras", "sklearn"]
TINY = {"mlp": MLP, "cnn": CNN, "rnn": RNN}


def _tiny_spec(model):  # noqa: ANN001, ANN202 - a ModelSpec; a TaskSpec
    spec = tiny_task(model)
    if model is MLP:  # give the tiny MLP an MLPClassifier row, as MNIST has
        spec = replace(spec, data=DataSpec(num_classes=3), baselines=(BaselineSpec(SPEC_MODEL, "the spec's MLP"),))
    return spec


@pytest.fixture(scope="module")
def explained_tiny() -> dict[str, str]:
    """name -> the --explain sections of each tiny spec, as Markdown: each engine's child asked once for all of them
    (before any spy: the real functions)."""
    specs = {name: _tiny_spec(model) for name, model in TINY.items()}
    gathered = gather_many(list(specs.values()), EXPLAINED)
    texts = {}
    for (name, spec), facts in zip(specs.items(), gathered):
        sections, errored = explain_sections(spec, EXPLAINED, gathered=facts)
        assert not errored, dict(sections).get("Frameworks left out")
        texts[name] = "\n\n".join(text for _, text in sections)
    return texts


@pytest.mark.parametrize("name", list(TINY))
def test_explain_shows_the_code_the_adapters_call(monkeypatch, name, explained_tiny):
    import frameworks.keras as keras_adapter
    import frameworks.pytorch as torch_adapter
    import frameworks.sklearn as sklearn_adapter

    model = TINY[name]
    spec = _tiny_spec(model)
    text = explained_tiny[name]
    weights = init_weights(spec.model, spec.init, spec.train.seed)
    settings = RunSettings(threads=1, progress=False)
    # (adapter module, the module whose functions its Network calls, their names)
    adapters = [(torch_adapter, torch_adapter, ("build_model", "make_optimizer")),
                (keras_adapter, keras_adapter, ("build_model", "make_optimizer"))]  # fmt: skip
    if model is MLP:
        adapters.append((sklearn_adapter, sklearn_adapter, ("build_mlp",)))
    for module, home, names in adapters:
        spies = [_spy(monkeypatch, home, n) for n in names]
        network = module.create(spec, settings, "MLPClassifier" if module is sklearn_adapter else "spec")
        network.build(weights)
        for name, called in zip(names, spies):
            assert called, f"{module.__name__}.Network.build did not call {name}"
            assert inspect.getsource(called[0]).rstrip() in text, f"{module.__name__}.{name}"
    for module in (torch_adapter, keras_adapter):
        assert inspect.getsource(module.Network.fit_epoch).rstrip() in text
    assert inspect.getsource(keras_adapter.Network.epoch_data).rstrip() in text  # TensorFlow's own tf.data part
    assert ("def build_mlp" in text) == (model is MLP)
    assert ("BatchNorm momentum" in text) == (model is CNN) and ("LSTM biases" in text) == (model is RNN)


def test_explain_mnist_cli():
    proc = run_cli("--task", "mnist", "--explain")
    assert proc.returncode == 0, proc.stderr
    import frameworks.sklearn as sklearn_adapter

    out = proc.stdout
    assert inspect.getsource(sklearn_adapter.build_mlp).rstrip() in out
    model = registry.get("mnist").spec.model
    assert all(re.search(rf"\| {re.escape(repr(layer))} +\|", out) for layer in model.layers)  # the summary's rows
    cells = [cell.strip() for cell in next(line for line in out.splitlines() if "total trainable" in line).split("|")]
    totals = [cell for cell in cells[cells.index("total trainable") + 1:] if cell]  # the spec's, then each framework's
    explained = [name for name in DEFAULT_FRAMEWORKS if not missing_packages(name)]
    assert totals == [f"{count_params(model):,}"] * (1 + len(explained)), totals
    assert "BatchNorm" not in out.split("Framework defaults that differ")[1]  # no BatchNorm rows for an MLP
    for topic in ("kernel init", "Adam epsilon", "loss input", "batching and shuffling", "L2 penalty"):
        assert f"| {topic}" in out


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--plot", "curves.svg"], ["--plot", "must end in .png"]),
        (["--plot", "/no/such/folder/c.png"], ["--plot folder", "does not exist"]),
        (["--report", "/no/such/folder/rep"], ["--report parent folder", "does not exist"]),
    ],
)
def test_bad_teaching_flags_one_line(args, fragments):
    assert_one_line_error(run_cli(*args), 2, *fragments)


def test_explain_with_a_missing_framework_explains_the_others_and_names_it_skipped():
    """Issue 11: --explain works for the installed frameworks and names a missing one as skipped."""
    env = {"FRAMEBENCH_EXTRA_FRAMEWORKS": "missing=fault_adapters.not_there", "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")) if p)}
    proc = run_cli("--task", "digits", "--frameworks", "pytorch,missing", "--explain", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "- missing: skipped, not installed (fault_adapters.not_there)" in proc.stdout
    assert "| pytorch (NCHW) output" in proc.stdout and "missing (" not in proc.stdout.split("Model summary, layer by layer")[1]
