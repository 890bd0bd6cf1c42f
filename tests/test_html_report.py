"""The HTML report as a browser renders it: headless Chromium, network blocked, on results of a real tiny run.

One real run (the PyTorch and scikit-learn rows of shared_runs.trained_digits: 2 epochs on 320 samples, 2 seeds), one
real --check of the same engines and the same engines' attention maps of a tiny transformer feed one page per module.
Where Chromium is missing the browser tests are skipped with a one-line reason, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from shared_runs import trained_digits
from tiny_specs import tiny_task
from tiny_transformer import HEADS, TRANSFORMER

from tasks import registry
from tasks.overrides import with_overrides
from tests.cli_helpers import assert_one_line_error, run_cli
from workbench.report.browser import Chromium, find_chromium
from workbench.report.from_results import ResultsFileError, load_runs, rebuild_report
from workbench import api
from workbench.check.attention_maps import engine_maps
from workbench.check.equivalence import check_weights
from workbench.report.html import PAGE_NAME, RESULTS_NAME, build_html, write_html_report
from workbench.run.meta import RunMeta
from workbench.run.result import load_results

FRAMEWORKS = ["pytorch", "sklearn"]
HOSTILE = "<script>window.__injected = 1</script><b>not bold</b> & \"quoted\""  # a message that must stay text
SECTIONS = ("run", "results", "timings", "curves", "seeds", "check", "attention", "code", "summary", "defaults")
REVIEW = np.array([0, 0, 3, 1, 4, 2])  # the tiny transformer's review: two padding tokens, four real ones
DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
FIGURES = ("train_loss", "test_loss", "test_acc", "samples_per_s", "spread-test_acc", "spread-throughput")


def _browser_or_skip() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser tests: Chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium): the rendered page is not checked")
    return path


@pytest.fixture(scope="module")
def run_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny run saved as compare.py saves it: the PyTorch and scikit-learn rows of the shared digits run."""
    proc, shared = trained_digits(tmp_path_factory)
    assert shared.is_file(), proc.stderr
    payload = json.loads(shared.read_text(encoding="utf-8"))
    payload["results"] = [r for r in payload["results"] if r["framework"] in FRAMEWORKS]
    path = tmp_path_factory.mktemp("run") / "RUN.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def check_report():  # noqa: ANN201 - workbench.check.equivalence.Report
    """A real --check of the same engines (forward, gradients, trajectories against the NumPy reference)."""
    from workbench.check.all_checks import run_checks
    from workbench.check.equivalence import default_config, task_inputs

    spec = registry.get("digits").spec
    config = dataclasses.replace(default_config(spec, tuple(FRAMEWORKS)), device="cpu")
    X, y, inputs = task_inputs("digits", None, config.batch_size * config.steps, config.seed)
    return run_checks(spec, X, y, config, inputs)


@pytest.fixture(scope="module")
def attention():  # noqa: ANN201 - workbench.check.attention_maps.AttentionMaps
    """The same engines' attention maps of one review through a tiny transformer (scikit-learn has none: skipped)."""
    spec = tiny_task(TRANSFORMER)
    return engine_maps(spec, check_weights(spec, 0), REVIEW, FRAMEWORKS)


@pytest.fixture(scope="module")
def page(run_file: Path, check_report, attention, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """The page of the run, with the check, the attention maps, the engines' code, and one row whose message holds markup."""
    meta, results = load_results(run_file)
    results[-1] = dataclasses.replace(results[-1], status="error", error_kind="adapter", message=HOSTILE)
    spec = with_overrides(registry.get("digits").spec, epochs=2)
    folder = tmp_path_factory.mktemp("report")
    return write_html_report(folder, results, meta, spec, FRAMEWORKS, check=check_report, attention=attention)[0]


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - Chromium
    """One headless Chromium for the module, offline, every outside request blocked and recorded."""
    with Chromium(_browser_or_skip()) as chromium:
        yield chromium


def _open(browser: Chromium, page: Path, width: int = 1280) -> None:
    browser.set_viewport(width, 900)
    browser.open(page)


# ---------------------------------------------------------------- the file itself


def test_page_is_one_file_that_names_nothing_outside(page: Path, run_file: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert sorted(p.name for p in page.parent.iterdir()) == sorted([PAGE_NAME, RESULTS_NAME])  # the page; its rows as data
    shown, saved = load_results(page.parent / RESULTS_NAME)[1], load_results(run_file)[1]
    key = lambda r: (r.framework, r.model, r.seed, r.test_acc)  # noqa: E731
    assert list(map(key, shown)) == list(map(key, saved))
    inline = DATA_PNG.sub("", text.replace('xmlns="http://www.w3.org/2000/svg"', ""))  # the attention maps: data URIs
    for outside in ("<link", "src=", "@import", "url(", "http://", "https://"):
        assert outside not in inline, outside


def test_hostile_message_is_escaped_in_the_file(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert HOSTILE not in text
    assert "&lt;script&gt;window.__injected = 1&lt;/script&gt;" in text


# ---------------------------------------------------------------- rendered in Chromium


def test_every_section_table_and_figure_is_rendered_and_non_empty(browser: Chromium, page: Path) -> None:
    _open(browser, page)
    sections = browser.evaluate("[...document.querySelectorAll('main > section')].map(s => s.id)")
    assert set(SECTIONS) <= set(sections), sections
    tables = browser.evaluate("""[...document.querySelectorAll('table')].map(t => ({
        rows: t.tBodies[0].rows.length, width: t.getBoundingClientRect().width,
        empty_headers: [...t.tHead.rows[0].cells].filter(c => !c.textContent.trim()).length}))""")
    assert len(tables) >= 8, tables  # results, timings, 2 over seeds, worst per engine, checks, summary, defaults
    assert all(t["rows"] > 0 and t["width"] > 0 and t["empty_headers"] == 0 for t in tables), tables
    figures = browser.evaluate("""Object.fromEntries([...document.querySelectorAll('figure[data-figure]')].map(f => {
        const box = f.querySelector('svg').getBoundingClientRect();
        const marks = [...f.querySelectorAll('g.series circle, g.series polyline')].filter(m => {
            const b = m.getBoundingClientRect(); return b.width > 0 || b.height > 0; }).length;
        return [f.dataset.figure, {width: box.width, height: box.height, marks: marks}]; }))""")
    for name in FIGURES:
        assert name in figures, (name, list(figures))
        figure = figures[name]
        assert figure["width"] > 200 and figure["height"] > 80 and figure["marks"] > 0, (name, figure)
    code = browser.evaluate("[...document.querySelectorAll('#code .hl pre')].filter(p => p.textContent.includes('def ')).length")
    assert code >= 2 * 3, code  # build, optimizer, epoch... of both engines, highlighted
    assert browser.evaluate("document.querySelectorAll('#code .hl span').length") > 50  # Pygments' tokens
    maps = browser.evaluate("""[...document.querySelectorAll('#attention .amap-row')].map(r => [r.dataset.engine,
        [...r.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth === 4 && i.width > 100).length])""")
    assert maps == [["reference", HEADS], ["pytorch", HEADS]], maps  # every head drawn, cropped to the 4 real tokens
    assert browser.console_errors == [] and browser.requests_left == []


def test_rows_show_their_status(browser: Chromium, page: Path) -> None:
    _open(browser, page)
    statuses = browser.evaluate("[...document.querySelectorAll('#results td .status')].map(s => [s.textContent, s.className])")
    assert ["error (adapter)", "status status-error"] in statuses, statuses
    assert ["ok", "status status-ok"] in statuses, statuses
    worst = browser.evaluate("[...document.querySelectorAll('#check-worst tbody tr')].map(r => [r.cells[0].textContent, r.className])")
    assert {engine for engine, _ in worst} >= set(FRAMEWORKS), worst
    assert all(cls.startswith("verdict-") for _, cls in worst), worst


def test_clicking_a_header_sorts_the_rows(browser: Chromium, page: Path) -> None:
    _open(browser, page)
    column = browser.evaluate("[...document.querySelectorAll('#results thead th')].findIndex(h => h.textContent === 'test acc %')")
    assert column >= 0
    read = f"[...document.querySelectorAll('#results tbody tr')].map(r => r.cells[{column}].textContent)"
    before = browser.evaluate(read)
    browser.click("#results thead th button", column)
    ascending = browser.evaluate(read)
    browser.click("#results thead th button", column)
    descending = browser.evaluate(read)
    numbers = [float(v) for v in ascending if v != "-"]
    assert numbers == sorted(numbers) and len(set(numbers)) > 1, ascending
    assert [float(v) for v in descending if v != "-"] == sorted(numbers, reverse=True)
    assert ascending[len(numbers):] == ["-"] * (len(ascending) - len(numbers))  # missing values last
    assert sorted(before) == sorted(ascending)


def test_hiding_an_engine_removes_its_curve(browser: Chromium, page: Path) -> None:
    _open(browser, page)
    labels = browser.evaluate("[...document.querySelectorAll('#curves .legend button')].map(b => b.dataset.series)")
    assert len(labels) >= 2, labels
    visible = """(name) => [...document.querySelectorAll('#curves g.series')].filter(g => g.dataset.series === name
                  && g.getBoundingClientRect().width > 0).length"""
    shown = [browser.evaluate(f"({visible})({json.dumps(label)})") for label in labels]
    assert all(n > 0 for n in shown), shown
    browser.click("#curves .legend button", 0)
    assert browser.evaluate(f"({visible})({json.dumps(labels[0])})") == 0
    assert browser.evaluate(f"({visible})({json.dumps(labels[1])})") == shown[1]
    browser.click("#curves .legend button", 0)
    assert browser.evaluate(f"({visible})({json.dumps(labels[0])})") == shown[0]


def test_markup_in_a_message_is_shown_as_text(browser: Chromium, page: Path) -> None:
    _open(browser, page)
    assert browser.evaluate("window.__injected === undefined")
    notes = browser.evaluate("document.querySelector('#results ul.notes').textContent")
    assert HOSTILE in notes
    assert browser.evaluate("document.querySelectorAll('#results ul.notes b').length") == len(browser.evaluate(
        "[...document.querySelectorAll('#results ul.notes li')]"))  # only the row labels are bold  # fmt: skip


def test_legible_at_400_px_with_screenshots(browser: Chromium, page: Path, tmp_path: Path) -> None:
    shots = Path(os.environ.get("FRAMEBENCH_SCREENSHOTS", tmp_path))
    _open(browser, page)
    wide = browser.screenshot(shots / "report.png")
    _open(browser, page, 400)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 400  # wide tables scroll in their own box
    assert browser.evaluate("getComputedStyle(document.body).fontSize") == "14px"  # the narrow layout applies
    narrow = browser.screenshot(shots / "report-narrow.png")
    for png, width in ((wide, 1280), (narrow, 400)):
        header = png.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">I", header[16:20])[0] == width


def test_a_request_leaving_the_page_is_caught(browser: Chromium, tmp_path: Path) -> None:
    """The control of the blocked-network check: a page that fetches an image from outside is recorded."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!doctype html><html><body><img src="http://example.invalid/x.png"></body></html>', encoding="utf-8")
    browser.open(leaky)
    assert browser.requests_left and "example.invalid" in browser.requests_left[0]


# ---------------------------------------------------------------- rebuilt from saved results


def test_rebuilt_from_saved_results_without_training(run_file: Path, tmp_path: Path) -> None:
    page, merged = rebuild_report(tmp_path / "again", [run_file, run_file], explain=False)
    text = page.read_text(encoding="utf-8")
    assert "rebuilt from" in text and run_file.name in text
    meta, results = load_runs([run_file, run_file])
    assert len(results) == len(load_results(merged)[1]) == 2 * len(load_results(run_file)[1])
    assert "saved with the results" in text and html.escape(meta["spec"]) in text  # the spec the rows trained, whole
    old = json.loads(run_file.read_text(encoding="utf-8"))
    del old["meta"]["spec"]  # a file saved before the results carried their spec
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    text = rebuild_report(tmp_path / "old", [tmp_path / "old.json"], explain=False)[0].read_text(encoding="utf-8")
    assert "the task&#x27;s registered spec in this checkout" in text


def test_other_tasks_and_non_results_are_refused_in_one_line(run_file: Path, tmp_path: Path) -> None:
    payload = json.loads(run_file.read_text(encoding="utf-8"))
    payload["meta"]["task"] = "mnist"
    for r in payload["results"]:
        r["task"] = "mnist"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(payload), encoding="utf-8")
    cases = {
        (run_file, other): "different tasks",
        (tmp_path,): "not a regular file",
        (tmp_path / "missing.json",): "cannot read it",
    }
    (tmp_path / "page.html").write_text("<html></html>", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "rows.json").write_text('{"meta": {}, "results": [{"task": "digits"}]}', encoding="utf-8")
    cases[(tmp_path / "page.html",)] = "not JSON"
    cases[(tmp_path / "list.json",)] = "no 'meta' object"
    cases[(tmp_path / "rows.json",)] = "has no framework, model, status"
    for paths, words in cases.items():
        with pytest.raises(ResultsFileError) as caught:
            rebuild_report(tmp_path / "never", list(paths), explain=False)
        assert words in str(caught.value) and "\n" not in str(caught.value), (paths, caught.value)
    assert not (tmp_path / "never").exists()


def test_attention_maps_every_engine_every_head_with_its_difference(run_file: Path, attention) -> None:  # noqa: ANN001
    meta, results = load_results(run_file)
    text = build_html(meta, results, None, attention=attention)
    section = text.split('<section id="attention">')[1].split("</section>")[0]
    pngs = [base64.b64decode(data) for data in DATA_PNG.findall(section)]
    assert len(pngs) == 2 * HEADS  # the reference's and pytorch's heads
    assert all(struct.unpack(">II", png[16:24]) == (4, 4) for png in pngs)  # padding queries and keys left out
    assert pngs[:HEADS] == pngs[HEADS:]  # float64 maps equal to the last bit of the 8-bit colours
    row = section.split('id="attention-differences"')[1].split("</tr>")[1]
    assert 'class="verdict-OK"' in row and "pytorch" in row and f"{attention.max_abs['pytorch']:.2e}" in row
    assert "no maps from sklearn" in section
    assert 'id="attention"' not in build_html(meta, results, None)


def test_cli_path_passes_the_check_rows_and_writes_no_second_html(run_file: Path, check_report, tmp_path: Path) -> None:  # noqa: ANN001
    """compare.py --check --report: api.write_outputs gets the check's Report, so the page colours its rows by verdict."""
    meta, results = load_results(run_file)
    options = api.options_from(None, {"task": "digits", "frameworks": "sklearn", "report": str(tmp_path / "r")})
    check = api.CheckReport("the tables as text", False, check_report)
    comparison = api.Comparison(RunMeta.from_dict(meta), results, registry.get("digits").spec)
    written = api.write_outputs(options, comparison, check)[1]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted(["index.html", "learning_curves.png", "report.md", RESULTS_NAME])
    assert {p.name for p in written} == {"index.html", "learning_curves.png", "report.md", RESULTS_NAME}
    text = (tmp_path / "r" / PAGE_NAME).read_text(encoding="utf-8")
    assert 'id="check-worst"' in text and 'class="verdict-OK"' in text and "the tables as text" not in text
    assert "the tables as text" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")  # Markdown: the text


# ---------------------------------------------------------------- the command line


def test_cli_builds_page_and_event_files_from_saved_results(run_file: Path, tmp_path: Path) -> None:
    proc = run_cli("--report", str(tmp_path / "page"), "--tensorboard", str(tmp_path / "logs"), "--from", str(run_file))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "page" / PAGE_NAME).is_file() and (tmp_path / "page" / RESULTS_NAME).is_file()
    assert len(list((tmp_path / "logs").rglob("events.out.tfevents.*"))) == len(load_results(run_file)[1]) + 1  # + HParams


def test_cli_refuses_before_anything_runs(run_file: Path, tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<html></html>", encoding="utf-8")
    assert_one_line_error(run_cli("--report", str(tmp_path / "x"), "--from", str(tmp_path / "page.html")), 2, "not a results file")
    assert_one_line_error(run_cli("--from", str(run_file)), 2, "--from needs --report DIR and/or --tensorboard DIR")
    assert_one_line_error(run_cli("--task", "digits", "--tensorboard", "/proc/x"), 2, "--tensorboard folder /proc is not writable")
    assert not (tmp_path / "x").exists()
