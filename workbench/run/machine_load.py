"""The busy-machine guard: what else used the CPU while a row was timed, read from /proc.

A row's speed is only meaningful on a quiet machine: on 2 cores, one busy-loop process next to a 2-thread PyTorch row
made it 6x slower (Keras 1.7x, JAX 1.4x). So the driver samples the machine before and after the timed part of a row,
and the row records how many cores *other* processes used meanwhile (all CPUs' busy time from /proc/stat, less this
process's own from /proc/self/stat), the 1-minute load average and this process's involuntary context switches (the
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
    own_jiffies: int | None  # this process's user + system time, all threads, /proc/self/stat
    involuntary: int  # this process's involuntary context switches so far (getrusage)
    load1: float | None  # the 1-minute load average, /proc/loadavg
    children_s: float = 0.0  # CPU seconds of this process's finished (waited-for) children, getrusage


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


def _own_jiffies(stat: Path = Path("/proc/self/stat")) -> int | None:
    """utime + stime of this process (fields 14 and 15, after the command name in parentheses)."""
    try:
        after_name = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(after_name[11]) + int(after_name[12])


def _load1(loadavg: Path = Path("/proc/loadavg")) -> float | None:
    try:
        return float(loadavg.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def sample() -> LoadSample:
    """Read the machine now."""
    usage, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return LoadSample(time.monotonic(), _busy_jiffies(), _own_jiffies(), usage.ru_nivcsw, _load1(), children.ru_utime + children.ru_stime)


def between(before: LoadSample, after: LoadSample, cores: int | None = None, children: bool = False) -> MachineLoad:
    """The other processes' CPU use between two samples, and whether the row's timing is noisy. children=True: the
    child processes this process ran and waited for in between are its own, not others (a benchmark's runs)."""
    cores = cores or os.cpu_count() or 1
    seconds = max(after.wall_s - before.wall_s, 1e-9)
    involuntary = (after.involuntary - before.involuntary) / seconds
    if None in (before.busy_jiffies, after.busy_jiffies, before.own_jiffies, after.own_jiffies):
        return MachineLoad(None, after.load1, involuntary, False, "")
    others = (after.busy_jiffies - before.busy_jiffies) - (after.own_jiffies - before.own_jiffies)
    others -= round((after.children_s - before.children_s) * CLOCK_TICKS) if children else 0
    other_cores = max(others, 0) / CLOCK_TICKS / seconds
    if other_cores < NOISY_OTHER_CORES:
        return MachineLoad(other_cores, after.load1, involuntary, False, "")
    load = f", load average {after.load1:.1f}" if after.load1 is not None else ""
    reason = (f"other processes used {other_cores:.2f} of {cores} cores while it was timed{load}: "
              f"its speed figures are not comparable")  # fmt: skip
    return MachineLoad(other_cores, after.load1, involuntary, True, reason)
