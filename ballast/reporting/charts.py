"""Geometry for the "weights against their bands" chart, drawn by ``partials/band_chart.svg.j2``.

Pure arithmetic on the decimal strings of a results.json portfolio entry: every coordinate is
computed here, so the template only places shapes. One row per asset class shows the band as a
shaded range, the target as a tick, the current weight as a filled marker (a diamond when the
class is breached, a circle otherwise) and the post-trade weight as a hollow square.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

WIDTH = 720
LABEL_W = 150  # room for asset class names on the left
VALUE_W = 128  # room for "66.37% → 60.00%" on the right
TOP = 40  # title
ROW_H = 30
AXIS_H = 44  # tick labels and axis title under the rows
LEGEND_H = 30
LABEL_CHARS = 22  # longer class names are shortened in the chart (the table shows them whole)
PLOT_X0 = LABEL_W
PLOT_X1 = WIDTH - VALUE_W
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _pct(value: Decimal) -> str:
    """A fraction as a percentage label with two decimals: 0.663717 → ``66.37%``."""
    return f"{(value * _HUNDRED).quantize(_CENT):f}%"


def _step(span: Decimal) -> Decimal:
    """A tick step giving about five to ten ticks over ``span`` (a fraction)."""
    for step in ("0.01", "0.02", "0.05", "0.10", "0.20"):
        if span / Decimal(step) <= 10:
            return Decimal(step)
    return Decimal("0.25")


def axis_domain(values: Iterable[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """(low, high, step) of the weight axis: zero included, rounded out to whole ticks."""
    vals = list(values) or [Decimal(0)]
    low, high = min([Decimal(0), *vals]), max([Decimal("0.10"), *vals])
    step = _step(high - low)
    low = (low / step).to_integral_value(ROUND_FLOOR) * step
    high = (high / step).to_integral_value(ROUND_CEILING) * step
    return low, max(high, low + step), step


class _Scale:
    """Maps a weight (fraction) to an x coordinate in the plot area, clamped to it."""

    def __init__(self, low: Decimal, high: Decimal) -> None:
        self.low, self.high = low, high

    def __call__(self, value: Decimal) -> float:
        value = min(max(value, self.low), self.high)
        frac = (value - self.low) / (self.high - self.low)
        return float((PLOT_X0 + frac * (PLOT_X1 - PLOT_X0)).quantize(_CENT))


def _row(i: int, ac: Mapping[str, Any], x: _Scale) -> dict[str, Any]:
    weight, post = _dec(ac.get("weight")), _dec(ac.get("post_trade_weight"))
    target, lower, upper = _dec(ac.get("target")), _dec(ac.get("lower")), _dec(ac.get("upper"))
    band = (x(lower), x(upper)) if lower is not None and upper is not None else (None, None)
    value_label = _pct(weight) if weight is not None else "n/a"
    if post is not None and weight is not None and post != weight:
        value_label += f" → {_pct(post)}"
    label = str(ac.get("asset_class", ""))
    return {
        "label": label,
        "short_label": label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
        "y": TOP + i * ROW_H + ROW_H / 2,
        "stripe": i % 2 == 1,
        "has_target": target is not None,
        "band_x0": band[0],
        "band_x1": band[1],
        "target_x": x(target) if target is not None else None,
        "weight_x": x(weight) if weight is not None else None,
        "post_x": x(post) if post is not None else None,
        "breached": bool(ac.get("breached")),
        "value_label": value_label,
    }


def band_rows(asset_classes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict of coordinates per asset class, in the order given."""
    rows: list[dict[str, Any]] = band_chart(asset_classes)["rows"]
    return rows


def band_chart(asset_classes: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole chart: size, plot area, axis ticks and the rows of :func:`band_rows`."""
    keys = ("weight", "post_trade_weight", "target", "lower", "upper")
    values = [d for ac in asset_classes for k in keys if (d := _dec(ac.get(k))) is not None]
    low, high, step = axis_domain(values)
    x = _Scale(low, high)
    rows = [_row(i, ac, x) for i, ac in enumerate(asset_classes)]
    plot_bottom = TOP + len(rows) * ROW_H
    n_ticks = int((high - low) / step)
    ticks = [
        {"x": x(low + k * step), "label": f"{((low + k * step) * _HUNDRED).normalize():f}%"}
        for k in range(n_ticks + 1)
    ]
    return {
        "width": WIDTH,
        "height": plot_bottom + AXIS_H + LEGEND_H,
        "plot_x0": PLOT_X0,
        "plot_x1": PLOT_X1,
        "plot_top": TOP,
        "plot_bottom": plot_bottom,
        "row_h": ROW_H,
        "ticks": ticks,
        "axis_title_y": plot_bottom + 34,
        "legend_y": plot_bottom + AXIS_H + 14,
        "rows": rows,
        "any_breach": any(r["breached"] for r in rows),
        "any_untargeted": any(not r["has_target"] for r in rows),
    }


# --- drift history: drift per asset class across past reviews (partials/drift_history) ------

HIST_LABEL_W = 150  # class name and drift-axis labels on the left
HIST_RIGHT = 96  # room for the last value label
HIST_PANEL_H = 96  # plot height of one asset class
HIST_GAP = 50  # between panels: date labels of the panel above and the next title
HIST_TOP = 58  # chart title, then the first panel's class name
_BP_STEPS = (25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000)


def _bp_limit(values: Iterable[Decimal]) -> Decimal:
    """The half-height of the drift axis: a round number of bp with 20% headroom over |values|."""
    top = max((abs(v) for v in values), default=Decimal(0)) * Decimal("1.2")
    for step in _BP_STEPS:
        if top <= step:
            return Decimal(step)
    return (top / 1000).to_integral_value(ROUND_CEILING) * 1000


def _bp_label(value: Decimal) -> str:
    q = value.quantize(_CENT)
    sign = "+" if q > 0 else ""
    return f"{sign}{q.normalize():f} bp" if q != 0 else "0 bp"


def _hist_point(p: Mapping[str, Any], x: float, y_of: Any) -> dict[str, Any]:
    drift, lo, hi = (_dec(p.get(k)) for k in ("drift_bp", "lower_bp", "upper_bp"))
    return {
        "as_of": str(p["as_of"]),
        "x": x,
        "y": y_of(drift) if drift is not None else None,
        "band_y0": y_of(hi) if hi is not None else None,
        "band_y1": y_of(lo) if lo is not None else None,
        "breached": bool(p.get("breached")),
        "label": _bp_label(drift) if drift is not None else "n/a",
        "band_label": (
            f"band {_bp_label(lo)} to {_bp_label(hi)}" if lo is not None and hi is not None else ""
        ),
    }


def _hist_panel(
    i: int, label: str, points: list[Mapping[str, Any]], xs: dict[str, float], right: float
) -> dict[str, Any]:
    top = HIST_TOP + i * (HIST_PANEL_H + HIST_GAP)
    keys = ("drift_bp", "lower_bp", "upper_bp")
    limit = _bp_limit(d for p in points for k in keys if (d := _dec(p.get(k))) is not None)

    def y_of(value: Decimal) -> float:
        value = min(max(value, -limit), limit)
        frac = (limit - value) / (2 * limit)
        return float((top + frac * HIST_PANEL_H).quantize(_CENT))

    pts = [_hist_point(p, xs[str(p["as_of"])], y_of) for p in points]
    drawn = [p for p in pts if p["y"] is not None]
    banded = [p for p in pts if p["band_y0"] is not None]
    band_path = ""
    if len(banded) >= 2:
        upper = [f"{p['x']} {p['band_y0']}" for p in banded]
        lower = [f"{p['x']} {p['band_y1']}" for p in reversed(banded)]
        band_path = "M " + " L ".join(upper + lower) + " Z"
    return {
        "label": label,
        "short_label": label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
        "top": top,
        "bottom": top + HIST_PANEL_H,
        "zero_y": y_of(Decimal(0)),
        "limit_label": _bp_label(limit),
        "neg_limit_label": _bp_label(-limit),
        "band_path": band_path,
        "line": " ".join(f"{p['x']},{p['y']}" for p in drawn),
        "points": pts,
        "last": drawn[-1] if drawn else None,
        "right": right,
    }


def drift_history_chart(points: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Small multiples, one panel per asset class: drift (bp) at each review date, with the band
    limits (target ± half-width, in bp) shaded. None with fewer than two review dates."""
    dates = sorted({str(p["as_of"]) for p in points})
    if len(dates) < 2:
        return None
    x0, x1 = HIST_LABEL_W, WIDTH - HIST_RIGHT
    step = (x1 - x0) / (len(dates) - 1)
    xs = {d: round(x0 + k * step, 2) for k, d in enumerate(dates)}
    classes: dict[str, list[Mapping[str, Any]]] = {}
    for p in sorted(points, key=lambda p: str(p["as_of"])):
        classes.setdefault(str(p["asset_class"]), []).append(p)
    panels = [_hist_panel(i, k, v, xs, x1) for i, (k, v) in enumerate(classes.items())]
    height = HIST_TOP + len(panels) * (HIST_PANEL_H + HIST_GAP)
    return {
        "width": WIDTH,
        "height": height + 20,
        "plot_x0": x0,
        "plot_x1": x1,
        "dates": [{"label": d, "x": xs[d]} for d in dates],
        "panels": panels,
        "legend_y": height + 6,
    }
