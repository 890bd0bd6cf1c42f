"""`compare.py --report DIR`: the Markdown handout of a whole run, beside the HTML page (index.html).

DIR gets report.md, the learning-curve PNG it links relatively, and results.json. Sections:
environment, results tables, learning curves, extra sections (e.g. the equivalence checks),
the defaults that differ, the model summaries and the adapters' code side by side. It is kept because it is cheap:
text from the same answers the HTML page shows (no child process of its own when given them) and one PNG; it
diffs, pastes into an issue, and renders on GitHub. The page to look at is index.html (workbench/report/html.py).
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from tasks.spec import TaskSpec
from workbench.teach.explain import Section, explain_sections
from workbench.report.plots import plot_learning_curves
from workbench.report.tables import as_meta, header_lines, render
from workbench.run.meta import RunMeta
from workbench.run.result import RunResult, atomic_write_text, save_results

REPORT_NAME = "report.md"
PLOT_NAME = "learning_curves.png"
RESULTS_NAME = "results.json"


def environment_section(meta: RunMeta | dict, results: list[RunResult]) -> str:
    """Versions, device, threads and the machine, as a bullet list."""
    lines = header_lines(meta, results)[1:]  # the first line (task, title) is the report's title
    lines += [
        f"python {platform.python_version()} | {platform.platform()} | {os.cpu_count()} logical CPUs",
        f"command: python compare.py {' '.join(as_meta(meta).argv)}".rstrip(),
        f"written: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
    ]
    return "\n".join(f"- {line}" for line in lines)


def results_section(meta: RunMeta | dict, results: list[RunResult]) -> str:
    """workbench.report.tables's tables in GitHub format; its plain-text titles and notes made Markdown."""
    tables = render(meta, results, "github").split("\n\n")[1:]  # the first block is the header (see environment)
    parts = []
    for block in tables:
        if block.startswith("|"):
            parts.append(block)
        elif "\n" not in block:
            parts.append(f"**{block}**")  # a table title, e.g. "Timings"
        else:
            parts.append("\n".join(f"- {line}" for line in block.splitlines()))  # notes, one per row
    return "\n\n".join(parts).rstrip()


def plot_section(directory: Path, results: list[RunResult], title: str) -> str:
    """Write the learning curves into the folder and link them relatively."""
    if not any(r.history for r in results):
        return "*No per-epoch history in these results (one-shot baselines only), so no learning curves.*"
    plot_learning_curves(results, directory / PLOT_NAME, title)
    return f"![Learning curves: training loss and test accuracy per epoch]({PLOT_NAME})"


def build_markdown(meta: RunMeta | dict, results: list[RunResult], spec: TaskSpec, frameworks: list[str],
                   extra_sections: Sequence[Section], plot_markdown: str,
                   gathered: tuple[dict[str, dict], list[str]] | None = None) -> str:  # fmt: skip
    """The whole report as Markdown (gathered: workbench.teach.explain.gather's answer; None asks the engines)."""
    sections: list[Section] = [
        ("Environment", environment_section(meta, results)),
        ("Results", results_section(meta, results)),
        ("Learning curves", plot_markdown),
        *extra_sections,
        *explain_sections(spec, frameworks, gathered)[0],  # an adapter that failed is named there; the rows set the exit code
    ]
    head = f"# framebench: {spec.title or spec.name}\n\nTask `{spec.name}`: the same spec trained in {', '.join(frameworks)}."
    contents = "\n".join(f"{i}. [{title}](#{_anchor(title)})" for i, (title, _) in enumerate(sections, 1))
    body = [f"## {title}\n\n{text}" for title, text in sections]
    return "\n\n".join([head, "**Contents**\n\n" + contents, *body]) + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def write_report(directory: Path, meta: RunMeta | dict, results: list[RunResult], spec: TaskSpec, frameworks: list[str],
                 extra_sections: Sequence[Section] = (),
                 gathered: tuple[dict[str, dict], list[str]] | None = None) -> list[Path]:  # fmt: skip
    """Write the report folder and return the files written.

    `extra_sections` is the hook for more (title, Markdown) sections, e.g. the --check tables;
    they follow the learning curves. `gathered`: the engines' teaching answers, when already asked for the HTML page.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    title = f"{spec.name}: {spec.title}" if spec.title else spec.name
    plot_markdown = plot_section(directory, results, title)
    text = build_markdown(meta, results, spec, frameworks, extra_sections, plot_markdown, gathered)
    atomic_write_text(directory / REPORT_NAME, text)
    save_results(directory / RESULTS_NAME, as_meta(meta), results)
    written = [directory / REPORT_NAME, directory / RESULTS_NAME]
    if (directory / PLOT_NAME).exists() and PLOT_NAME in plot_markdown:
        written.append(directory / PLOT_NAME)
    _make_readable(written)
    return written


def _make_readable(paths: list[Path]) -> None:
    """Atomic writes create private (0600) files; a handout should be readable like any new file."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        path.chmod(0o666 & ~umask)

