"""The HTML report's attention maps: one review's per-head attention weights from every engine, side by side.

Input: a workbench.check.attention_maps.AttentionMaps (the reference's and each engine's (layers, H, L, L) weights of
one review, with each engine's largest difference from the reference). The table gives each engine's difference and
verdict; below it, one row of maps per engine (the reference first), one map per head of the first attention layer,
cropped to the review's real tokens (padding keys get weight 0) and coloured on one scale for every engine.
"""

from __future__ import annotations

import html

import numpy as np

from tasks.spec_attention import real_tokens
from workbench.check.attention_maps import REFERENCE
from workbench.report.html_charts import heatmap_png
from workbench.report.html_tables import Cell, num, table

SHOWN_PX = 132  # CSS pixels of one map on the page (the PNG has one pixel per token pair, scaled up crisp)


def verdict(maps: object, name: str) -> str:
    """OK (float64, within tolerance), DOWNCAST (computes float64 in float32, within float32's), or FAIL."""
    if maps.max_abs[name] > maps.tolerance[name]:
        return "FAIL"
    return "DOWNCAST" if maps.computed_in.get(name) == "float32" else "OK"


def differences_table(maps: object) -> str:
    """Engine, the dtype it computes float64 in, max |engine - reference| over every layer and head, tolerance, verdict."""
    rows, classes = [], []
    for name in maps.max_abs:
        status = verdict(maps, name)
        rows.append([name, maps.computed_in.get(name, "float64"), num(maps.max_abs[name], f"{maps.max_abs[name]:.2e}"),
                     num(maps.tolerance[name], f"{maps.tolerance[name]:g}"), Cell(status)])  # fmt: skip
        classes.append(f"verdict-{status}")
    headers = ["engine", "float64 computed in", "max |Δ| vs reference", "tolerance", "verdict"]
    return table(headers, rows, "attention-differences", classes) if rows else ""


def attention_html(maps: object, layer: int = 0) -> str:
    """The section: what is shown, the differences table, and the maps of `layer` (every head) per engine; '' for None."""
    if maps is None or not getattr(maps, "weights", None):
        return ""
    keep = np.flatnonzero(real_tokens(np.asarray(maps.ids)))
    keep = keep if len(keep) else np.arange(len(maps.ids))
    ref = maps.weights[REFERENCE][layer][:, keep][:, :, keep]
    vmax = float(np.nanmax(ref)) if ref.size else 1.0
    e = html.escape
    name = maps.layers[layer] if layer < len(maps.layers) else f"layer {layer}"
    note = (f'<p class="note">{e(maps.review or "one review")}: the weights of attention layer <b>{e(name)}</b>, every '
            f"head (rows: queries, columns: keys; the {len(keep)} real tokens, padding left out), with the check's seed-0 "
            f"weights (an untrained network: the point is that every engine computes the same weights). One colour scale "
            f"for every map, 0 to {vmax:.3g} (viridis: dark = little weight, yellow = most). The differences cover every "
            "attention layer and head.</p>")  # fmt: skip
    skipped = "".join(f'<p class="note">no maps from {e(k)}: {e(v)}</p>' for k, v in maps.skipped.items())
    rows = []
    for engine, weights in maps.weights.items():
        w = np.asarray(weights)[layer][:, keep][:, :, keep]
        label = "reference (NumPy float64)" if engine == REFERENCE else engine
        if engine in maps.max_abs:
            label += f" · max |Δ| {maps.max_abs[engine]:.1e} · {verdict(maps, engine)}"
        figures = "".join(
            f'<figure class="amap"><img src="{heatmap_png(w[h], vmax)}" width="{SHOWN_PX}" height="{SHOWN_PX}" '
            f'alt="{e(engine)}, head {h + 1}"><figcaption>head {h + 1}</figcaption></figure>'
            for h in range(w.shape[0]))  # fmt: skip
        rows.append(f'<div class="amap-row" data-engine="{e(engine)}"><div class="amap-label">{e(label)}</div>{figures}</div>')
    return note + differences_table(maps) + skipped + f'<div class="amaps">{"".join(rows)}</div>'
