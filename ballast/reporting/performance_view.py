"""What the report's performance section shows (``partials/performance.html.j2``), from a
results.json ``performance`` entry (``ballast.reporting.performance``). Pure text formatting
with ``Decimal`` only, so the report pool imports no warehouse or review code."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

BENCHMARK_BASIS = "policy targets applied to the portfolio's own class returns"
DASH = "—"
_CENT = Decimal("0.01")
_PER_YEAR = {12: "monthly", 4: "quarterly", 2: "half-yearly", 1: "yearly"}


def _percent(value: Any, *, sign: bool = True, unit: str = "%") -> str:
    """A fraction as a percentage to 2 decimals, half to even: ``"0.018750"`` → ``+1.88%``
    (``unit`` " pp" for a difference of two returns)."""
    if value is None:
        return DASH
    q = (Decimal(str(value)) * 100).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    if q == 0:
        return f"0.00{unit}"
    text = f"{abs(q):,f}{unit}"
    if q < 0:
        return "−" + text
    return ("+" if sign else "") + text


def _row(label: str, part: Mapping[str, Any]) -> dict[str, Any]:
    r, b = part.get("return"), part.get("benchmark")
    active = None if r is None or b is None else Decimal(str(r)) - Decimal(str(b))
    return {
        "label": label,
        "start": part.get("start"),
        "end": part.get("end"),
        "return": _percent(r),
        "benchmark": _percent(b),
        "active": _percent(active, unit=" pp"),
    }


def view(perf: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What ``partials/performance.html.j2`` shows, or None: no complete period between two
    reviews, and the section is left out of the report altogether."""
    if not perf or not perf.get("periods"):
        return None
    periods = perf["periods"]
    vol, drawdown = perf.get("volatility"), perf.get("max_drawdown")
    per = _PER_YEAR.get(perf.get("periods_per_year") or 0)
    if perf.get("volatility_basis") == "annualised" and per:
        vol_note = f"annualised from {per} returns (× √{perf['periods_per_year']})"
    else:
        vol_note = "per period between reviews, not annualised: the periods are not of one length"
    return {
        "rows": [
            _row("Since the last review", perf["since_last_review"]),
            _row("Year to date", perf["year_to_date"]),
        ],
        "benchmark_basis": perf.get("benchmark_basis") or BENCHMARK_BASIS,
        "volatility": None if vol is None else _percent(vol, sign=False),
        "volatility_note": vol_note,
        "max_drawdown": None if drawdown is None else _percent(drawdown, sign=False),
        "n_periods": len(periods),
        "periods": [
            {
                "start": p.get("start"),
                "end": p.get("end"),
                "return": _percent(p.get("return")),
                "benchmark": _percent(p.get("benchmark")),
                "net_flows": p.get("net_flows"),
            }
            for p in periods
        ],
    }
