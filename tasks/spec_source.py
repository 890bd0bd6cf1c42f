"""Where a spec file's data comes from (tasks/spec_file.py): a user's .npz, or a built-in task's prepared arrays.

`tasks.spec` re-exports DataSource and DataSpec holds one; a built-in task leaves it empty and loads its own data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataSource:
    """A user's data: an .npz file or a built-in task's data, each sample reshaped, padded and the sets cut as stated."""

    file: str = ""  # absolute path of an .npz with X_train, y_train, X_test, y_test ("": not a file)
    task: str = ""  # a built-in task whose prepared data is reused, e.g. "digits" ("": not a task)
    reshape: tuple[int, ...] = ()  # each sample reshaped to this shape, canonical layout (): kept as it is
    pad: int = 0  # zeros added on each side of an image's height and width (after the reshape)
    max_train: int = 0  # keep the first N training samples (0: all)
    max_test: int = 0  # keep the first N test samples (0: all)

    @property
    def given(self) -> bool:
        """True for a spec file's data, False for a built-in task's own."""
        return bool(self.file or self.task)
