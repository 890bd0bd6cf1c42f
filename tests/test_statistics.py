"""The --repeats statistics against figures worked out by hand from their formulas (not from scipy)."""

from __future__ import annotations

import json
import math

import pytest

from workbench.report import statistics as st
from workbench.report.tables import render
from workbench.run.result import RunResult

META = {"task": "mnist", "title": "MNIST MLP", "threads": 1, "seed": "0..2", "dtype": "float32"}
T_975_DF2 = 4.302652729911275  # the 97.5% quantile of Student's t with 2 degrees of freedom (any t table: 4.303)


def t_pdf(x: float, df: float) -> float:
    """Student's t density, written out."""
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    return c * (1 + x * x / df) ** (-(df + 1) / 2)


def two_sided_p(t: float, df: float, steps: int = 20000) -> float:
    """1 - 2 * integral of the density from 0 to |t| (Simpson's rule)."""
    h = abs(t) / steps
    area = t_pdf(0, df) + t_pdf(abs(t), df)
    area += sum((4 if i % 2 else 2) * t_pdf(i * h, df) for i in range(1, steps))
    return 1 - 2 * area * h / 3


def runs(framework: str, accs: list[float], throughputs: list[float] | None = None) -> list[RunResult]:
    """One ok row per seed 0, 1, 2, ..."""
    throughputs = throughputs or [1000.0] * len(accs)
    return [RunResult(task="mnist", framework=framework, model="spec", seed=seed, test_acc=acc, throughput=tp)
            for seed, (acc, tp) in enumerate(zip(accs, throughputs))]  # fmt: skip


def test_spread_mean_std_and_t_interval_by_hand():
    s = st.spread([90.0, 91.0, 92.0])  # mean 91, deviations -1 0 1: variance 2/2 = 1
    half = T_975_DF2 * 1.0 / math.sqrt(3)  # 2.484
    assert (s.n, s.mean, s.std) == (3, pytest.approx(91.0), pytest.approx(1.0))
    assert (s.ci_low, s.ci_high) == (pytest.approx(91 - half, abs=1e-9), pytest.approx(91 + half, abs=1e-9))
    one = st.spread([97.5])
    assert (one.n, one.mean, one.std, one.ci_low, one.ci_high) == (1, 97.5, None, None, None)


def test_welch_p_value_by_hand():
    a, b = [90.0, 91.0, 92.0], [88.0, 89.0, 93.0]  # means 91 and 90; variances 1 and (4 + 1 + 9) / 2 = 7
    se2 = 1 / 3 + 7 / 3  # 8/3
    t = (91 - 90) / math.sqrt(se2)  # 0.612
    df = se2**2 / ((1 / 3) ** 2 / 2 + (7 / 3) ** 2 / 2)  # Welch-Satterthwaite: 2.56
    assert df == pytest.approx(2.56)
    assert st.welch_p(a, b) == pytest.approx(two_sided_p(t, df), abs=1e-6)
    assert st.welch_p(a, [90.0]) is None  # one value: no variance, no test
    assert st.welch_p([1.0, 1.0], [2.0, 2.0]) is None  # no spread at all: no test (scipy would give NaN)


def test_p_a_beats_b_over_paired_seeds_ties_count_half():
    assert st.p_beats({0: 90, 1: 91, 2: 92}, {0: 88, 1: 89, 2: 93}) == (pytest.approx(2 / 3), 3)
    assert st.p_beats({0: 90, 1: 91}, {0: 90, 1: 95, 7: 99}) == (pytest.approx(0.25), 2)  # a tie, a loss; seed 7 unpaired
    assert st.p_beats({0: 1.0}, {1: 1.0}) == (None, 0)


def test_summary_pairs_and_verdicts():
    results = runs("pytorch", [0.90, 0.91, 0.92]) + runs("keras", [0.88, 0.89, 0.93]) + runs("jax", [0.80, 0.81, 0.82])
    [block] = st.summarize(results)
    assert [r.framework for r in block.rows] == ["pytorch", "keras", "jax"]
    pairs = {(p.a, p.b, p.metric): p for p in block.pairs}
    close = pairs[("pytorch", "keras", "test_acc")]
    assert close.diff == pytest.approx(1.0) and close.p_a_beats_b == pytest.approx(2 / 3) and close.n_paired == 3
    assert close.verdict == f"no significant difference at n=3 (p={close.p_value:.2g})"
    far = pairs[("pytorch", "jax", "test_acc")]  # t = 10 / sqrt(2/3) = 12.2 with 4 degrees of freedom
    assert far.p_value == pytest.approx(two_sided_p(10 / math.sqrt(2 / 3), 4), abs=1e-6)
    assert far.verdict == "pytorch higher by 10.00 points (p<0.001, n=3)"
    same = pairs[("pytorch", "keras", "throughput")]  # 1000 samples/s at every seed on both sides
    assert same.p_value is None and same.verdict == "identical at every seed (n=3)"


def test_verdict_words():
    assert st.verdict("pytorch", "keras", 5, 5, 0.8, 0.003, "points") == "pytorch higher by 0.80 points (p=0.003, n=5)"
    assert st.verdict("pytorch", "keras", 5, 5, -1.0, 0.41, "points") == "no significant difference at n=5 (p=0.41)"
    assert st.verdict("a", "b", 5, 4, -1234.0, 0.01, "samples/s") == "b higher by 1,234 samples/s (p=0.01, n=5/4)"
    assert st.verdict("a", "b", 1, 1, 1.0, None, "points") == "n=1: no statistics possible (run --repeats 2 or more)"


def test_rendered_summary_shows_interval_and_pairs():
    results = runs("pytorch", [0.90, 0.91, 0.92], [100.0, 200.0, 300.0]) + runs("keras", [0.80, 0.81, 0.82])
    text = render(META, results, "simple")
    row = next(line for line in text.splitlines() if line.startswith("pytorch") and "±" in line)
    half = T_975_DF2 / math.sqrt(3)
    assert f"91.00 ± 1.00 [{91 - half:.2f}, {91 + half:.2f}]" in row
    assert "ties count half" in text and "pytorch higher by 10.00 points (p<0.001, n=3)" in text


def test_one_seed_says_no_statistics_and_json_is_strict():
    diverged = RunResult(task="mnist", framework="keras", model="spec", status="diverged", train_loss=float("nan"))
    results = runs("pytorch", [0.9]) + [diverged]
    payload = json.loads(render(META, results, "json"), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert payload["results"][1]["train_loss"] is None  # NaN written as null
    [block] = payload["summary"]
    [pair, _] = block["pairs"]
    assert pair["p_value"] is None and pair["verdict"].startswith("n=1/0: no statistics possible")
    assert block["rows"][0]["metrics"]["test_acc"] == {"n": 1, "mean": 90.0, "std": None, "ci_low": None, "ci_high": None}


def test_sweep_summary_has_one_block_per_configuration():
    results = []
    for lr in (0.001, 0.003):
        for r in runs("pytorch", [0.90, 0.92]) + runs("keras", [0.91, 0.93]):
            r.config = {"lr": lr}
            results.append(r)
    text = render(META, results, "simple")
    assert text.count("Summary over seeds: lr=0.001") == 1 and text.count("Summary over seeds: lr=0.003") == 1
    assert text.count("ties count half") == 2
    assert "2/2" in text and "4/2" not in text  # each block counts its own rows


def mode_row(framework: str, mode: str, seed: int, status: str = "ok", acc: float | None = 0.9) -> RunResult:
    """One row of digits in `mode` (a skipped row has no figures)."""
    ok = status == "ok"
    return RunResult(task="digits", framework=framework, model="spec", seed=seed, status=status, mode=mode,
                     compiled=mode == "compiled", test_acc=acc if ok else None, throughput=1000.0 + seed if ok else None)


def test_modes_are_rows_of_their_own_and_named_where_an_engine_ran_several():
    """--compile: sklearn's skipped compiled rows are not counted with its ok eager rows; JAX's default jit rows
    (its only mode here) keep the bare engine name."""
    results = [row for seed in (0, 1) for row in (
        mode_row("sklearn", "eager", seed, acc=0.90 + seed / 100), mode_row("sklearn", "compiled", seed, "skipped"),
        mode_row("jax", "compiled", seed, acc=0.80 + seed / 100))]  # fmt: skip
    [block] = st.summarize(results)
    assert [(r.framework, r.mode, r.runs, r.seeds) for r in block.rows] == [
        ("sklearn", "eager", 2, [0, 1]), ("sklearn", "compiled", 2, []), ("jax", "compiled", 2, [0, 1])]
    assert st.labels(block.rows) == ["sklearn (eager)", "sklearn (compiled)", "jax"]
    assert {p.a for p in block.pairs} | {p.b for p in block.pairs} == {"sklearn (eager)", "sklearn (compiled)", "jax"}
    summary = render(META, results, "simple").split("Every run")[0]
    lines = {line.split()[2]: line for line in summary.splitlines() if line.startswith("sklearn")}
    assert "2/2" in lines["eager"] and "0/2" in lines["compiled"] and "1/2" not in summary
    assert "sklearn (eager) higher by 10.00 points" in summary
    old = RunResult.from_dict({"task": "digits", "framework": "pytorch", "model": "spec", "compiled": True})
    assert old.mode == "compiled"  # a file saved before modes: its compiled rows read back as such
    assert st.labels(st.summarize([old, RunResult(task="digits", framework="pytorch", model="spec")])[0].rows) == [
        "pytorch (compiled)", "pytorch (default)"]
