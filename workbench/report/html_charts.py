"""Inline SVG figures for the HTML report, drawn in Python: no plotting library, no script needed to show them.
Attention maps are pixel grids (L x L cells): a PNG data URI each, written by matplotlib, is far smaller than a rect per cell.

Every figure scales with its container (a viewBox, width 100 %). A series is one <g class="series"> whose
data-series attribute names its row label, so the page's legend can hide or show it in every figure at once.
Text goes through html.escape: a label from a result can never become markup.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field

import numpy as np

WIDTH, HEIGHT = 480, 300  # viewBox units of a line chart; the page scales it to its column
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 62, 12, 28, 40
# Tableau 10: distinct on screen and in print; a series keeps its colour in every figure
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
# hollow markers of shrinking size and a dash per series: curves that coincide (same weights, same batches) stay visible
MARKER_RADII = (6.0, 4.8, 3.8, 3.0, 2.4, 1.8)
DASHES = ("", "6 3", "2 3", "8 3 2 3")
LOG_SPAN = 20.0  # a log-requested y axis is logarithmic only when max / min exceeds this


@dataclass
class Series:
    """One row's (or one group of seeds') values per epoch: mean, and min-max band when several seeds."""

    label: str  # the row label, also the legend entry and data-series key
    index: int  # palette and marker position
    x: list[float]
    y: list[float]
    low: list[float] = field(default_factory=list)  # band (several seeds); empty: no band
    high: list[float] = field(default_factory=list)
    flat: float | None = None  # a one-shot baseline: a dotted horizontal line at this value instead of a curve


def colour(index: int) -> str:
    """The palette colour of a series index."""
    return PALETTE[index % len(PALETTE)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high] (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value < high + step * 0.5 and len(ticks) < 4 * count:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_text(value: float) -> str:
    """A tick label: thousands separated, no trailing zeros, compact for large and small magnitudes."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    if abs(value) < 1e-3:
        return f"{value:.2g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _scale(lo: float, hi: float, out_lo: float, out_hi: float):  # noqa: ANN202 - a float -> float function
    span = (hi - lo) or 1.0
    return lambda v: out_lo + (v - lo) / span * (out_hi - out_lo)


def _text(cls: str, x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    """An SVG text element, its content escaped."""
    return f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{html.escape(text)}</text>'


def _axes(title: str, x_label: str, y_label: str, xticks: list[float], yticks: list[float], sx, sy) -> list[str]:  # noqa: ANN001
    """Frame, grid lines, tick labels and the three texts of a chart."""
    left, right, top, bottom = MARGIN_LEFT, WIDTH - MARGIN_RIGHT, MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    out = [f'<text class="title" x="{WIDTH / 2:.0f}" y="16" text-anchor="middle">{html.escape(title)}</text>']
    for t in yticks:
        y = sy(t)
        out.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{tick_text(t)}</text>')
    for t in xticks:
        x = sx(t)
        out.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{tick_text(t)}</text>')
    out.append(f'<rect class="frame" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/>')
    out.append(_text("label", (left + right) / 2, HEIGHT - 6, x_label))
    out.append(f'<text class="label" transform="translate(13 {(top + bottom) / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f"{html.escape(y_label)}</text>")  # fmt: skip
    return out


def _points(xs: list[float], ys: list[float], sx, sy) -> str:  # noqa: ANN001
    return " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys))


def _series_svg(s: Series, sx, sy, x_range: tuple[float, float], fmt: str) -> str:  # noqa: ANN001
    """One series: band, line and markers (each with a tooltip), or a baseline's dotted line."""
    col, label = colour(s.index), html.escape(s.label)
    parts = [f'<g class="series" data-series="{label}" stroke="{col}" fill="none">']
    if s.flat is not None:
        y = sy(s.flat)
        parts.append(f'<line class="baseline" x1="{sx(x_range[0]):.1f}" x2="{sx(x_range[1]):.1f}" y1="{y:.1f}" y2="{y:.1f}">'
                     f"<title>{label} (trained once): {s.flat:{fmt}}</title></line>")  # fmt: skip
    else:
        if s.low and s.high:
            band = _points(s.x, s.high, sx, sy) + " " + _points(s.x[::-1], s.low[::-1], sx, sy)
            parts.append(f'<polygon class="band" points="{band}" fill="{col}" stroke="none"/>')
        dash = DASHES[s.index % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline class="line" points="{_points(s.x, s.y, sx, sy)}"{dash_attr}/>')
        r = MARKER_RADII[s.index % len(MARKER_RADII)]
        for x, y in zip(s.x, s.y):
            tip = f"{label}: epoch {x:g}, {y:{fmt}}"
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{r}"><title>{tip}</title></circle>')
    parts.append("</g>")
    return "".join(parts)


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks of a logarithmic axis covering [low, high] (both > 0): the powers of ten, with 2 and 5 times them
    when the range spans fewer than three decades."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1,) if last - first >= 3 else (1, 2, 5)
    ticks = [m * 10.0**e for e in range(first, last + 1) for m in steps]
    below = max([t for t in ticks if t <= low], default=ticks[0])
    above = min([t for t in ticks if t >= high], default=ticks[-1])
    return [t for t in ticks if below <= t <= above]


def line_chart(title: str, x_label: str, y_label: str, series: list[Series], fmt: str = ".4g", log: bool = False) -> str:
    """An SVG line chart of every series on the same axes (x: epochs); '' when no series has a value. log: a
    logarithmic y axis where the values are positive and span more than LOG_SPAN (e.g. samples/s of fast and slow engines)."""
    values = [v for s in series for v in (s.y + s.low + s.high + ([s.flat] if s.flat is not None else []))]
    values = [v for v in values if math.isfinite(v)]
    xs = [x for s in series for x in s.x]
    if not values:
        return ""
    x_lo, x_hi = (min(xs), max(xs)) if xs else (1.0, 1.0)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    log = log and min(values) > 0 and max(values) / min(values) > LOG_SPAN
    xticks = [t for t in nice_ticks(x_lo, x_hi, min(8, int(x_hi - x_lo) + 1)) if float(t).is_integer() and x_lo <= t <= x_hi]
    sx = _scale(x_lo, x_hi, MARGIN_LEFT + 8, WIDTH - MARGIN_RIGHT - 8)
    if log:
        yticks = log_ticks(min(values), max(values))
        to_log = _scale(math.log10(yticks[0]), math.log10(yticks[-1]), HEIGHT - MARGIN_BOTTOM, MARGIN_TOP)
        sy = lambda v: to_log(math.log10(v))  # noqa: E731
        y_label += " (log scale)"
    else:
        yticks = nice_ticks(min(values), max(values))
        sy = _scale(yticks[0], yticks[-1], HEIGHT - MARGIN_BOTTOM, MARGIN_TOP)
    body = _axes(title, x_label, y_label, xticks, yticks, sx, sy)
    finite = [s for s in series if s.flat is not None or all(math.isfinite(v) for v in s.y)]
    body += [_series_svg(s, sx, sy, (x_lo, x_hi), fmt) for s in finite]
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')  # fmt: skip


STRIP_ROW = 30  # viewBox height of one row of a per-seed strip plot
STRIP_LABEL = 150  # viewBox width kept for the row labels


def strip_chart(title: str, x_label: str, rows: list[tuple[str, int, dict[int, float], tuple[float, float] | None]],
                fmt: str = ".2f") -> str:  # fmt: skip
    """Per-seed spread: one row per (label, series index, seed -> value, 95 % CI or None); a dot per seed, a tick at
    the mean, a bar over the confidence interval. '' when there is no value."""
    values = [v for _, _, by_seed, ci in rows for v in [*by_seed.values(), *(ci or ())] if math.isfinite(v)]
    if not values:
        return ""
    ticks = nice_ticks(min(values), max(values))
    height = MARGIN_TOP + STRIP_ROW * len(rows) + MARGIN_BOTTOM
    sx = _scale(ticks[0], ticks[-1], STRIP_LABEL + 10, WIDTH - MARGIN_RIGHT - 6)
    bottom = height - MARGIN_BOTTOM
    body = [f'<text class="title" x="{WIDTH / 2:.0f}" y="16" text-anchor="middle">{html.escape(title)}</text>']
    for t in ticks:
        x = sx(t)
        body.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{bottom}"/>')
        body.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{tick_text(t)}</text>')
    body.append(_text("label", (STRIP_LABEL + WIDTH) / 2, height - 6, x_label))
    for row, (label, index, by_seed, ci) in enumerate(rows):
        y, col, text = MARGIN_TOP + STRIP_ROW * (row + 0.5), colour(index), html.escape(label)
        parts = [f'<g class="series" data-series="{text}" stroke="{col}" fill="none">',
                 f'<text class="tick" x="{STRIP_LABEL}" y="{y + 4:.1f}" text-anchor="end" stroke="none">{text}</text>']
        if ci is not None:
            parts.append(f'<line class="ci" x1="{sx(ci[0]):.1f}" x2="{sx(ci[1]):.1f}" y1="{y:.1f}" y2="{y:.1f}">'
                         f"<title>{text}: 95 % CI {ci[0]:{fmt}} to {ci[1]:{fmt}}</title></line>")  # fmt: skip
        finite = {s: v for s, v in by_seed.items() if math.isfinite(v)}
        if finite:
            mean = sum(finite.values()) / len(finite)
            parts.append(f'<line class="mean" x1="{sx(mean):.1f}" x2="{sx(mean):.1f}" y1="{y - 9:.1f}" y2="{y + 9:.1f}">'
                         f"<title>{text}: mean {mean:{fmt}} over {len(finite)} seeds</title></line>")  # fmt: skip
        for k, (seed, v) in enumerate(sorted(finite.items())):
            jitter = ((k % 5) - 2) * 2.2  # seeds with equal values stay countable
            tip = f"{text}: seed {seed}, {v:{fmt}}"
            parts.append(f'<circle cx="{sx(v):.1f}" cy="{y + jitter:.1f}" r="3.5"><title>{tip}</title></circle>')
        parts.append("</g>")
        body.append("".join(parts))
    return (f'<svg class="chart strip" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{html.escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')  # fmt: skip


def heatmap_png(matrix: np.ndarray, vmax: float) -> str:
    """A matrix (e.g. one head's attention weights, rows = queries) as a PNG data URI, one pixel per cell, coloured by
    viridis from 0 to vmax (every engine's map on the same scale), through matplotlib's image writer."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, np.nan_to_num(np.asarray(matrix, dtype=np.float64)), vmin=0.0, vmax=vmax or 1.0, cmap="viridis",
           format="png", metadata={"Software": None}, pil_kwargs={"optimize": True})  # fmt: skip
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
