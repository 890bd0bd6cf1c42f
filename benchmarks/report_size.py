"""Size and render time of the HTML report (issue 25's budget: a 7-engine mnist page <= 5 MB, rendered in < 2 s).

Builds the pages through the command line, as a user does, then measures each: its bytes and what makes them up
(inline SVG, attention maps, highlighted code, tables), and its render time in headless Chromium with the network
blocked: from navigation to the load event, and to the first painted frame after it, the median of --loads loads.
It prints figures only; nothing is asserted. The cases (--cases, default all three):

    digits   compare.py --task digits --frameworks all --report DIR
    mnist    compare.py --task mnist --frameworks all --subset 2000 --report DIR
    ray      compare.py --task digits --frameworks all --repeats 5 --executor ray --report DIR

    python benchmarks/report_size.py [--cases digits,mnist,ray] [--frameworks all] [--epochs N] [--subset 2000]
                                     [--repeats 5] [--loads 5] [--out DIR] [--screenshots docs/img]
    python benchmarks/report_size.py --from RUN.json [MORE.json ...]   # pages rebuilt from saved results instead

A smoke run: --cases digits,ray --frameworks pytorch,sklearn --epochs 1 --subset 300 --repeats 2 --loads 1.
--screenshots DIR saves the first page's top as report.png (1280 px wide) and report-narrow.png (400 px).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.report.browser import BrowserError, Chromium  # noqa: E402 - after the path line
from workbench.report.from_results import ResultsFileError, rebuild_report  # noqa: E402

PARTS = {  # what makes up the page: a regular expression per part
    "inline SVG figures": r"<svg.*?</svg>",
    "attention maps (PNG data URIs)": r'src="data:image/png;base64,[^"]*"',
    "highlighted code": r'<div class="hl">.*?</div>',
    "tables": r"<table.*?</table>",
    "style and script": r"<style>.*?</style>|<script>.*?</script>",
}
SHOT_HEIGHT = 2600  # CSS pixels of the page's top in a screenshot: header, tables and figures, not all the code
FRAME = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))"


def cases(args: argparse.Namespace) -> dict[str, list[str]]:
    """Case name -> compare.py arguments (without --report and --output)."""
    epochs = ["--epochs", str(args.epochs)] if args.epochs else []
    subset = ["--subset", str(args.subset)]
    common = ["--frameworks", args.frameworks, *epochs, "--quiet"]
    table = {
        "digits": ["--task", "digits", *common, *(subset if args.subset_digits else [])],
        "mnist": ["--task", "mnist", *common, *subset],
        "ray": ["--task", "digits", *common, *(subset if args.subset_digits else []), "--repeats", str(args.repeats),
                "--executor", "ray"],
    }  # fmt: skip
    return {name: table[name] for name in args.cases.split(",")}


def build(name: str, argv: list[str], out: Path) -> Path | None:
    """Run compare.py with --report OUT/NAME; the page, or None (its error printed) if no page was written."""
    folder = out / name
    command = [sys.executable, str(ROOT / "compare.py"), *argv, "--report", str(folder), "--output", str(out / f"{name}.json")]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    page = folder / "index.html"
    print(f"{name}: compare.py {' '.join(argv)} -> exit {proc.returncode} in {time.perf_counter() - start:.0f} s")
    if not page.is_file():
        print(f"{name}: no page written: {(proc.stderr.strip().splitlines() or ['?'])[-1]}", file=sys.stderr)
        return None
    return page


def part_sizes(text: str) -> dict[str, int]:
    """Bytes (UTF-8) of each part of the page."""
    return {name: sum(len(m.encode()) for m in re.findall(pattern, text, flags=re.S)) for name, pattern in PARTS.items()}


def measure(browser: Chromium, name: str, page: Path, loads: int) -> tuple[int, float, float]:
    """Print the page's size, its parts and render times; (bytes, median load s, median first frame s)."""
    size = page.stat().st_size
    print(f"{name}: {page} ({size:,} bytes = {size / 2**20:.2f} MiB)")
    for part, n in part_sizes(page.read_text(encoding="utf-8")).items():
        print(f"  {part}: {n:,} bytes ({100 * n / size:.0f} %)")
    times, frames = [], []
    for _ in range(loads):
        times.append(browser.open(page))
        frames.append(browser.evaluate(FRAME) / 1000)  # ms since navigation start -> s
    print(f"  render ({loads} loads): load event median {statistics.median(times):.3f} s (max {max(times):.3f}), "
          f"first frame after it median {statistics.median(frames):.3f} s")  # fmt: skip
    if browser.console_errors or browser.requests_left:
        print(f"  console errors: {browser.console_errors}; requests leaving the page: {browser.requests_left}")
    return size, statistics.median(times), statistics.median(frames)


def screenshots(browser: Chromium, page: Path, folder: Path) -> None:
    """The page's top at 1280 px and at 400 px."""
    folder.mkdir(parents=True, exist_ok=True)
    browser.set_viewport(1280, 900)
    browser.open(page)
    print(f"screenshot: {browser.screenshot(folder / 'report.png', max_height=SHOT_HEIGHT)}")
    browser.set_viewport(400, 900)
    browser.open(page)
    print(f"screenshot: {browser.screenshot(folder / 'report-narrow.png', max_height=SHOT_HEIGHT)}")
    browser.set_viewport(1280, 900)


def main() -> int:
    """Build the pages, print their sizes and render times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="runs", nargs="+", type=Path, default=None, help="saved results: rebuild, no training")
    parser.add_argument("--cases", default="digits,mnist,ray", help="comma-separated: digits, mnist, ray (default: all)")
    parser.add_argument("--frameworks", default="all", help="compare.py --frameworks (default: all)")
    parser.add_argument("--epochs", type=int, default=None, help="compare.py --epochs (default: each task's)")
    parser.add_argument("--subset", type=int, default=2000, help="mnist's --subset (default: 2000)")
    parser.add_argument("--subset-digits", action="store_true", help="give digits the same --subset (smoke runs)")
    parser.add_argument("--repeats", type=int, default=5, help="the ray case's --repeats (default: 5)")
    parser.add_argument("--loads", type=int, default=5, help="page loads timed per page (default: 5)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the pages (default: a temporary one)")
    parser.add_argument("--screenshots", type=Path, default=None, help="save report.png and report-narrow.png here")
    args = parser.parse_args()
    unknown = set(args.cases.split(",")) - {"digits", "mnist", "ray"}
    if unknown:
        parser.error(f"unknown case {sorted(unknown)[0]!r}: the cases are digits, mnist, ray")
    out = args.out or Path(tempfile.mkdtemp(prefix="framebench-report-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.runs:
        try:
            pages = {"from": rebuild_report(out / "from", args.runs)[0]}
        except ResultsFileError as exc:
            print(f"report_size.py: {exc}", file=sys.stderr)
            return 2
    else:
        pages = {name: build(name, argv, out) for name, argv in cases(args).items()}
    failed = [name for name, page in pages.items() if page is None]
    pages = {name: page for name, page in pages.items() if page is not None}
    try:
        with Chromium() as browser:
            figures = {name: measure(browser, name, page, args.loads) for name, page in pages.items()}
            if args.screenshots and pages:
                screenshots(browser, next(iter(pages.values())), args.screenshots)
    except BrowserError as exc:
        print(f"report_size.py: {exc}", file=sys.stderr)
        return 3
    print("\ncase      bytes        MiB   load s (median)   first frame s (median)")
    for name, (size, load, frame) in figures.items():
        print(f"{name:<8}{size:>12,}{size / 2**20:>8.2f}{load:>14.3f}{frame:>20.3f}")
    return 1 if failed or not pages else 0


if __name__ == "__main__":
    sys.exit(main())
