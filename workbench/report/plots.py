"""Learning curves per framework: training loss and test accuracy after every epoch.

Several results for the same (framework, model), e.g. from repeated runs with other seeds, are
drawn as their mean with a min-max band. One-shot baselines (no per-epoch history) appear as a
dotted line at their final test accuracy.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from workbench.process.files import atomic_write_bytes
from workbench.run.result import RunResult

FIGSIZE = (11.0, 4.2)  # inches; the PNG is FIGSIZE * DPI pixels
DPI = 100
# one colour per framework, in first-seen order; hollow markers of shrinking size, so that curves
# which coincide (same weights, same batches) stay visible
MARKERS = (("o", 10), ("s", 8), ("^", 6), ("D", 5), ("v", 4), ("x", 3))
LINESTYLES = ("-", "--", "-.")  # several curves of one framework
BASELINE_STYLE = ":"  # one-shot baselines: a dotted line at their final accuracy


def group_runs(results: list[RunResult]) -> dict[tuple[str, str], list[RunResult]]:
    """Finished results grouped by (framework, model), in first-seen order."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        if r.status == "ok":
            groups.setdefault((r.framework, r.model), []).append(r)
    return groups


def curve_stats(runs: list[RunResult], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Epochs and the mean, min and max of `key` over the runs, up to the shortest history."""
    length = min(len(r.history) for r in runs)
    values = np.array([[getattr(h, key) for h in r.history[:length]] for r in runs], dtype=float)
    epochs = np.arange(1, length + 1)
    return epochs, values.mean(axis=0), values.min(axis=0), values.max(axis=0)


def _color(index: int) -> str:
    return f"C{index % 10}"


def plot_learning_curves(results: list[RunResult], path: Path, title: str, figsize: tuple[float, float] = FIGSIZE, dpi: int = DPI) -> Path:
    """Write a PNG with two subplots (training loss, test accuracy) and return its path."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=figsize, dpi=dpi)
    styles: dict[str, int] = {}
    order: dict[str, int] = {}  # framework -> its colour and marker index
    for (framework, model), runs in group_runs(results).items():
        index = order.setdefault(framework, len(order))
        color = _color(index)
        label = f"{framework} · {model}" + (f" (mean of {len(runs)}, min-max band)" if len(runs) > 1 else "")
        if all(r.history for r in runs):
            style = LINESTYLES[styles.setdefault(framework, 0) % len(LINESTYLES)]
            styles[framework] += 1
            for ax, key, scale in ((ax_loss, "train_loss", 1.0), (ax_acc, "test_acc", 100.0)):
                epochs, mean, low, high = curve_stats(runs, key)
                marker, size = MARKERS[index % len(MARKERS)]
                ax.plot(epochs, scale * mean, style, color=color, marker=marker, markersize=size, markerfacecolor="none", label=label)
                if len(runs) > 1:
                    ax.fill_between(epochs, scale * low, scale * high, color=color, alpha=0.2, linewidth=0)
        elif all(r.test_acc is not None for r in runs):  # one-shot baseline: its final accuracy
            ax_acc.axhline(100 * float(np.mean([r.test_acc for r in runs])), linestyle=BASELINE_STYLE, color=color,
                           label=f"{label} (trained once)")  # fmt: skip
    ax_loss.set(title="Training loss (mean over each epoch)", xlabel="epoch", ylabel="training loss")
    ax_acc.set(title="Test accuracy after each epoch", xlabel="epoch", ylabel="test accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False)  # plain numbers, no "1e-7 + 2.3" offset
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=dpi)  # no bbox_inches="tight": the size stays figsize * dpi
    atomic_write_bytes(path, png.getvalue())  # never over a FIFO, a device or a link; an old file keeps its mode
    plt.close(fig)
    return path
