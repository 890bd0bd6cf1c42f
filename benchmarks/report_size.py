"""Size and render time of the HTML report of saved results, in headless Chromium with the network blocked.

Builds DIR/index.html from one or more saved runs (as `compare.py --report DIR --from RUN.json ...` does), prints the
page's size and its parts (inline SVG, highlighted code, tables), then opens it REPEATS times and prints the time
from navigation to the load event and to the first painted frame after it. The budget (issue 25): a 7-engine mnist
report <= 5 MB, rendered in under 2 s. --screenshots DIR also saves the page's top as report.png (1280 px wide)
and report-narrow.png (400 px).

    python benchmarks/report_size.py RUN.json [MORE.json ...] [--out DIR] [--no-code] [--repeats 3] [--screenshots docs/img]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.report.browser import BrowserError, Chromium  # noqa: E402 - after the path line
from workbench.report.from_results import ResultsFileError, rebuild_report  # noqa: E402

PARTS = {  # what makes up the page: a regular expression per part
    "inline SVG figures": r"<svg.*?</svg>",
    "highlighted code": r'<div class="hl">.*?</div>',
    "tables": r"<table.*?</table>",
    "style and script": r"<style>.*?</style>|<script>.*?</script>",
}
SHOT_HEIGHT = 2600  # CSS pixels of the page's top in a screenshot: header, tables and figures, not all the code
FRAME = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))"


def part_sizes(text: str) -> dict[str, int]:
    """Bytes (UTF-8) of each part of the page."""
    return {name: sum(len(m.encode()) for m in re.findall(pattern, text, flags=re.S)) for name, pattern in PARTS.items()}


def main() -> int:
    """Build the page, print its size and parts, time its rendering."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="saved results (compare.py --output)")
    parser.add_argument("--out", type=Path, default=None, help="folder for index.html (default: a temporary one)")
    parser.add_argument("--no-code", action="store_true", help="leave out the engines' code (no child process asked)")
    parser.add_argument("--repeats", type=int, default=3, help="page loads timed (default: 3)")
    parser.add_argument("--screenshots", type=Path, default=None, help="save report.png and report-narrow.png here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="framebench-report-"))
    try:
        page = rebuild_report(out, args.runs, explain=not args.no_code)[0]
    except ResultsFileError as exc:
        print(f"report_size.py: {exc}", file=sys.stderr)
        return 2
    text = page.read_text(encoding="utf-8")
    size = page.stat().st_size
    print(f"page: {page} ({size:,} bytes = {size / 2**20:.2f} MiB)")
    for name, n in part_sizes(text).items():
        print(f"  {name}: {n:,} bytes ({100 * n / size:.0f} %)")
    try:
        with Chromium() as browser:
            loads, frames = [], []
            for _ in range(args.repeats):
                loads.append(browser.open(page))
                frames.append(browser.evaluate(FRAME) / 1000)  # ms since navigation start -> s
            print(f"render (headless Chromium, network blocked, {args.repeats} loads): load event median "
                  f"{statistics.median(loads):.3f} s (max {max(loads):.3f}), first frame after it median "
                  f"{statistics.median(frames):.3f} s")  # fmt: skip
            if browser.console_errors or browser.requests_left:
                print(f"console errors: {browser.console_errors}; requests leaving the page: {browser.requests_left}")
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                print(f"screenshot: {browser.screenshot(args.screenshots / 'report.png', max_height=SHOT_HEIGHT)}")
                browser.set_viewport(400, 900)
                browser.open(page)
                print(f"screenshot: {browser.screenshot(args.screenshots / 'report-narrow.png', max_height=SHOT_HEIGHT)}")
    except BrowserError as exc:
        print(f"report_size.py: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
