"""`compare.py --explain`: the model as each adapter defines it, side by side, from one spec.

Three parts, rendered as Markdown (readable in a terminal, and reused by the report):
(a) the adapters' real source, read with `inspect`; (b) each framework's model summary;
(c) the framework defaults that differ for this task, and what the spec sets instead.
Each framework answers in its own child process (workbench/process/ask.py): this process imports none.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from tabulate import tabulate

from frameworks.base import missing_packages
from tasks.spec import TaskSpec
from tasks.spec_io import spec_to_json
from workbench.process.ask import AskError, ask
from workbench.teach.code import side_by_side
from workbench.teach.defaults import table_rows
from workbench.teach.facts import answer_many as teach_answer_many
from workbench.teach.sources import ROLES, SourceBlock
from workbench.teach.summary import summary_rows

Section = tuple[str, str]  # (title, Markdown body): also the report's extra-section type


def gather(spec: TaskSpec, frameworks: list[str]) -> tuple[dict[str, dict], list[str]]:
    """Each installed framework's teaching facts (framework -> answer), and one note per framework left out."""
    return gather_many([spec], frameworks)[0]


def gather_many(specs: list[TaskSpec], frameworks: list[str]) -> list[tuple[dict[str, dict], list[str]]]:
    """gather() of each spec, asking each framework once for all of them (one child per framework, not per spec)."""
    def one(name: str) -> list[dict | str]:
        missing = missing_packages(name)
        if missing:
            return [f"{name}: skipped, not installed ({', '.join(missing)})"] * len(specs)
        try:
            answers = ask(teach_answer_many, name, {"specs": [spec_to_json(s) for s in specs]})[0]["answers"]
        except AskError as exc:  # installed, but its adapter failed: said as an error, not as "skipped"
            return [f"ERROR ({exc.kind}) {exc}"] * len(specs)
        return [f"ERROR ({a['error_kind']}) {name}: {a['error']}" if "error" in a else a for a in answers]

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # one child per framework, in parallel
        by_framework = dict(zip(frameworks, pool.map(one, frameworks)))
    gathered = []
    for i in range(len(specs)):
        results = {name: answers[i] for name, answers in by_framework.items()}
        gathered.append(({n: r for n, r in results.items() if isinstance(r, dict)}, [r for r in results.values() if isinstance(r, str)]))
    return gathered


def code_markdown(block: SourceBlock) -> str:
    """A heading with file and line, then the code in a fenced block."""
    return f"**{block.framework}** · `{block.path}` line {block.first_line} · `{block.name}`\n\n```python\n{block.code}\n```"


def code_section(answers: dict[str, dict]) -> str:
    """(a) every role's code, framework after framework, so the same role reads side by side."""
    roles = list(ROLES) + [r for a in answers.values() for r in a["roles"] if r not in ROLES]
    parts = []
    for role in dict.fromkeys(roles):
        body = []
        for framework, answer in answers.items():
            found = answer["roles"].get(role)
            if isinstance(found, str):
                body.append(f"*{framework}: {found}*")
            elif found:
                body += [code_markdown(SourceBlock(**block)) for block in found]
        if body:
            parts += [f"### {role}", *body]
    return "\n\n".join(parts)


def summary_section(spec: TaskSpec, answers: dict[str, dict]) -> str:
    """(b) one row per spec layer: output shape and parameters in every framework that builds the spec."""
    columns = {f"{name} {a['summary_title']}": [tuple(c) for c in a["summary"]] for name, a in answers.items() if a["summary"]}
    headers, rows = summary_rows(spec, columns)
    note = (
        "Shapes are per sample, each in its framework's own layout (channels-first or channels-last). "
        "'state' counts non-trained buffers (BatchNorm's moving statistics, and any counters a framework keeps). "
        "A total that differs from the spec's comes from tensors an adapter holds fixed: its code above says which."
    )
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) + "\n\n" + note


def defaults_section(spec: TaskSpec, answers: dict[str, dict]) -> str:
    """(c) the defaults table for the frameworks shown."""
    headers, rows = table_rows(spec, {name: a["defaults"] for name, a in answers.items() if a["defaults"]})
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def explain_sections(spec: TaskSpec, frameworks: list[str], gathered: tuple[dict[str, dict], list[str]] | None = None
                     ) -> tuple[list[Section], bool]:  # fmt: skip
    """The three parts as (title, Markdown) sections, for the frameworks that are installed, and whether an installed
    framework's adapter failed to answer (said in "Frameworks left out" as ERROR). gathered: gather's answer, if asked."""
    answers, notes = gathered if gathered is not None else gather(spec, frameworks)
    notes = list(notes)
    errored = any(n.startswith("ERROR") for n in notes)
    notes += [f"{name}: cannot build this spec's network: {a['unsupported']}" for name, a in answers.items() if a["unsupported"]]
    sections = [
        ("The network as each framework's users write it (generated; --code DIR writes the runnable scripts; * marks the "
         "lines where an engine differs)", f"```\n{side_by_side(spec, frameworks)}\n```"),
        ("The model in each framework (the adapters' own code)", code_section(answers)),
        ("Model summary, layer by layer", summary_section(spec, answers)),
        ("Framework defaults that differ, and what the spec sets", defaults_section(spec, answers)),
    ]
    if notes:
        sections.insert(0, ("Frameworks left out", "\n".join(f"- {n}" for n in notes)))
    return sections, errored


def explain_text(spec: TaskSpec, frameworks: list[str]) -> tuple[str, bool]:
    """The whole --explain output as one Markdown document, and whether an installed framework's adapter failed."""
    head = f"# {spec.name}: {spec.title}\n\nOne spec (task `{spec.name}`), {len(frameworks)} adapters: {', '.join(frameworks)}."
    sections, errored = explain_sections(spec, frameworks)
    body = [f"## ({'abcdefgh'[i]}) {title}\n\n{text}" for i, (title, text) in enumerate(sections)]
    return "\n\n".join([head, *body]) + "\n", errored
