"""The Vanguard-style table: monitoring frequency × minimum threshold, beside Vanguard's figures.

Published figures: Jaconetti, Kinniry and Zilbering, *Best practices for portfolio rebalancing*,
Vanguard research, July 2010, 60 % stocks / 40 % bonds, 1926–2009, no costs or flows.
"""

from __future__ import annotations

from typing import Any

from ballast.simulate.engine import SimResult
from ballast.simulate.metrics import per_path

# (monitoring, threshold %) → (average equity %, annual turnover %, events, return %, volatility %)
PUBLISHED: dict[tuple[str, int | None], tuple[float, float, int, float, float]] = {
    ("monthly", 0): (60.1, 2.7, 1008, 8.5, 12.1),
    ("monthly", 1): (60.1, 2.3, 389, 8.5, 12.1),
    ("monthly", 5): (61.2, 1.7, 58, 8.6, 12.2),
    ("monthly", 10): (61.6, 1.3, 20, 8.8, 12.2),
    ("quarterly", 1): (60.2, 2.2, 210, 8.7, 12.2),
    ("quarterly", 5): (60.9, 1.7, 50, 8.9, 12.1),
    ("quarterly", 10): (62.6, 1.5, 21, 8.6, 12.3),
    ("annual", 1): (60.5, 1.7, 72, 8.6, 11.9),
    ("annual", 5): (60.7, 1.6, 28, 8.6, 11.8),
    ("annual", 10): (63.0, 1.4, 15, 8.7, 12.1),
    ("never", None): (84.1, 0.0, 0, 8.1, 14.4),
}


def _key(name: str) -> tuple[str, int | None]:
    """``bands:monthly:5%`` → ("monthly", 5); ``never`` → ("never", None)."""
    if name == "never":
        return "never", None
    _, freq, pct = name.split(":")
    return freq, int(pct.rstrip("%"))


def vanguard_rows(res: SimResult, equity: int) -> list[dict[str, Any]]:
    """One row per policy of the grid (path 0), with Vanguard's figures where published."""
    figs = per_path(res)
    rows = []
    for s, policy in enumerate(res.policies):
        freq, pct = _key(policy.name)
        pub = PUBLISHED.get((freq, pct))
        rows.append(
            {
                "monitoring": freq,
                "threshold_pct": pct,
                "equity_weight": round(float(res.weight_sum[s, 0, equity] / res.months), 4),
                "turnover": round(float(figs["turnover"][s, 0]), 4),
                "events": int(res.events[s, 0]),
                "cagr": round(float(figs["cagr"][s, 0]), 4),
                "volatility": round(float(figs["volatility"][s, 0]), 4),
                "vanguard": None
                if pub is None
                else dict(
                    zip(
                        ("equity_weight", "turnover", "events", "return", "volatility"),
                        (pub[0] / 100, pub[1] / 100, pub[2], pub[3] / 100, pub[4] / 100),
                        strict=True,
                    )
                ),
            }
        )
    return rows
