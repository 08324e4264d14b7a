"""The HTML report's context (chart geometry precomputed as SVG coordinates) and its rendering.

Charts are inline SVG so the page is one self-contained, printable file: a fan chart of wealth
per policy over the simulated years (its right edge is the terminal-wealth distribution), the
weight of the first class over the history, the rebalancing events, a risk/return scatter, and
(``phase: all``) each policy's CAGR at every calendar phase.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ballast.simulate.engine import SimResult, Trace

PALETTE = (
    "#1b6ca8",
    "#d1495b",
    "#edae49",
    "#00798c",
    "#66a182",
    "#8d6cab",
    "#30638e",
    "#b05f3c",
    "#5c5c5c",
    "#2e4057",
)
W, H, PAD = 640.0, 220.0, 40.0


def templates_dir() -> Path:
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "templates", here.parents[1] / "_resources" / "templates"):
        if (candidate / "simulation.html.j2").exists():
            return candidate
    raise FileNotFoundError("templates/simulation.html.j2 is missing from this install")


def _scale(lo: float, hi: float, a: float, b: float) -> Callable[[float | np.integer], float]:
    span = (hi - lo) or 1.0
    return lambda x: a + (x - lo) / span * (b - a)


def fan_charts(
    payload: dict[str, Any], width: float = 300.0, height: float = 160.0
) -> list[dict[str, Any]]:
    """One small fan chart per policy on a shared log scale: p5–p95, p25–p75, median."""
    sim = payload.get("simulated")
    if not sim:
        return []
    fans = sim["wealth_fan"]
    values = [row[q] for rows in fans.values() for row in rows for q in ("p5", "p95")]
    lo, hi = math.log(max(min(values), 1e-6)), math.log(max(max(values), 1e-6))
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    months = sim["years"] * 12
    x = _scale(0, months, PAD, width - 8)
    y = _scale(lo, hi, height - 22, 8)

    def pt(m: int, v: float) -> str:
        return f"{x(m):.1f},{y(math.log(max(v, 1e-6))):.1f}"

    charts = []
    for i, (name, rows) in enumerate(fans.items()):
        start = [(0, 1.0)]
        outer = [pt(m, v) for m, v in start + [(r["month"], r["p95"]) for r in rows]]
        outer += [pt(m, v) for m, v in reversed(start + [(r["month"], r["p5"]) for r in rows])]
        inner = [pt(m, v) for m, v in start + [(r["month"], r["p75"]) for r in rows]]
        inner += [pt(m, v) for m, v in reversed(start + [(r["month"], r["p25"]) for r in rows])]
        median = [pt(m, v) for m, v in start + [(r["month"], r["p50"]) for r in rows]]
        last = rows[-1]
        ticks = [
            {"y": f"{y(math.log(v)):.1f}", "label": f"{v:g}×"}
            for v in (1, 2, 5, 10, 20, 50, 100, 200)
            if lo <= math.log(v) <= hi
        ]
        charts.append(
            {
                "name": name,
                "color": PALETTE[i % len(PALETTE)],
                "outer": " ".join(outer),
                "inner": " ".join(inner),
                "median": " ".join(median),
                "ticks": ticks,
                "width": width,
                "height": height,
                "x0": PAD,
                "x1": width - 8,
                "terminal": {k: last[k] for k in ("p5", "p25", "p50", "p75", "p95")},
                "years": sim["years"],
            }
        )
    return charts


def weight_chart(hist: SimResult, labels: list[str], k: int = 0, step: int = 3) -> dict[str, Any]:
    """The weight of class ``k`` at each month-end (before trading), one line per policy."""
    tr = cast(Trace, hist.trace)  # the historical run is traced
    T = tr.weights.shape[0]
    ws = tr.weights[:, :, k]
    lo, hi = float(np.floor(ws.min() * 20) / 20), float(np.ceil(ws.max() * 20) / 20)
    x = _scale(0, T - 1, PAD, W - 8)
    y = _scale(lo, hi, H - 22, 8)
    idx = sorted({*range(0, T, step), T - 1})
    lines = [
        {
            "name": p.name,
            "color": PALETTE[s % len(PALETTE)],
            "points": " ".join(f"{x(t):.1f},{y(ws[t, s]):.1f}" for t in idx),
        }
        for s, p in enumerate(hist.policies)
    ]
    years = [t for t in range(T) if labels[t].endswith("-01") and int(labels[t][:4]) % 10 == 0]
    return {
        "lines": lines,
        "width": W,
        "height": H,
        "x0": PAD,
        "x1": W - 8,
        "yticks": [
            {"y": f"{y(v):.1f}", "label": f"{v:.0%}"} for v in np.arange(lo, hi + 1e-9, 0.05)
        ],
        "xticks": [{"x": f"{x(t):.1f}", "label": labels[t][:4]} for t in years],
    }


def events_chart(hist: SimResult, labels: list[str]) -> dict[str, Any]:
    """A raster: one row per policy, a tick at each month with a rebalancing trade."""
    ev = cast(Trace, hist.trace).events  # the historical run is traced
    T, S = ev.shape
    row = 18.0
    x = _scale(0, T - 1, 150, W - 8)
    rows = [
        {
            "name": p.name,
            "color": PALETTE[s % len(PALETTE)],
            "y": 6 + s * row,
            "count": int(ev[:, s].sum()),
            "ticks": [f"{x(t):.1f}" for t in np.flatnonzero(ev[:, s])],
        }
        for s, p in enumerate(hist.policies)
    ]
    years = [t for t in range(T) if labels[t].endswith("-01") and int(labels[t][:4]) % 20 == 0]
    return {
        "rows": rows,
        "width": W,
        "height": 6 + S * row + 18,
        "row": row - 4,
        "xticks": [{"x": f"{x(t):.1f}", "label": labels[t][:4]} for t in years],
        "axis_y": 6 + S * row,
    }


def scatter(payload: dict[str, Any]) -> dict[str, Any]:
    """Volatility (x) against CAGR (y): history filled, simulated medians hollow."""
    pts = []
    for i, p in enumerate(payload["policies"]):
        color = PALETTE[i % len(PALETTE)]
        pts.append((p["name"], color, p["history"]["volatility"], p["history"]["cagr"], True))
        if p["simulated"]:
            med = p["simulated"]["median"]
            pts.append((p["name"], color, med["volatility"], med["cagr"], False))
    xs, ys = [q[2] for q in pts], [q[3] for q in pts]
    xlo, xhi = min(xs) * 0.97, max(xs) * 1.03
    ylo, yhi = min(ys) - 0.002, max(ys) + 0.002
    x = _scale(xlo, xhi, PAD + 10, W - 120)
    y = _scale(ylo, yhi, H - 22, 10)
    return {
        "points": [
            {"name": n, "color": c, "x": f"{x(a):.1f}", "y": f"{y(b):.1f}", "filled": f}
            for n, c, a, b, f in pts
        ],
        "width": W,
        "height": H,
        "xticks": [{"x": f"{x(v):.1f}", "label": f"{v:.1%}"} for v in np.linspace(xlo, xhi, 5)],
        "yticks": [{"y": f"{y(v):.1f}", "label": f"{v:.1%}"} for v in np.linspace(ylo, yhi, 5)],
    }


def phase_chart(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Timing luck: one row per policy with more than one phase, a dot at each phase's CAGR on a
    shared axis, the lowest and highest phase named. None without ``phase: all``."""
    rows_in = [p for p in payload.get("phases") or [] if p["phases"] > 1]
    if not rows_in:
        return None
    colors = {p["name"]: PALETTE[i % len(PALETTE)] for i, p in enumerate(payload["policies"])}
    values = [r["cagr"] for p in rows_in for r in p["runs"]]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or 0.0005
    x = _scale(lo - pad, hi + pad, 150, W - 130)
    row = 34.0
    rows = []
    for i, pol in enumerate(rows_in):
        runs = sorted(pol["runs"], key=lambda r: r["cagr"])
        y = 14 + i * row
        rows.append(
            {
                "name": pol["policy"],
                "color": colors.get(pol["policy"], PALETTE[0]),
                "y": f"{y:.1f}",
                "label_y": f"{y + 3:.1f}",
                "low_y": f"{y + 13:.1f}",
                "x_min": f"{x(runs[0]['cagr']):.1f}",
                "x_max": f"{x(runs[-1]['cagr']):.1f}",
                "low": runs[0]["months"],
                "high": runs[-1]["months"],
                "spread": f"{pol['dispersion']['cagr']['spread'] * 1e4:.1f} bp",
                "count": pol["phases"],
                "dots": [
                    {
                        "x": f"{x(r['cagr']):.1f}",
                        "title": f"phase {r['phase']} ({r['months']}): {r['cagr']:.2%}",
                    }
                    for r in runs
                ],
            }
        )
    height = 14 + len(rows) * row + 18
    return {
        "rows": rows,
        "width": W,
        "height": height,
        "axis_y": f"{height - 20:.1f}",
        "xticks": [{"x": f"{x(v):.1f}", "label": f"{v:.2%}"} for v in np.linspace(lo, hi, 5)],
    }


def context(payload: dict[str, Any], hist: SimResult, labels: list[str]) -> dict[str, Any]:
    """Everything the template needs."""
    return {
        "phase_chart": phase_chart(payload),
        "p": payload,
        "fans": fan_charts(payload),
        "drift": weight_chart(hist, labels),
        "events": events_chart(hist, labels),
        "scatter": scatter(payload),
        "first_class": payload["asset_classes"][0],
    }


def render_html(payload: dict[str, Any], hist: SimResult, labels: list[str]) -> str:
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("simulation.html.j2").render(context(payload, hist, labels))


def write_outputs(
    out_dir: Path, payload: dict[str, Any], hist: SimResult, labels: list[str]
) -> list[Path]:
    """``simulation.json`` and ``simulation.html`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    js, html = out_dir / "simulation.json", out_dir / "simulation.html"
    js.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    html.write_text(render_html(payload, hist, labels), encoding="utf-8")
    return [js, html]
