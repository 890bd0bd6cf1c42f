"""The --explain part of the HTML report: each engine's model code side by side (highlighted with Pygments),
the model summary layer by layer, and the framework-defaults table.

The facts come from `workbench.teach.explain.gather` (each framework answers in its own child process);
rendering them here is pure.
"""

from __future__ import annotations

import html

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from tasks.spec import TaskSpec
from workbench.report.html_tables import table
from workbench.teach.code import SECTIONS, scripts, sections
from workbench.teach.defaults import table_rows
from workbench.teach.sources import ROLES, SourceBlock
from workbench.teach.summary import summary_rows

CODE_CLASS = "hl"  # the CSS class Pygments' rules are scoped to


def code_css() -> str:
    """Pygments' colour rules for the highlighted code, scoped to CODE_CLASS."""
    return HtmlFormatter(style="default").get_style_defs(f".{CODE_CLASS}")


def highlighted(code: str, marked: list[int] | None = None) -> str:
    """Python source as highlighted HTML (Pygments escapes every character of the code); `marked` 1-based lines get
    Pygments' line highlight."""
    return highlight(code, PythonLexer(), HtmlFormatter(cssclass=CODE_CLASS, wrapcode=True, hl_lines=marked or []))


def generated_html(spec: TaskSpec, engines: list[str]) -> str:
    """The generated scripts (workbench/teach/code.py) side by side, section by section, one column per script; the
    lines that carry a comment, where an engine differs from the others (layouts, eps, from_logits...), highlighted."""
    found, skipped = scripts(spec, engines)
    parts = []
    for title, _ in SECTIONS:
        cells = []
        for script in found:
            lines = sections(script.source).get(title, [])
            marked = [n for n, line in enumerate(lines, 1) if "  # " in line or line.lstrip().startswith("# ")]
            where = f"{html.escape(', '.join(script.engines))} · {html.escape(script.file_name)}"
            cells.append(f'<div><div class="where">{where}</div>{highlighted(chr(10).join(lines), marked)}</div>')
        if cells:
            parts.append(f'<h3>{html.escape(title)}</h3><div class="code-grid">{"".join(cells)}</div>')
    notes = "".join(f"<li>{html.escape(name)}: {html.escape(why)}</li>" for name, why in skipped.items())
    return "".join(parts) + (f'<ul class="notes">{notes}</ul>' if notes else "")


def _block(block: SourceBlock) -> str:
    where = f"{html.escape(block.framework)} · {html.escape(block.path)} line {block.first_line} · {html.escape(block.name)}"
    return f'<div><div class="where">{where}</div>{highlighted(block.code)}</div>'


def code_html(answers: dict[str, dict]) -> str:
    """Every role (build, optimizer, loss, one epoch...) as a row of the engines' code, side by side."""
    roles = list(ROLES) + [r for a in answers.values() for r in a["roles"] if r not in ROLES]
    parts = []
    for role in dict.fromkeys(roles):
        cells = []
        for framework, answer in answers.items():
            found = answer["roles"].get(role)
            if isinstance(found, str):  # the adapter says why it has no code for this role
                note = f'<p class="note">{html.escape(found)}</p>'
                cells.append(f'<div><div class="where">{html.escape(framework)}</div>{note}</div>')
            elif found:
                cells += [_block(SourceBlock(**block)) for block in found]
        if cells:
            parts.append(f'<h3>{html.escape(role)}</h3><div class="code-grid">{"".join(cells)}</div>')
    return "".join(parts)


def summary_html(spec: TaskSpec, answers: dict[str, dict]) -> str:
    """One row per spec layer: output shape and parameters in every framework that builds the spec."""
    columns = {f"{name} {a['summary_title']}": [tuple(c) for c in a["summary"]] for name, a in answers.items() if a["summary"]}
    if not columns:
        return ""
    headers, rows = summary_rows(spec, columns)
    return table(headers, [[str(c) for c in row] for row in rows], "summary")


def defaults_html(spec: TaskSpec, answers: dict[str, dict]) -> str:
    """The defaults that differ between the frameworks, what the spec sets instead, and why it matters."""
    headers, rows = table_rows(spec, {name: a["defaults"] for name, a in answers.items() if a["defaults"]})
    return table(headers, [[str(c) for c in row] for row in rows], "defaults") if rows else ""
