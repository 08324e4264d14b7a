"""Column-wise messages (``ballast.portfolio.text``) are ``pl.format``'s, without its panic."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from ballast.portfolio.text import text
from ballast.trading import sizing
from tests.support.paths import ROOT

FIXTURES = ROOT / "tests/fixtures/polars"


def test_text_is_what_format_writes() -> None:
    frame = pl.DataFrame(
        {
            "s": ["a", None, "c"],
            "d": [Decimal("1.50"), Decimal("-2"), None],
            "i": [1, 2, 3],
            "b": [True, False, True],
            "day": [dt.date(2026, 9, 30)] * 3,
        },
        schema_overrides={"d": pl.Decimal(38, 2)},
    )
    for template, args in [
        ("{} and {} on {}", ("s", "d", "day")),
        ("{}{}", ("i", "b")),
        ("no values", ()),
        ("{}", (pl.col("d").cast(pl.Decimal(38, 1)),)),
        ("{} {}", (pl.col("s").str.to_uppercase(), pl.lit("x"))),
    ]:
        got = frame.select(text(template, *args).alias("m"))["m"].to_list()
        assert got == frame.select(pl.format(template, *args).alias("m"))["m"].to_list()


def test_a_wrong_number_of_values_is_refused() -> None:
    with pytest.raises(ValueError, match="2 placeholders for 1 values"):
        text("{} {}", "a")


def test_a_frame_format_panics_on_gives_its_messages() -> None:
    """Trades and account values from a generated review (shard 4 of 10,000 portfolios) whose
    join and filter leave a column with an empty first chunk: ``pl.format`` panicked there."""
    trades = pl.read_parquet(FIXTURES / "sized_trades.parquet")
    accounts = pl.read_parquet(FIXTURES / "account_values.parquet")
    kept, dropped = sizing.min_trade_filter(trades, accounts)
    assert kept.height + dropped.height <= trades.height
    assert dropped["message"].to_list() == [
        "sell 83 EME027 in account A03611-1 (2092.43) is below the minimum trade (5000.00) "
        "and was dropped",
        "sell 35 IGB001 in account A03660-2 (3617.95) is below the minimum trade (5000.00) "
        "and was dropped",
    ]
