"""The busy-machine guard: what else used the CPU while a row was timed, read from /proc.

A row's speed is only meaningful on a quiet machine: on 2 cores, one busy-loop process next to a 2-thread PyTorch row
made it 6x slower (Keras 1.7x, JAX 1.4x). So the driver samples the machine before and after the timed part of a row,
and the row records how many cores *other* processes used meanwhile (all CPUs' busy time from /proc/stat, less this
process's own and its descendants' from /proc/PID/stat: torch.compile's compile workers are the row's own work), the
1-minute load average and this process's involuntary context switches (the
scheduler taking a core away from it). A row whose neighbours used NOISY_OTHER_CORES or more is marked noisy, with a
one-line reason, in the table, the JSON and the report. Where /proc is missing (not Linux), nothing is marked.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

NOISY_OTHER_CORES = 0.25  # other processes' mean CPU use (in cores) from which a row's timing is marked noisy
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # /proc's jiffies per second


@dataclass(frozen=True)
class LoadSample:
    """One reading of the machine and of this process (None where /proc cannot be read)."""

    wall_s: float  # time.monotonic()
    busy_jiffies: int | None  # every CPU's non-idle time, /proc/stat
    own_jiffies: int | None  # user + system time of this process, its live descendants and the children they waited for
    involuntary: int  # this process's involuntary context switches so far (getrusage)
    load1: float | None  # the 1-minute load average, /proc/loadavg


@dataclass(frozen=True)
class MachineLoad:
    """What else used the CPU between two samples, and the verdict on the row's timing."""

    other_cores: float | None  # mean cores used by other processes (None: unknown)
    load1: float | None  # the 1-minute load average at the end (this row's own threads included)
    involuntary_per_s: float  # involuntary context switches of this process per second
    noisy: bool  # timed on a busy machine: its speed figures are not comparable
    reason: str  # one line, "" when quiet


def _busy_jiffies(stat: Path = Path("/proc/stat")) -> int | None:
    """Non-idle jiffies of all CPUs: user, nice, system, irq, softirq, steal (guest time is inside user)."""
    try:
        fields = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[0] != "cpu" or len(fields) < 9:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return user + nice + system + irq + softirq + steal


def _stat_fields(stat: Path) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name in parentheses (field 4, the parent, comes first)."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _own_jiffies(proc: Path = Path("/proc"), pid: int | None = None) -> int | None:
    """utime + stime + cutime + cstime (fields 14-17) of this process and of every live descendant: its own threads,
    the children it waited for, and the ones still running (e.g. a compiler's worker processes)."""
    pid = pid or os.getpid()
    table: dict[int, list[str]] = {}
    for entry in proc.glob("[0-9]*"):
        fields = _stat_fields(entry / "stat")
        if fields is not None:
            table[int(entry.name)] = fields
    if pid not in table:
        return None
    family, joined = {pid}, {pid}
    while joined:  # until no process joins: after pids wrap around, a child's pid may be below its parent's
        joined = {child for child, fields in table.items() if child not in family and int(fields[1]) in family}
        family |= joined
    return sum(int(v) for member in family for v in table[member][11:15])


def _load1(loadavg: Path = Path("/proc/loadavg")) -> float | None:
    try:
        return float(loadavg.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def sample() -> LoadSample:
    """Read the machine now."""
    return LoadSample(time.monotonic(), _busy_jiffies(), _own_jiffies(), resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw, _load1())


def between(before: LoadSample, after: LoadSample, cores: int | None = None) -> MachineLoad:
    """The other processes' CPU use between two samples, and whether the row's timing is noisy. The child processes
    this process started are its own, not others (a row's compile workers, a benchmark's runs)."""
    cores = cores or os.cpu_count() or 1
    seconds = max(after.wall_s - before.wall_s, 1e-9)
    involuntary = (after.involuntary - before.involuntary) / seconds
    if None in (before.busy_jiffies, after.busy_jiffies, before.own_jiffies, after.own_jiffies):
        return MachineLoad(None, after.load1, involuntary, False, "")
    others = (after.busy_jiffies - before.busy_jiffies) - (after.own_jiffies - before.own_jiffies)
    other_cores = max(others, 0) / CLOCK_TICKS / seconds
    if other_cores < NOISY_OTHER_CORES:
        return MachineLoad(other_cores, after.load1, involuntary, False, "")
    load = f", load average {after.load1:.1f}" if after.load1 is not None else ""
    reason = (f"other processes used {other_cores:.2f} of {cores} cores while it was timed{load}: "
              f"its speed figures are not comparable")  # fmt: skip
    return MachineLoad(other_cores, after.load1, involuntary, True, reason)
