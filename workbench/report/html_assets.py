"""The HTML report's style sheet and its one small script, inlined into the page (nothing is fetched).

The script does two things and needs no library: sorting a table by the column whose header is clicked,
and hiding or showing a series in every figure when its legend entry is clicked.
"""

CSS = """
:root { --fg: #1d2430; --muted: #5b6472; --line: #d8dde4; --bg: #fff; --soft: #f5f7fa; --accent: #4e79a7;
        --ok: #e3f4e1; --warn: #fff1cc; --bad: #fde0df; --info: #e8eef7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1280px; margin: 0 auto; padding: 12px 16px 48px; }
h1 { font-size: 1.45rem; margin: 8px 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 18px 0 6px; }
p, li { overflow-wrap: anywhere; }
nav.toc { font-size: .9rem; }
nav.toc a { margin-right: 12px; display: inline-block; max-width: 100%; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.note { color: var(--muted); font-size: .9rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: .88rem; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th { background: var(--soft); position: sticky; top: 0; }
th button.sort { all: unset; cursor: pointer; font-weight: 600; }
th button.sort:focus-visible { outline: 2px solid var(--accent); }
th[aria-sort="ascending"] button.sort::after { content: " \\25B2"; font-size: .7em; }
th[aria-sort="descending"] button.sort::after { content: " \\25BC"; font-size: .7em; }
.status { font-weight: 600; padding: 1px 6px; border-radius: 4px; white-space: nowrap; }
.status-ok, tr.verdict-OK { background: var(--ok); }
.status-skipped, tr.verdict-INFO { background: var(--info); }
.status-diverged, .status-timeout, tr.verdict-INACCURATE, tr.verdict-DOWNCAST { background: var(--warn); }
.status-error, .status-crashed, tr.verdict-FAIL { background: var(--bad); }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr)); gap: 12px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .title { font-size: 13px; font-weight: 600; fill: var(--fg); }
svg.chart .tick { font-size: 10.5px; fill: var(--muted); }
svg.chart .label { font-size: 11px; fill: var(--fg); }
svg.chart .grid { stroke: #e6e9ee; stroke-width: 1; }
svg.chart .frame { fill: none; stroke: #9aa3ae; stroke-width: 1; }
svg.chart .line { stroke-width: 2; }
svg.chart .band { fill-opacity: .18; }
svg.chart .baseline { stroke-width: 2; stroke-dasharray: 2 4; }
svg.chart circle { fill: var(--bg); stroke-width: 1.6; }
svg.chart .ci { stroke-width: 3; stroke-opacity: .45; }
svg.chart .mean { stroke-width: 2.5; }
.series.hidden { display: none; }
.legend { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0 10px; }
.legend button { font: inherit; font-size: .85rem; border: 1px solid var(--line); border-radius: 14px; background: var(--bg);
                 padding: 2px 10px 2px 6px; cursor: pointer; color: var(--fg); }
.legend button .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 6px;
                         vertical-align: -1px; }
.legend button[aria-pressed="false"] { opacity: .45; text-decoration: line-through; }
.code-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 10px; }
.code-grid > div { min-width: 0; border: 1px solid var(--line); border-radius: 6px; }
.code-grid .where { font-size: .8rem; color: var(--muted); padding: 4px 8px; background: var(--soft); overflow-wrap: anywhere; }
.hl pre, pre.text { margin: 0; padding: 8px; overflow-x: auto; font-size: .78rem; line-height: 1.35; }
pre.text { background: var(--soft); border-radius: 6px; }
details > summary { cursor: pointer; color: var(--accent); }
.amap-row { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 6px; margin: 8px 0; }
.amap-label { flex: 0 0 150px; font-size: .85rem; overflow-wrap: anywhere; }
figure.amap { padding: 2px; text-align: center; font-size: .75rem; color: var(--muted); }
figure.amap img { display: block; image-rendering: pixelated; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  main { padding: 8px 8px 32px; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dt { margin-top: 4px; }
  th, td { padding: 3px 5px; }
  .amap-label { flex-basis: 100%; }
}
"""

JS = """
(function () {
  "use strict";
  function key(cell) {
    if (!cell) return null;
    var raw = cell.getAttribute("data-sort");
    if (raw !== null && raw !== "") return parseFloat(raw);
    var text = cell.textContent.trim();
    return text === "" || text === "-" ? null : text.toLowerCase();
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      if (x === null || y === null) return x === y ? 0 : (x === null ? 1 : -1);  // missing values last
      var order = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function toggle(button) {
    var shown = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", shown ? "true" : "false");
    var name = button.getAttribute("data-series");
    Array.prototype.forEach.call(document.querySelectorAll("g.series"), function (g) {
      if (g.getAttribute("data-series") === name) g.classList.toggle("hidden", !shown);
    });
  }
  document.addEventListener("click", function (event) {
    var sort = event.target.closest("th button.sort");
    if (sort) { sortBy(sort.closest("th")); return; }
    var entry = event.target.closest(".legend button");
    if (entry) toggle(entry);
  });
})();
"""
