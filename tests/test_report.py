"""The renderer is a pure function of (meta, results): golden strings pin its output."""

from __future__ import annotations

import json

from workbench.report.tables import render, render_csv
from workbench.run.result import EpochRecord, RunResult, load_results, save_results

META = {"task": "mnist", "title": "MNIST MLP", "threads": 2, "seed": 0, "dtype": "float32"}


def sample_results() -> list[RunResult]:
    ok = RunResult(
        task="mnist", framework="pytorch", model="net", version="2.13.0", device="cpu", threads=2,
        dataset="MNIST (canonical): 60000 train / 10000 test, from /data", params=235146, epochs=2,
        train_loss=0.05, test_loss=0.08, test_acc=0.9764, train_s=6.75, throughput=42993.2, infer_s=0.0297,
        peak_rss_mb=705.4, import_s=1.0, data_s=1.06, build_s=0.0074, first_epoch_s=1.09, steady_epoch_s=1.4,
        latency_ms_p50=0.0727, latency_ms_p95=0.124, infer_throughput=336233, time_to_target_s=4.34,
        history=[EpochRecord(1, 0.2, 0.1, 0.9605, 1.09, 1.09), EpochRecord(2, 0.05, 0.08, 0.9764, 1.4, 2.49)],
    )  # fmt: skip
    failed = RunResult(task="mnist", framework="keras", model="spec", status="skipped", message="not installed: keras")
    return [ok, failed]


GOLDEN = """\
framebench | task: mnist | MNIST MLP
device: cpu | threads: 2 | seed: 0 | dtype: float32
dataset: MNIST (canonical): 60000 train / 10000 test, from /data
versions: pytorch 2.13.0

framework    model    device    params    epochs    train loss    test loss    test acc %    train s    samples/s    infer s    peak MB    status
-----------  -------  --------  --------  --------  ------------  -----------  ------------  ---------  -----------  ---------  ---------  --------
pytorch      net      cpu       235,146   2         0.0500        0.0800       97.64         6.75       42,993       0.0297     705        ok
keras        spec     -         -         -         -             -            -             -          -            -          -          skipped

Timings

framework    model    import s    data s    build s    1st epoch s    epoch s (steady)    latency ms p50    p95    infer samples/s    time to target s    train GFLOP/s    % of peak    peak GPU MB
-----------  -------  ----------  --------  ---------  -------------  ------------------  ----------------  -----  -----------------  ------------------  ---------------  -----------  -------------
pytorch      net      1           1.06      0.0074     1.09           1.4                 0.0727            0.124  336,233            4.34                -                -            -
keras        spec     -           -         -          -              -                   -                 -      -                  -                   -                -            -

Test accuracy (%) after each epoch

framework    model    ep 1    ep 2
-----------  -------  ------  ------
pytorch      net      96.05   97.64

keras / spec: skipped: not installed: keras
"""


def test_render_golden():
    assert render(META, sample_results(), "simple") == GOLDEN


def test_render_other_formats():
    github = render(META, sample_results(), "github")
    assert "| pytorch     | net     | cpu      | 235,146  |" in github
    payload = json.loads(render(META, sample_results(), "json"))
    assert payload["results"][0]["test_acc"] == 0.9764 and payload["meta"]["task"] == "mnist"
    lines = render_csv(sample_results()).splitlines()
    assert lines[0].startswith("task,framework,model,status,message")
    assert lines[1].startswith("mnist,pytorch,net,ok,") and lines[2].startswith("mnist,keras,spec,skipped,")


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "results.json"
    save_results(path, META, sample_results())
    meta, results = load_results(path)
    assert meta == META and results == sample_results()
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left behind


def test_repeats_summary_mean_std_and_spread():
    runs = []
    for seed, acc, secs in ((0, 0.97, 10.0), (1, 0.98, 12.0), (2, 0.99, 11.0)):
        runs.append(RunResult(task="mnist", framework="pytorch", model="net", seed=seed, test_acc=acc, train_s=secs, throughput=1000.0 * seed + 1000))
    text = render(META, runs, "simple")
    assert "Summary over seeds" in text
    row = next(line for line in text.splitlines() if line.startswith("pytorch") and "±" in line)
    assert "3/3" in row and "0, 1, 2" in row and "98.00 ± 1.00" in row
    assert "11 (10-12)" in row and "2,000 (1,000-3,000)" in row
    assert "Summary over seeds" not in render(META, runs[:1], "simple")


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def test_nan_and_inf_are_saved_as_null_and_the_status_kept(tmp_path):
    path = tmp_path / "results.json"
    row = RunResult(task="digits", framework="pytorch", model="net", status="diverged",
                    message="training loss became nan in epoch 2", epochs=2, train_loss=float("nan"),
                    history=[EpochRecord(1, float("inf"), float("-inf"), 0.5, 1.0, 1.0)])  # fmt: skip
    save_results(path, {**META, "lr": float("nan")}, [row])
    text = path.read_text()
    payload = json.loads(text, parse_constant=_refuse)  # a strict parser: NaN, Infinity, -Infinity raise
    assert payload["meta"]["lr"] is None and payload["results"][0]["train_loss"] is None
    meta, [back] = load_results(path)
    assert (back.status, back.message, back.epochs) == ("diverged", "training loss became nan in epoch 2", 2)
    assert back.train_loss is None and (back.history[0].train_loss, back.history[0].test_loss) == (None, None)
    assert back.history[0].test_acc == 0.5  # finite numbers are kept as they were
    assert "diverged" in render(meta, [back], "simple")  # and the loaded row still renders


def test_report_and_plot_end_to_end_on_digits(tmp_path):
    """compare.py --plot and --report on digits (no data folder): the PNG, the Markdown and strict JSON in it."""
    from cli_helpers import run_cli

    report, plot = tmp_path / "report", tmp_path / "curves.png"
    proc = run_cli("--task", "digits", "--frameworks", "pytorch,sklearn", "--epochs", "2", "--quiet",
                   "--plot", str(plot), "--report", str(report), "--output", str(tmp_path / "results.json"),
                   env={"FRAMEBENCH_DATA": ""})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    markdown = (report / "report.md").read_text()
    assert "digits" in markdown and "nn.Module + explicit loop" in markdown and "MLPClassifier" in markdown
    assert "(learning_curves.png)" in markdown and (report / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((report / "results.json").read_text(), parse_constant=_refuse)
    assert [(r["framework"], r["status"]) for r in saved["results"]] == [("pytorch", "ok"), ("sklearn", "ok"), ("sklearn", "ok")]
    assert f"report written to {report / 'report.md'}" in proc.stderr
