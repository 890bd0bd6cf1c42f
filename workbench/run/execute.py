"""Runs every row of a plan on its executor (local or Ray) and saves the results after every row."""

from __future__ import annotations

import sys
from typing import Callable, Iterator

from workbench.run import ray_executor
from workbench.run.result import RunResult, save_results
from workbench.run.resume import carried_note, carried_rows
from workbench.run.runner import Interrupted, RunPlan, local_rows

EXECUTORS = ("local", "ray")  # --executor values


def finished_rows(plan: RunPlan) -> Iterator[tuple[int, RunResult]]:
    """(plan index, result) as each row finishes: in plan order locally, in any order on Ray."""
    return ray_executor.run_rows(plan) if plan.executor == "ray" else local_rows(plan)


def save_or_warn(plan: RunPlan, results: list[RunResult]) -> bool:
    """Save the rows so far; a full disk or a removed folder is one warning line, not the end of the run."""
    if plan.output is None:
        return True
    try:
        save_results(plan.output, plan.meta.to_dict(), results)
        return True
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        print(f"framebench: warning: could not save results to {plan.output}: {reason}; still running", file=sys.stderr)
        return False


def run_plan(plan: RunPlan, on_result: Callable[[RunResult], bool] | None = None) -> list[RunResult]:
    """Run every request, saving after each row (in plan order); `on_result` returning True stops early.

    The row that stopped the run comes last and is not saved. Ctrl-C raises Interrupted carrying the rows
    finished so far (saved once more if the last save missed); rows still running are stopped.
    """
    done: dict[int, RunResult] = {}
    carried = carried_rows(plan)  # --resume: saved rows of engines this run does not have stay, after the others
    if carried:
        print(f"framebench: note: {carried_note(carried)}", file=sys.stderr)
    ordered = lambda: [done[i] for i in sorted(done)] + carried  # noqa: E731
    saved = True
    rows = finished_rows(plan)
    try:
        for index, result in rows:
            if on_result is not None and on_result(result):
                return ordered() + [result]  # a row that stops the run (bad data, bad --subset) is not saved
            done[index] = result
            saved = False  # until the save below returns: Ctrl-C during it retries once
            saved = save_or_warn(plan, ordered())
    except KeyboardInterrupt:
        rows.close()  # the Ray executor cancels the rows still running
        if not saved:
            save_or_warn(plan, ordered())
        raise Interrupted(ordered()) from None
    finally:
        rows.close()
    return ordered()
