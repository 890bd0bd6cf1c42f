"""`compare.py --verify-export DIR`: check an export folder again, in fresh processes, and print the table."""

from __future__ import annotations

import sys
from pathlib import Path

from workbench.deploy.manifest import ArtifactError
from workbench.deploy.table import export_failed, export_table
from workbench.deploy.verify import row_folders, verify_folder
from workbench.run.result import RunResult

EXIT_OK, EXIT_DATA, EXIT_FAILED = 0, 3, 4  # compare.py's codes: ok, untrustworthy files, a check FAIL


def verify_export(directory: Path, fmt: str) -> int:
    """Every row folder under `directory`: one line and exit 3 for a changed or unreadable file, else the table."""
    results = []
    try:
        for folder in row_folders(directory):
            manifest, records = verify_folder(folder)
            results.append(RunResult(task=manifest["task"], framework=manifest["framework"], model=manifest["model"], exports=records))
    except ArtifactError as exc:
        print(f"compare.py: error: {exc}", file=sys.stderr)
        return EXIT_DATA
    print(export_table(results, fmt))
    return EXIT_FAILED if export_failed(results) else EXIT_OK
