"""The band chart's coordinates are kept per (axis, value): a kept coordinate is the one the
exact Decimal arithmetic gives, whichever equal decimal (``0.6``, ``0.600000``) asked first."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.reporting import charts

_WEIGHTS = st.decimals(min_value=-1, max_value=2, places=6, allow_nan=False)


def _exact(low: Decimal, high: Decimal, value: Decimal) -> float:
    value = min(max(value, low), high)
    frac = (value - low) / (high - low)
    return float((charts.PLOT_X0 + frac * charts._PLOT_W).quantize(Decimal("0.01")))


@settings(max_examples=300, deadline=None)
@given(st.lists(_WEIGHTS, min_size=1, max_size=8), _WEIGHTS)
def test_a_kept_coordinate_is_the_exact_one(values: list[Decimal], value: Decimal) -> None:
    low, high, _ = charts.axis_domain(values)
    scale = charts._Scale(low, high)
    assert scale(value) == _exact(low, high, value)
    assert scale(value.quantize(Decimal("0.0000001"))) == _exact(low, high, value)


def test_equal_decimals_written_differently_share_a_coordinate() -> None:
    scale = charts._Scale(Decimal("0"), Decimal("0.7"))
    assert (
        scale(Decimal("0.6"))
        == scale(Decimal("0.600000"))
        == _exact(Decimal(0), Decimal("0.7"), Decimal("0.6"))
    )
    assert charts._dec("0.600000") == Decimal("0.6") and str(charts._dec("0.600000")) == "0.600000"
    assert charts._dec(None) is None and charts._dec(0.5) == Decimal("0.5")
