"""The library's exception types and the exit codes compare.py maps them to: defined once, here.

    0    every row ok
    1    internal error (a bug in framebench)
    2    usage error: a bad option, conflicting options, a bad --resume file, an unusable executor or device
    3    data error: missing, corrupt or unsafe data, weights or export files
    4    some rows failed (skipped, error, diverged, timeout, crashed), an export failed its check,
         or --explain could not ask an installed framework
    5    --check: a comparison is FAIL, or an installed framework's check failed with an error
    130  interrupted (Ctrl-C or SIGTERM): the finished rows are kept
"""

from __future__ import annotations

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DATA, EXIT_FAILED, EXIT_CHECK_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
FATAL_KINDS = {"data": EXIT_DATA, "usage": EXIT_USAGE}  # a row's error kinds on which every row would fail the same way


class UsageError(Exception):
    """A bad option value or a combination that makes no sense: one line, exit code 2."""

    exit_code = EXIT_USAGE


class RowsFailed(RuntimeError):
    """A row of the comparison is not ok (skipped, error, diverged, timeout, crashed): the API's strict mode."""

    exit_code = EXIT_FAILED


class CheckFailed(RuntimeError):
    """A --check comparison is FAIL: the API's strict mode."""

    exit_code = EXIT_CHECK_FAILED
