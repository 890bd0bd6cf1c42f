"""The spec's network as each engine's users write it (issue 26): the generated scripts, written to a folder or shown
side by side. The generators live in frameworks/ (a framework fact); this module only asks for their text.

Engines that share a script (the three Keras backends) get one file; an engine whose generator cannot write the spec
(scikit-learn beyond Dense + ReLU) gets none, and `skipped` says why.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from frameworks.code_generators import generator
from tasks.spec import TaskSpec

# where a section of a generated script starts: the line's beginning (each file has them in this order, but the
# scikit-learn script defines its fixed input before its estimator)
SECTIONS = (
    ("The network", ("# The network",)),
    ("The loss and the optimizer", ("# The loss",)),
    ("A training step", ("def train_step", "@nnx.jit", "step = 0", "if args.steps:", "for _ in range(args.steps):")),
    ("The fixed input", ("# A fixed input",)),
    ("The canonical weights and the logits", ("if args.weights:",)),
)
MARK = "*"  # marks a line that carries a comment: the generators comment exactly where an engine differs


@dataclass(frozen=True)
class Script:
    """One generated file: its name, the engines it serves, its source."""

    file_name: str  # e.g. "pytorch_model.py"
    engines: tuple[str, ...]  # e.g. ("keras", "keras-jax", "keras-torch")
    source: str


def scripts(spec: TaskSpec, engines: list[str]) -> tuple[list[Script], dict[str, str]]:
    """The scripts for these engines (one per generator, in engine order) and {engine: why it has none}."""
    by_file: dict[str, Script] = {}
    skipped: dict[str, str] = {}
    for name in engines:
        module = generator(name)
        reason = "no code generator" if module is None else module.unsupported(spec)
        if reason:
            skipped[name] = reason
            continue
        known = by_file.get(module.FILE_NAME)
        if known is None:
            by_file[module.FILE_NAME] = Script(module.FILE_NAME, (name,), module.generate(spec))
        else:
            by_file[module.FILE_NAME] = Script(known.file_name, (*known.engines, name), known.source)
    return list(by_file.values()), skipped


def write_code(folder: Path, spec: TaskSpec, engines: list[str]) -> list[Path]:
    """Write FOLDER/<engine>_model.py for every engine whose generator can write the spec; returns the files written.

    Each file is written to a temporary name and renamed, so a reader never sees half a script.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for script in scripts(spec, engines)[0]:
        path = folder / script.file_name
        with tempfile.NamedTemporaryFile("w", dir=folder, prefix=f".{script.file_name}.", delete=False) as handle:
            handle.write(script.source)
        os.replace(handle.name, path)
        written.append(path)
    return written


def sections(source: str) -> dict[str, list[str]]:
    """A generated script cut at its SECTIONS (the lines before the first one, the header, are left out)."""
    result: dict[str, list[str]] = {}
    current = None
    for line in source.splitlines():
        starts = [title for title, prefixes in SECTIONS if line.startswith(prefixes) and title not in result]
        if starts:
            current = starts[0]
            result[current] = []
        if current is not None:
            result[current].append(line)
    return result


def _cells(line: str, width: int) -> list[str]:
    """One line as cells of `width` characters: the mark column, then the text wrapped onto continuation cells."""
    mark = MARK if "  # " in line or line.lstrip().startswith("# ") and not line.startswith("# ") else " "
    text = line.expandtabs()
    pieces = [text[i : i + width - 2] for i in range(0, max(len(text), 1), width - 2)] or [""]
    return [f"{mark if n == 0 else ' '} {piece}".ljust(width) for n, piece in enumerate(pieces)]


def side_by_side(spec: TaskSpec, engines: list[str], width: int = 72) -> str:
    """The engines' scripts in columns of `width` characters, section by section; a line marked * carries a comment
    saying what this engine needs that the others may not (a layout change, a default that differs, from_logits...)."""
    found, skipped = scripts(spec, engines)
    if not found:
        return "no engine can write this spec: " + "; ".join(f"{name}: {why}" for name, why in skipped.items())
    cut = [sections(script.source) for script in found]
    rule = "-+-".join("-" * width for _ in found)
    lines = [" | ".join(f"{script.file_name} ({', '.join(script.engines)})".ljust(width) for script in found), rule]
    for title, _ in SECTIONS:
        columns = [[cell for line in parts.get(title, []) for cell in _cells(line, width)] for parts in cut]
        if not any(columns):
            continue
        lines += [f"== {title}", rule]
        for row in range(max(len(column) for column in columns)):
            lines.append(" | ".join(column[row] if row < len(column) else " " * width for column in columns).rstrip())
        lines.append(rule)
    lines += [f"{name}: no script ({why})" for name, why in skipped.items()]
    return "\n".join(lines) + "\n"
