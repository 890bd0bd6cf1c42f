"""Statistics over seeds for the --repeats summary: spread, confidence intervals, framework pairs (scipy.stats).

Pure functions of lists of results. Every figure that cannot be computed (one seed, no spread) is None,
never NaN, so the JSON summary stays valid JSON.
"""

from __future__ import annotations

import itertools
import math
import statistics
import warnings
from dataclasses import dataclass, field
from typing import Collection, Iterable

from workbench.run.result import RunResult, config_key

CONFIDENCE = 0.95  # of the confidence intervals (t distribution)
ALPHA = 0.05  # significance level of the verdicts
METRICS = {  # metric -> (RunResult field, scale for display, unit in the verdicts)
    "test_acc": ("test_acc", 100.0, "points"),
    "throughput": ("throughput", 1.0, "samples/s"),
}


@dataclass
class Spread:
    """One metric of one row over its seeds (display units: accuracy in %)."""

    n: int
    mean: float | None = None
    std: float | None = None  # sample standard deviation (n - 1); None for n < 2
    ci_low: float | None = None  # CONFIDENCE interval of the mean, t distribution with n - 1 degrees of freedom
    ci_high: float | None = None


@dataclass
class RowStats:
    """One (framework, model, mode) row of one configuration over its seeds."""

    framework: str
    model: str
    runs: int  # rows asked for (any status)
    seeds: list[int]  # seeds of the ok rows
    metrics: dict[str, Spread]  # by METRICS key
    values: dict[str, dict[int, float]] = field(default_factory=dict)  # metric -> seed -> value (display units)
    mode: str = ""  # the execution mode its runs ran ("" in files saved before modes)


@dataclass
class PairStats:
    """Row A against row B on one metric of the same configuration."""

    a: str  # row labels
    b: str
    metric: str  # a METRICS key
    n_a: int
    n_b: int
    diff: float | None  # mean(A) - mean(B), display units
    p_value: float | None  # Welch's t-test, two-sided; None when it cannot be computed
    p_a_beats_b: float | None  # fraction of paired seeds where A > B, ties count half
    n_paired: int  # seeds both rows ran
    verdict: str  # in plain words


@dataclass
class ConfigStats:
    """Everything the summary says about one --sweep configuration."""

    config: dict
    rows: list[RowStats]
    pairs: list[PairStats]


def _finite(value: float | None) -> float | None:
    """value, or None if it is missing, NaN or infinite."""
    return float(value) if value is not None and math.isfinite(value) else None


def spread(values: list[float]) -> Spread:
    """Mean, sample std and the t-distribution confidence interval of the mean."""
    n = len(values)
    if n == 0:
        return Spread(n=0)
    mean = statistics.fmean(values)
    if n < 2:
        return Spread(n=1, mean=mean)
    std = statistics.stdev(values)
    from scipy import stats  # here, not at import: scipy.stats takes ~1 s, and every compare.py call imports this

    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * std / math.sqrt(n)
    return Spread(n=n, mean=mean, std=std, ci_low=mean - half, ci_high=mean + half)


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of Welch's t-test (unequal variances); None with under 2 values a side or no spread."""
    if len(a) < 2 or len(b) < 2 or (statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0):
        return None
    from scipy import stats

    with warnings.catch_warnings():  # nearly equal samples: scipy warns of precision loss, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(stats.ttest_ind(a, b, equal_var=False).pvalue)


def p_beats(a: dict[int, float], b: dict[int, float]) -> tuple[float | None, int]:
    """Fraction of the seeds both ran where A > B (a tie counts half), and how many seeds that is."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None, 0
    wins = sum(1.0 if a[s] > b[s] else 0.5 if a[s] == b[s] else 0.0 for s in seeds)
    return wins / len(seeds), len(seeds)


def _p_text(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def _amount(value: float, unit: str) -> str:
    return f"{value:.2f} {unit}" if unit == "points" else f"{value:,.0f} {unit}"


def verdict(a: str, b: str, n_a: int, n_b: int, diff: float | None, p: float | None, unit: str) -> str:
    """The comparison in plain words, e.g. 'A higher by 0.80 points (p=0.003, n=5)'."""
    n = f"n={n_a}" if n_a == n_b else f"n={n_a}/{n_b}"
    if min(n_a, n_b) < 2 or diff is None:
        return f"{n}: no statistics possible (run --repeats 2 or more)"
    if p is None:  # both rows gave the same figure at every seed
        if diff == 0:
            return f"identical at every seed ({n})"
        return f"{a if diff > 0 else b} higher by {_amount(abs(diff), unit)} at every seed (no spread, no test; {n})"
    if p >= ALPHA:
        return f"no significant difference at {n} ({_p_text(p)})"
    return f"{a if diff > 0 else b} higher by {_amount(abs(diff), unit)} ({_p_text(p)}, {n})"


def compare_pair(a: RowStats, b: RowStats, metric: str, label_a: str, label_b: str) -> PairStats:
    """Difference in means, Welch p-value, P(A > B) over paired seeds and the verdict, for one metric."""
    va, vb = a.values[metric], b.values[metric]
    ma, mb = a.metrics[metric].mean, b.metrics[metric].mean
    diff = ma - mb if ma is not None and mb is not None else None
    p = welch_p(list(va.values()), list(vb.values()))
    beats, paired = p_beats(va, vb)
    unit = METRICS[metric][2]
    words = verdict(label_a, label_b, len(va), len(vb), diff, p, unit)
    return PairStats(label_a, label_b, metric, len(va), len(vb), diff, p, beats, paired, words)


def row_stats(framework: str, model: str, runs: list[RunResult], mode: str = "") -> RowStats:
    """The spread of every metric over the ok rows of one (framework, model, mode, configuration)."""
    ok = [r for r in runs if r.status == "ok"]
    values: dict[str, dict[int, float]] = {}
    for metric, (name, scale, _) in METRICS.items():
        values[metric] = {r.seed: scale * getattr(r, name) for r in ok if _finite(getattr(r, name)) is not None}
    metrics = {metric: spread(list(v.values())) for metric, v in values.items()}
    return RowStats(framework, model, len(runs), [r.seed for r in ok], metrics, values, mode)


def mixed_modes(rows: Iterable[RunResult | RowStats]) -> set[tuple[str, str]]:
    """The (framework, model) pairs that have rows in more than one mode: where a label must name the mode (an engine's
    default mode alone, e.g. JAX's jit, is not named)."""
    modes: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        modes.setdefault((r.framework, r.model), set()).add(r.mode)
    return {key for key, names in modes.items() if len(names) > 1}


def shown_mode(row: RunResult | RowStats, mixed: Collection[tuple[str, str]]) -> str:
    """The mode a label names: the row's where its (framework, model) is in `mixed` ("default" for a row saved before
    modes), else ""."""
    return (row.mode or "default") if (row.framework, row.model) in mixed else ""


def labels(rows: list[RowStats]) -> list[str]:
    """The framework's name, or 'framework/model' where a framework has several models; then ' (mode)' where that
    framework and model ran in several modes."""
    models = {f: {r.model for r in rows if r.framework == f} for f in {r.framework for r in rows}}
    mixed = mixed_modes(rows)
    out = []
    for r in rows:
        name, mode = r.framework if len(models[r.framework]) == 1 else f"{r.framework}/{r.model}", shown_mode(r, mixed)
        out.append(f"{name} ({mode})" if mode else name)
    return out


def summarize(results: list[RunResult]) -> list[ConfigStats]:
    """One ConfigStats per configuration, in order of first appearance, one row per (framework, model, mode); every
    pair of its rows compared."""
    groups: dict[tuple, dict[tuple[str, str, str], list[RunResult]]] = {}
    configs: dict[tuple, dict] = {}
    for r in results:
        key = config_key(r.config)
        configs.setdefault(key, r.config)
        groups.setdefault(key, {}).setdefault((r.framework, r.model, r.mode), []).append(r)
    summary = []
    for key, by_row in groups.items():
        rows = [row_stats(framework, model, runs, mode) for (framework, model, mode), runs in by_row.items()]
        names = labels(rows)
        pairs = [
            compare_pair(rows[i], rows[j], metric, names[i], names[j])
            for i, j in itertools.combinations(range(len(rows)), 2)
            for metric in METRICS
        ]
        summary.append(ConfigStats(configs[key], rows, pairs))
    return summary
