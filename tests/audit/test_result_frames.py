"""The run tables' decimal columns are cast from results.json's decimal strings by Polars: the
same values as ``Decimal`` objects of those strings would give, to the last digit, also where a
string has more digits than the column holds."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.audit import records


@st.composite
def decimal_text(draw: st.DrawFn) -> str | None:
    """A decimal string as results.json writes one (or None): up to 8 decimals, either sign."""
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    places = draw(st.integers(min_value=0, max_value=12))  # beyond a column's scale: cut
    bound = 10 ** (11 + places) - 1  # 11 digits before the point: Decimal(18, 6) holds it
    return str(Decimal(draw(st.integers(min_value=-bound, max_value=bound))).scaleb(-places))


@settings(max_examples=300, deadline=None)
@given(st.lists(decimal_text(), min_size=1, max_size=40))
def test_decimal_columns_hold_what_decimal_objects_would(values: list[str | None]) -> None:
    schema = {"money": pl.Decimal(18, 2), "weight": pl.Decimal(18, 6)}
    frame = records._frame([(v, v) for v in values], schema, {"money", "weight"})
    objects = [None if v is None else Decimal(v) for v in values]
    for name, dtype in schema.items():
        assert frame[name].to_list() == pl.Series(name, objects, dtype=dtype).to_list()


@pytest.mark.parametrize("text", ["12,5", "n/a", "1000000000000"])  # the last: 13 + 6 digits
def test_a_string_that_is_not_a_number_the_column_holds_is_an_error(text: str) -> None:
    with pytest.raises((pl.exceptions.InvalidOperationError, ArithmeticError)):
        records._frame([(text,)], {"weight": pl.Decimal(18, 6)}, {"weight"})


def test_result_frames_of_an_entry() -> None:
    entry = {
        "portfolio_id": "p1",
        "status": "ok",
        "breached": True,
        "action": "rebalance",
        "total_value": "1000000.00",
        "errors": [],
        "warnings": ["stale"],
        "asset_classes": [
            {
                "asset_class": "equity",
                "market_value": "663717.00",
                "weight": "0.663717",
                "target": "0.60",
                "lower": "0.55",
                "upper": "0.65",
                "drift_bp": "637.17",
                "breached": True,
                "post_trade_weight": None,
            }
        ],
        "trades": [],
    }
    frames = records.result_frames("R1", [entry])
    assert frames["run_portfolios"]["total_value"].to_list() == [Decimal("1000000.00")]
    row = frames["run_allocations"].row(0, named=True)
    assert row["weight"] == Decimal("0.663717") and row["drift_bp"] == Decimal("637.17")
    assert row["post_trade_weight"] is None and frames["run_trades"].is_empty()
