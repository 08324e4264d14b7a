"""The report's charts: the "weights against their bands" chart (``partials/band_chart.svg.j2``)
and the drift history (``partials/drift_history.html.j2``); and the run index's histogram of
total drift (``partials/drift_histogram.svg.j2``).

Pure arithmetic on the decimal strings of a results.json portfolio entry: every coordinate is
computed here. One row per asset class shows the band as a shaded range, the target as a tick,
the current weight as a filled marker (a diamond when the class is breached, a circle otherwise)
and the post-trade weight as a hollow square.

The marks that repeat per asset class, tick or review date (``marks``: stripes, gridlines,
rows, ticks, history panels) are written here as SVG text, escaped as the autoescaping template
would write them, because drawing them shape by shape in Jinja was most of a report's rendering
time; the templates keep the frame of each chart: its size, title, styles and legend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ballast.reporting.template_env import escape_output as _esc

if TYPE_CHECKING:  # Polars is imported where used: report workers never need it
    import polars as pl

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
_PLOT_W = PLOT_X1 - PLOT_X0
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


_decimal_of = lru_cache(maxsize=4096)(Decimal)
"""``Decimal(text)``, kept: the same decimal strings (targets, bands, common weights) recur in
every chart of a run."""


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    return _decimal_of(value) if type(value) is str else Decimal(str(value))


@lru_cache(maxsize=4096)
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
        self.low, self.high, self.span = low, high, high - low

    def __call__(self, value: Decimal) -> float:
        return _x(self.low, self.high, value)


@lru_cache(maxsize=4096)
def _x(low: Decimal, high: Decimal, value: Decimal) -> float:
    """``value``'s x coordinate on the axis [low, high] (``_Scale``), kept: a run's charts share
    a few dozen axes and their targets and bands recur. Equal decimals (``0.6``, ``0.600``) are
    one key: they map to the same coordinate."""
    value = min(max(value, low), high)
    frac = (value - low) / (high - low)
    return float((PLOT_X0 + frac * _PLOT_W).quantize(_CENT))


_BAND_KEYS = ("weight", "post_trade_weight", "target", "lower", "upper")
_Values = tuple[Decimal | None, ...]  # one class's _BAND_KEYS, parsed


def _row(i: int, ac: Mapping[str, Any], x: _Scale, values: _Values) -> dict[str, Any]:
    weight, post, target, lower, upper = values
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


def _band_row_svg(r: Mapping[str, Any]) -> str:
    """One asset class's row of the band chart, as ``partials/band_chart.svg.j2`` drew it."""
    y = r["y"]
    breach = r["breached"]
    flag = " bc-row--breach" if breach else ""
    parts = [
        f'  <g class="bc-row{flag}">\n'
        f"    <title>{_esc(r['label'])}: {_esc(r['value_label'])}"
        f"{' (breach)' if breach else ''}</title>\n"
        f'    <text x="{PLOT_X0 - 10}" y="{y + 4}" text-anchor="end" class="bc-label">'
        f"{_esc(r['short_label'])}</text>\n"
    ]
    if r["band_x0"] is not None:
        x0 = r["band_x0"]
        parts.append(
            f'    <rect x="{x0}" y="{y - 8}" width="{max(r["band_x1"] - x0, 1)}" height="16" '
            'rx="2" class="bc-band"/>\n'
        )
    if (tx := r["target_x"]) is not None:
        parts.append(
            f'    <line x1="{tx}" y1="{y - 12}" x2="{tx}" y2="{y + 12}" class="bc-target"/>\n'
        )
    else:
        parts.append(
            f'    <text x="{PLOT_X1}" y="{y + 4}" text-anchor="end" class="bc-note">'
            "no target</text>\n"
        )
    if (px := r["post_x"]) is not None:
        parts.append(
            f'    <rect x="{px - 5.5}" y="{y - 5.5}" width="11" height="11" class="bc-post"/>\n'
        )
    if (wx := r["weight_x"]) is not None:
        if breach:
            parts.append(
                f'    <path d="M {wx} {y - 7.5} L {wx + 7.5} {y} L {wx} {y + 7.5} '
                f'L {wx - 7.5} {y} Z" class="bc-now bc-now--breach"/>\n'
            )
        else:
            kind = " bc-now--ok" if r["has_target"] else " bc-now--plain"
            parts.append(f'    <circle cx="{wx}" cy="{y}" r="5" class="bc-now{kind}"/>\n')
    parts.append(
        f'    <text x="{PLOT_X1 + 12}" y="{y + 4}" class="bc-value'
        f'{" bc-value--breach" if breach else ""}">{_esc(r["value_label"])}</text>\n'
        "  </g>\n"
    )
    return "".join(parts)


@lru_cache(maxsize=1024)
def _axis_marks(
    ticks: tuple[tuple[float, str], ...], top: int, bottom: int, x0: int, x1: int
) -> tuple[str, str]:
    """(gridlines, axis line and ticks) of the band chart: the same for every chart with the
    same axis and number of rows, so written once for each."""
    grid = "".join(
        f'  <line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" class="bc-grid"/>\n' for x, _ in ticks
    )
    axis = f'  <line x1="{x0}" y1="{bottom}" x2="{x1}" y2="{bottom}" class="bc-axis"/>\n' + "".join(
        f'  <line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}" class="bc-axis"/>\n'
        f'  <text x="{x}" y="{bottom + 16}" text-anchor="middle" class="bc-tick">'
        f"{_esc(label)}</text>\n"
        for x, label in ticks
    )
    return grid, axis


def band_marks(chart: Mapping[str, Any]) -> Markup:
    """Stripes, gridlines, one row per asset class, the axis and its ticks, as SVG text."""
    width, row_h, rows = chart["width"], chart["row_h"], chart["rows"]
    grid, axis = _axis_marks(
        tuple((t["x"], t["label"]) for t in chart["ticks"]),
        chart["plot_top"],
        chart["plot_bottom"],
        chart["plot_x0"],
        chart["plot_x1"],
    )
    parts = [
        f'<rect x="0" y="{r["y"] - row_h / 2}" width="{width}" height="{row_h}" class="bc-stripe"/>'
        for r in rows
        if r["stripe"]
    ]
    parts += [grid, "\n", *[_band_row_svg(r) for r in rows], "\n", axis]
    return Markup("".join(parts))


@lru_cache(maxsize=1024)
def _ticks(low: Decimal, high: Decimal, step: Decimal) -> tuple[tuple[float, str], ...]:
    """(x, label) of each tick of an axis: a few dozen distinct axes serve every chart."""
    x = _Scale(low, high)
    n_ticks = int((high - low) / step)
    return tuple(
        (x(low + k * step), f"{((low + k * step) * _HUNDRED).normalize():f}%")
        for k in range(n_ticks + 1)
    )


def band_rows(asset_classes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict of coordinates per asset class, in the order given."""
    rows: list[dict[str, Any]] = band_chart(asset_classes)["rows"]
    return rows


def band_chart(asset_classes: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole chart: size, plot area, axis ticks and the rows of :func:`band_rows`."""
    parsed: list[_Values] = [tuple(_dec(ac.get(k)) for k in _BAND_KEYS) for ac in asset_classes]
    low, high, step = axis_domain(d for values in parsed for d in values if d is not None)
    x = _Scale(low, high)
    rows = [_row(i, ac, x, parsed[i]) for i, ac in enumerate(asset_classes)]
    plot_bottom = TOP + len(rows) * ROW_H
    ticks = [{"x": tx, "label": label} for tx, label in _ticks(low, high, step)]
    chart = {
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
    chart["marks"] = band_marks(chart)
    return chart


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


@lru_cache(maxsize=4096)
def _bp_label(value: Decimal) -> str:
    """``+55.7 bp``: digits, sign and unit only, so never in need of escaping."""
    q = value.quantize(_CENT)
    sign = "+" if q > 0 else ""
    return f"{sign}{q.normalize():f} bp" if q != 0 else "0 bp"


_HIST_KEYS = ("drift_bp", "lower_bp", "upper_bp")


def _hist_panel(
    i: int, label: str, points: list[Mapping[str, Any]], xs: dict[str, float], right: float
) -> dict[str, Any]:
    top = HIST_TOP + i * (HIST_PANEL_H + HIST_GAP)
    values = [[_dec(p.get(k)) for k in _HIST_KEYS] for p in points]
    limit = _bp_limit(d for row in values for d in row if d is not None)
    neg, twice = -limit, 2 * limit
    ys: dict[Decimal, float] = {}  # equal values give equal coordinates: each computed once

    def y_of(value: Decimal) -> float:
        y = ys.get(value)
        if y is None:
            frac = (limit - min(max(value, neg), limit)) / twice
            y = ys[value] = float((top + frac * HIST_PANEL_H).quantize(_CENT))
        return y

    pts = []
    for p, (drift, lo, hi) in zip(points, values, strict=True):
        as_of = str(p["as_of"])
        band = ""
        if lo is not None and hi is not None:
            band = f"band {_bp_label(lo)} to {_bp_label(hi)}"
        pts.append(
            {
                "as_of": as_of,
                "x": xs[as_of],
                "y": y_of(drift) if drift is not None else None,
                "band_y0": y_of(hi) if hi is not None else None,
                "band_y1": y_of(lo) if lo is not None else None,
                "breached": bool(p.get("breached")),
                "label": _bp_label(drift) if drift is not None else "n/a",
                "band_label": band,
            }
        )
    drawn = [p for p in pts if p["y"] is not None]
    banded_pts = [p for p in pts if p["band_y0"] is not None]
    band_path = ""
    if len(banded_pts) >= 2:
        upper = [f"{p['x']} {p['band_y0']}" for p in banded_pts]
        lower = [f"{p['x']} {p['band_y1']}" for p in reversed(banded_pts)]
        band_path = "M " + " L ".join(upper + lower) + " Z"
    return {
        "label": label,
        "short_label": label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
        "top": top,
        "bottom": top + HIST_PANEL_H,
        "zero_y": y_of(Decimal(0)),
        "limit_label": _bp_label(limit),
        "neg_limit_label": _bp_label(neg),
        "band_path": band_path,
        "line": " ".join(f"{p['x']},{p['y']}" for p in drawn),
        "points": pts,
        "last": drawn[-1] if drawn else None,
        "right": right,
    }


def _history_point_svg(label: str, bottom: int, pt: Mapping[str, Any]) -> str:
    """One review date of a panel. ``label`` is the panel's escaped class name; the point's own
    labels are digits and units (``_bp_label``), which escaping leaves as they are."""
    x, y, breach = pt["x"], pt["y"], pt["breached"]
    as_of = _esc(pt["as_of"])
    out = ""
    if y is not None:
        if breach:
            mark = (
                f'        <path d="M {x} {y - 7} L {x + 7} {y} L {x} {y + 7} L {x - 7} {y} Z" '
                'class="dh-breach"/>\n'
            )
        else:
            mark = f'        <circle cx="{x}" cy="{y}" r="4.5" class="dh-ok"/>\n'
        out = (
            "      <g>\n"
            f"        <title>{label}, {as_of}: {pt['label']}"
            f"{' (breach)' if breach else ''}; {pt['band_label']}</title>\n"
            f"{mark}"
            "      </g>\n"
        )
    return (
        f'{out}      <text x="{x}" y="{bottom + 14}" text-anchor="middle" class="dh-date">'
        f"{as_of}</text>\n"
        f'      <text x="{x}" y="{bottom + 27}" text-anchor="middle" class="dh-value'
        f'{" dh-value--breach" if breach else ""}">{pt["label"]}</text>\n'
    )


def _history_panel_svg(p: Mapping[str, Any], x0: int, x1: int) -> str:
    """One asset class's panel, as ``partials/drift_history.html.j2`` drew it."""
    top, bottom, zero_y = p["top"], p["bottom"], p["zero_y"]
    band = f'<path d="{p["band_path"]}" class="dh-band"/>' if p["band_path"] else ""
    line = f'<polyline points="{p["line"]}" class="dh-line"/>' if p["line"] else ""
    label = _esc(p["label"])
    return (
        '    <g class="dh-panel">\n'
        f'      <text x="0" y="{top - 8}" class="dh-class">{_esc(p["short_label"])}</text>\n'
        f'      <rect x="{x0}" y="{top}" width="{x1 - x0}" height="{bottom - top}" '
        'class="dh-frame"/>\n'
        f'{band}      <line x1="{x0}" y1="{zero_y}" x2="{x1}" y2="{zero_y}" class="dh-zero"/>\n'
        f'      <text x="{x0 - 8}" y="{top + 10}" text-anchor="end" class="dh-tick">'
        f"{p['limit_label']}</text>\n"
        f'      <text x="{x0 - 8}" y="{zero_y + 4}" text-anchor="end" class="dh-tick">'
        "0 bp (target)</text>\n"
        f'      <text x="{x0 - 8}" y="{bottom}" text-anchor="end" class="dh-tick">'
        f"{p['neg_limit_label']}</text>\n"
        f"{line}{''.join([_history_point_svg(label, bottom, pt) for pt in p['points']])}"
        "    </g>\n"
    )


def history_marks(chart: Mapping[str, Any]) -> Markup:
    """The panels of the drift history chart, as SVG text."""
    x0, x1 = chart["plot_x0"], chart["plot_x1"]
    return Markup("".join(_history_panel_svg(p, x0, x1) for p in chart["panels"]))


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
    chart = {
        "width": WIDTH,
        "height": height + 20,
        "plot_x0": x0,
        "plot_x1": x1,
        "dates": [{"label": d, "x": xs[d]} for d in dates],
        "panels": panels,
        "legend_y": height + 6,
    }
    chart["marks"] = history_marks(chart)
    return chart


# --- drift distribution: the run index's histogram of total drift (partials/drift_histogram) --

DD_LEFT = 64  # count labels and the count axis title
DD_RIGHT = 16
DD_TOP = 40  # title
DD_PLOT_H = 200
DD_BOTTOM = 70  # bin edge labels, axis title, legend
DD_MAX_BINS = 24
DD_MAX_LABELS = 12  # bin edges labelled at most
_BIN_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)
_COUNT_STEPS = (1, 2, 5)


def _bin_width(top: Decimal) -> Decimal:
    """A round bin width (bp) giving at most ``DD_MAX_BINS`` bins from 0 up to past ``top``."""
    for step in _BIN_STEPS:
        if top / step < DD_MAX_BINS - 1:
            return Decimal(step)
    return (top / (DD_MAX_BINS - 1) / 10000).to_integral_value(ROUND_CEILING) * 10000


def _count_axis(most: int) -> tuple[int, int]:
    """(top, step) of the count axis: a round step giving at most five gridlines above zero."""
    scale = 1
    while True:
        for s in _COUNT_STEPS:
            step = s * scale
            if most <= 5 * step:
                return max(-(-most // step), 1) * step, step
        scale *= 10


def _cap_at(frame: pl.DataFrame) -> int:
    """Where the regular bins end, as the row of ``frame`` (``value``: |drift| scaled, ``at``:
    row number) holding it: the largest drift, unless it is more than twice the 99th percentile
    of 100 or more drifts; then the percentile (the rest go to one "more" bin), so a few
    outliers do not squeeze every other portfolio into the first bar. Ties are taken in row
    order, as a stable sort of the rows would."""
    ordered = frame.select("value", "at").sort("value", "at")
    n = ordered.height
    top = ordered.row(n - 1)
    if n >= 100:
        p99 = ordered.row(-(-99 * n // 100) - 1)
        if top[0] > 2 * p99[0]:
            return int(p99[1])
    return int(top[1])


def _bp_text(value: Decimal) -> str:
    """A whole bin edge with separators: ``1,250``."""
    return f"{value.normalize():,f}"


_PLAIN = r"^[+-]?[0-9]+(\.[0-9]+)?$"


def drift_frame(drifts: Iterable[tuple[Any, bool]] | pl.DataFrame) -> pl.DataFrame:
    """``(drift_bp, breached)`` pairs as a frame (``drift``: the value as text, null for
    None; ``breached``), or the frame itself when given one."""
    import polars as pl

    if isinstance(drifts, pl.DataFrame):
        return drifts
    pairs = [(None if v is None else str(v), bool(b)) for v, b in drifts]
    schema = {"drift": pl.String, "breached": pl.Boolean}
    return pl.DataFrame(pairs, schema=schema, orient="row")


def _scaled(texts: pl.Series) -> tuple[pl.Series, int]:
    """Decimal texts as |value| x 10**scale (Int128), ``scale`` their most fraction digits:
    exact, so bins and order are Decimal's. Texts in exponent form are first written out."""
    import polars as pl

    if not texts.str.contains(_PLAIN).all():
        texts = pl.Series([format(Decimal(t), "f") for t in texts], dtype=pl.String)
    parts = texts.str.strip_chars_start("+-").str.split_exact(".", 1)
    whole = parts.struct.field("field_0")
    fraction = parts.struct.field("field_1").fill_null("")
    scale = fraction.str.len_chars().max()
    scale = scale if isinstance(scale, int) else 0
    return (whole + fraction.str.pad_end(scale, "0")).cast(pl.Int128), scale


def drift_histogram(drifts: Iterable[tuple[Any, bool]] | pl.DataFrame) -> dict[str, Any] | None:
    """Bins of total drift (bp) over the portfolios given as ``(drift_bp, breached)`` pairs or
    a ``drift_frame``: each bin ``[lo, hi)`` with its count and how many of those are out of
    policy, then, when some drifts lie past the regular bins, one open bin ``[lo, ∞)``; the SVG
    coordinates of each. Drifts that are None (data-invalid portfolios) are left out; None when
    none is left. Counted in Polars on exact scaled integers (no Python object per portfolio):
    the same bins as ``Decimal`` arithmetic on each drift."""
    import polars as pl

    frame = drift_frame(drifts).filter(pl.col("drift").is_not_null())
    if frame.is_empty():
        return None
    scaled, scale = _scaled(frame["drift"])
    frame = frame.with_columns(value=scaled).with_row_index("at")
    cap = abs(Decimal(frame["drift"][_cap_at(frame)]))
    width = _bin_width(cap)
    n_regular = int(cap // width) + 1
    top = n_regular * width
    step = int(width) * 10**scale  # the bin width in the scaled unit: widths are whole bp
    binned = (
        frame.group_by(pl.min_horizontal(pl.col("value") // step, n_regular).alias("k"))
        .agg(pl.len().alias("total"), pl.col("breached").sum().alias("breached"))
        .sort("k")
    )
    counts = [[0, 0] for _ in range(n_regular + 1)]  # [total, breached]; the last is "more"
    for k, total, breached in binned.iter_rows():
        counts[k] = [total, breached]
    if counts[-1][0] == 0:
        counts.pop()
    y_top, y_step = _count_axis(max(c for c, _ in counts))
    x0, x1 = DD_LEFT, WIDTH - DD_RIGHT
    bar_w = (x1 - x0) / len(counts)
    bottom = DD_TOP + DD_PLOT_H

    def y_of(count: int) -> float:
        return round(bottom - count * DD_PLOT_H / y_top, 2)

    bins = []
    for k, (count, breached) in enumerate(counts):
        lo = k * width
        hi = None if k == n_regular else lo + width
        if hi is None:
            label, fragment = f"≥ {_bp_text(lo)} bp", f"drift={lo.normalize():f}-"
        else:
            label = f"{_bp_text(lo)}–{_bp_text(hi)} bp"
            fragment = f"drift={lo.normalize():f}-{hi.normalize():f}"
        bins.append(
            {
                "lo": str(lo),
                "hi": None if hi is None else str(hi),
                "count": count,
                "breached": breached,
                "label": label,
                "fragment": fragment,
                "x": round(x0 + k * bar_w, 2),
                "w": round(bar_w, 2),
                "y": y_of(count),
                "y_breached": y_of(breached),
            }
        )
    more = len(counts) > n_regular
    every = -(-n_regular // DD_MAX_LABELS)
    edges = [  # the last edge is the open bin's, labelled under its bar instead
        {"x": round(x0 + k * bar_w, 2), "label": _bp_text(k * width)}
        for k in range(0, n_regular + (0 if more else 1), every)
    ]
    chart = {
        "width": WIDTH,
        "height": bottom + DD_BOTTOM,
        "plot_x0": x0,
        "plot_x1": x1,
        "plot_top": DD_TOP,
        "plot_bottom": bottom,
        "bin_width": str(width),
        "top": str(top),
        "bins": bins,
        "edges": edges,
        "more": more,
        "gridlines": [{"y": y_of(c), "label": f"{c:,}"} for c in range(0, y_top + 1, y_step)],
        "n": frame.height,
        "n_breached": int(frame["breached"].sum()),
        "axis_title_y": bottom + 36,
        "legend_y": bottom + 58,
    }
    chart["marks"] = histogram_marks(chart)
    return chart


def histogram_marks(chart: Mapping[str, Any]) -> Markup:
    """Gridlines, one linked bar per non-empty bin (its out-of-policy part at the foot) and the
    bin edge labels of the drift histogram, as SVG text (every label is digits and units)."""
    x0, x1, bottom = chart["plot_x0"], chart["plot_x1"], chart["plot_bottom"]
    top = chart["plot_top"]
    parts = [
        f'  <line x1="{x0}" y1="{g["y"]}" x2="{x1}" y2="{g["y"]}" class="dd-grid"/>\n'
        f'  <text x="{x0 - 8}" y="{g["y"] + 4}" text-anchor="end" class="dd-tick">'
        f"{g['label']}</text>\n"
        for g in chart["gridlines"]
    ]
    for b in chart["bins"]:
        if not b["count"]:
            continue
        x, w = b["x"], b["w"]
        inner = f'x="{round(x + 1, 2)}" width="{round(max(w - 2, 1), 2)}"'
        n, out, y, y_out = b["count"], b["breached"], b["y"], b["y_breached"]
        title = f"{b['label']}: {n:,} {'portfolio' if n == 1 else 'portfolios'}"
        title += f", {out:,} out of policy" if out else ""
        parts.append(
            f'  <a href="#{b["fragment"]}" class="dd-bar">\n'
            f"    <title>{title}</title>\n"
            f'    <rect x="{x}" y="{top}" width="{w}" height="{bottom - top}" class="dd-hit"/>\n'
        )
        if n > out:
            parts.append(
                f'    <rect {inner} y="{y}" height="{round(y_out - y, 2)}" class="dd-in"/>\n'
            )
        if out:
            parts.append(
                f'    <rect {inner} y="{y_out}" height="{round(bottom - y_out, 2)}" '
                'class="dd-out"/>\n'
            )
        parts.append("  </a>\n")
    parts.append(f'  <line x1="{x0}" y1="{bottom}" x2="{x1}" y2="{bottom}" class="dd-axis"/>\n')
    for e in chart["edges"]:
        x = e["x"]
        parts.append(
            f'  <line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}" class="dd-axis"/>\n'
            f'  <text x="{x}" y="{bottom + 16}" text-anchor="middle" class="dd-tick">'
            f"{e['label']}</text>\n"
        )
    if chart["more"]:
        last = chart["bins"][-1]
        parts.append(
            f'  <text x="{round(last["x"] + last["w"] / 2, 2)}" y="{bottom + 16}" '
            f'text-anchor="middle" class="dd-tick">≥ {_bp_text(Decimal(chart["top"]))}</text>\n'
        )
    return Markup("".join(parts))
