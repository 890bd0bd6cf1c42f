"""`compare.py --explain`: the model as each adapter defines it, side by side, from one spec.

Three parts, rendered as Markdown (readable in a terminal, and reused by the report):
(a) the adapters' real source, read with `inspect`; (b) each framework's model summary;
(c) the framework defaults that differ for this task, and what the spec sets instead.
"""

from __future__ import annotations

import os
import tempfile

from tabulate import tabulate

from frameworks.base import load_adapter_module, missing_packages, native_stderr_to
from tasks.spec import LSTM, TaskSpec
from workbench.teach.defaults import default_rows, table_rows
from workbench.teach.sources import SourceBlock, collect, sklearn_uses_mlp
from workbench.teach.summary import summary_rows

Section = tuple[str, str]  # (title, Markdown body): also the report's extra-section type


def load_modules(frameworks: list[str]) -> tuple[dict, list[str]]:
    """Adapter modules of the installed frameworks, in order, and one note per missing one."""
    modules, notes = {}, []
    for name in frameworks:
        missing = missing_packages(name)
        if missing:
            notes.append(f"{name}: not installed ({', '.join(missing)}), left out")
            continue
        with native_stderr_to(os.path.join(tempfile.gettempdir(), "framebench-tensorflow.log")):
            modules[name] = load_adapter_module(name)
    return modules, notes


def code_markdown(block: SourceBlock) -> str:
    """A heading with file and line, then the code in a fenced block."""
    return f"**{block.framework}** · `{block.path}` line {block.first_line} · `{block.name}`\n\n```python\n{block.code}\n```"


def code_section(spec: TaskSpec, modules: dict) -> str:
    """(a) every role's code, framework after framework, so the same role reads side by side."""
    parts = []
    for role, blocks, notes in collect(spec, modules):
        if not blocks and not notes:
            continue
        parts.append(f"### {role}")
        parts += [code_markdown(b) for b in blocks]
        parts += [f"*{note}*" for note in notes]
    return "\n\n".join(parts)


def summary_section(spec: TaskSpec, modules: dict) -> str:
    """(b) one row per spec layer: output shape and parameters in every framework."""
    headers, rows = summary_rows(spec, modules, include_sklearn=sklearn_uses_mlp(spec))
    note = (
        "Shapes are per sample. PyTorch keeps images channels-first (C, H, W); the spec and Keras keep them "
        "channels-last (H, W, C). 'state' counts non-trained buffers (BatchNorm's moving statistics; "
        "PyTorch also keeps a num_batches_tracked counter)."
    )
    if any(isinstance(layer, LSTM) for layer in spec.model.layers):
        note += (
            " PyTorch's LSTM counts more parameters: it has two bias vectors (bias_ih and bias_hh) where the spec "
            "and Keras have one; the adapter loads the spec's bias into bias_ih and zeros into bias_hh."
        )
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) + "\n\n" + note


def defaults_section(spec: TaskSpec, modules: dict) -> str:
    """(c) the defaults table for the frameworks shown."""
    with_mlp = "sklearn" in modules and sklearn_uses_mlp(spec)
    shown = [f for f in ("pytorch", "keras") if f in modules] + (["sklearn"] if with_mlp else [])
    headers, rows = table_rows(default_rows(spec, with_sklearn_mlp=with_mlp), shown)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def explain_sections(spec: TaskSpec, frameworks: list[str]) -> list[Section]:
    """The three parts as (title, Markdown) sections, for the frameworks that are installed."""
    modules, notes = load_modules(frameworks)
    sections = [
        ("The model in each framework (the adapters' own code)", code_section(spec, modules)),
        ("Model summary, layer by layer", summary_section(spec, modules)),
        ("Framework defaults that differ, and what the spec sets", defaults_section(spec, modules)),
    ]
    if notes:
        sections.insert(0, ("Frameworks left out", "\n".join(f"- {n}" for n in notes)))
    return sections


def explain_text(spec: TaskSpec, frameworks: list[str]) -> str:
    """The whole --explain output as one Markdown document."""
    head = f"# {spec.name}: {spec.title}\n\nOne spec (task `{spec.name}`), {len(frameworks)} adapters: {', '.join(frameworks)}."
    body = [f"## ({'abcd'[i]}) {title}\n\n{text}" for i, (title, text) in enumerate(explain_sections(spec, frameworks))]
    return "\n\n".join([head, *body]) + "\n"
