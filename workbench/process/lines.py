"""A failure as one line for a table, and its typed kind (workbench.run.result.ERROR_KINDS)."""

from __future__ import annotations

from tasks.download import DataError
from tasks.pipeline import SubsetError


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line, for the table."""
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


def error_kind(exc: BaseException) -> str:
    """The typed kind of a failure: data, usage, import or adapter."""
    if isinstance(exc, DataError):
        return "data"
    if isinstance(exc, SubsetError):
        return "usage"
    if isinstance(exc, ImportError):
        return "import"
    return "adapter"
