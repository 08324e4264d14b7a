"""Tax lots: holding periods (IRS Pub. 550 / domain.md) and relief orders, with hand figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
import pytest

from ballast.portfolio import policy_frames as pf
from ballast.trading import lots
from tests.support.frames import policy

SALE = dt.date(2026, 9, 30)


@pytest.mark.parametrize(
    ("bought", "sold", "long"),
    [
        ("2023-03-01", "2024-03-01", False),  # the anniversary itself is still short-term
        ("2023-03-01", "2024-03-02", True),
        ("2024-02-29", "2025-02-28", False),  # leap day: anniversary is the month end a year on
        ("2024-02-29", "2025-03-01", True),
        ("2023-02-28", "2024-02-29", False),  # bought on a month end: anniversary is Feb 29, 2024
        ("2023-02-28", "2024-03-01", True),
        ("2023-04-30", "2024-05-01", True),
    ],
)
def test_holding_period(bought: str, sold: str, long: bool) -> None:
    """Long-term only when sold after the first anniversary, with the month-end rule."""
    frame = pl.DataFrame({"a": [dt.date.fromisoformat(bought)], "s": [dt.date.fromisoformat(sold)]})
    assert frame.select(lots.is_long_term(pl.col("a"), pl.col("s"))).item() is long


# six lots of 100 shares sold at $100 on 2026-09-30, one of each kind min_tax distinguishes
LOTS = [
    ("L1", "2020-01-10", 5000),  # long-term gain  +50/sh
    ("L2", "2026-06-01", 12000),  # short-term loss -20/sh
    ("L3", "2024-01-15", 11000),  # long-term loss  -10/sh
    ("L4", "2026-05-01", 9000),  # short-term gain +10/sh
    ("L5", "2022-03-01", 10000),  # zero gain
    ("L6", "2023-02-01", 8000),  # long-term gain  +20/sh
]


def lot_frame() -> pl.DataFrame:
    return pl.DataFrame(
        [("T", "X", lid, dt.date.fromisoformat(d), D(100), D(cost)) for lid, d, cost in LOTS],
        orient="row",
        schema=lots.LOT_SCHEMA,
    )


def sell(qty: int, method: str) -> pl.DataFrame:
    return pl.DataFrame(
        [(0, "T", "X", D(qty), D(100), method)],
        orient="row",
        schema={
            "trade_id": pl.UInt32,
            "account_id": pl.String,
            "security_id": pl.String,
            "quantity": pl.Decimal(38, 6),
            "price": pl.Decimal(38, 6),
            "lot_method": pl.String,
        },
    )


@pytest.mark.parametrize(
    ("method", "qty", "order", "st", "lt"),
    [
        ("fifo", 250, ["L1", "L5", "L6"], 0, 6000),  # oldest first
        ("hifo", 250, ["L2", "L3", "L5"], -2000, -1000),  # highest cost first
        ("hifo", 450, ["L2", "L3", "L5", "L4", "L6"], -1000, 0),
        # min_tax: least tax per share first at 37% short / 23.8% long (no avoid_short_term_gains
        # here): L2 -20 x .37 = -7.40, L3 -10 x .238 = -2.38, L5 0, L4 +10 x .37 = +3.70,
        # L6 +20 x .238 = +4.76, L1 +50 x .238 = +11.90. 450 shares: L2, L3, L5, L4 and 50 of L6:
        # short -2,000 + 1,000 = -1,000, long -1,000 + 50 x 20 = 0 (tax -$370; the old category
        # order, L2 L3 L5 L6 + 50 of L1, gave -2,000 / +3,500: tax -$740 + $833 = +$93)
        ("min_tax", 450, ["L2", "L3", "L5", "L4", "L6"], -1000, 0),
        ("min_tax", 600, ["L2", "L3", "L5", "L4", "L6", "L1"], -1000, 6000),
    ],
)
def test_relief_order_and_gains(method: str, qty: int, order: list[str], st: int, lt: int) -> None:
    """Each method relieves lots in domain.md's order; gains split by holding period."""
    relieved = lots.relieve(sell(qty, method), lot_frame(), SALE)
    assert relieved["lot_id"].to_list() == order
    gains = lots.realized_gains(sell(qty, method), lot_frame(), SALE).row(0, named=True)
    assert gains["realized_gain_short_term"] == st
    assert gains["realized_gain_long_term"] == lt


def test_min_tax_is_the_least_tax_not_a_category_order() -> None:
    """Issue 12, defect 6. 100 shares sold at $100 on 2026-09-30 from two loss lots of 100:
    A bought 2026-06-01 for $10,200 (short-term, -$2/share), B bought 2024-01-15 for $10,400
    (long-term, -$4/share); rates 37% short, 23.8% long.
    - A: -$200 x 37% = -$74.00 of tax; B: -$400 x 23.8% = -$95.20.
    The old fixed order (short-term losses first) sold A: -$74.00, where hifo (B, the higher
    cost) reaches -$95.20. min_tax must reach the minimum, -$95.20."""
    two = pl.DataFrame(
        [
            ("T", "X", "A", dt.date(2026, 6, 1), D(100), D(10200)),
            ("T", "X", "B", dt.date(2024, 1, 15), D(100), D(10400)),
        ],
        orient="row",
        schema=lots.LOT_SCHEMA,
    )
    taxes, relieved = {}, {}
    for method in ("min_tax", "hifo"):
        p = policy(
            accounts=[{"id": "T", "tax_status": "taxable"}],
            tax={"lot_method": method, "short_term_rate": "37%", "long_term_rate": "23.8%"},
        )
        settings, accounts = pf.settings_frame([p]), pf.accounts_frame([p])
        out, _ = lots.annotate_trades(_trades("T", 100), two, settings, accounts, SALE)
        taxes[method] = out["estimated_tax"][0]
        sells = lots.taxable_sells(_trades("T", 100), settings, accounts)
        relieved[method] = lots.relieve(sells, two, SALE)["lot_id"].to_list()
    assert taxes == {"min_tax": D("-95.2"), "hifo": D("-95.2")}
    assert relieved == {"min_tax": ["B"], "hifo": ["B"]}


def _trades(account: str, qty: int) -> pl.DataFrame:
    return pl.DataFrame(
        [("p1", account, "X", "equity", "sell", D(qty), D(100))],
        orient="row",
        schema={
            "portfolio_id": pl.String,
            "account_id": pl.String,
            "security_id": pl.String,
            "asset_class": pl.String,
            "side": pl.String,
            "quantity": pl.Decimal(38, 6),
            "price": pl.Decimal(38, 6),
        },
    )


def test_taxable_sale_gets_gains_and_tax() -> None:
    """A taxable FIFO sale of 250 realises $6,000 long-term, taxed at the IPS's 23.8%."""
    p = policy(accounts=[{"id": "T", "tax_status": "taxable"}])
    out, warn = lots.annotate_trades(
        _trades("T", 250), lot_frame(), pf.settings_frame([p]), pf.accounts_frame([p]), SALE
    )
    row = out.row(0, named=True)
    assert (row["realized_gain_short_term"], row["realized_gain_long_term"]) == (0, 6000)
    assert row["estimated_tax"] == D("1428")
    assert warn.is_empty()


def test_uncovered_taxable_sale_is_not_guessed() -> None:
    """Lots covering 600 of 700 shares: no estimate, and a warning saying so."""
    p = policy(accounts=[{"id": "T", "tax_status": "taxable"}])
    out, warn = lots.annotate_trades(
        _trades("T", 700), lot_frame(), pf.settings_frame([p]), pf.accounts_frame([p]), SALE
    )
    assert out["realized_gain_long_term"].to_list() == [None]
    assert "cover 600 of the 700 shares" in warn["message"][0]


def test_tax_advantaged_sale_realises_nothing_taxable() -> None:
    """A sale in an IRA realises no taxable gain, lots or not."""
    p = policy(accounts=[{"id": "T", "tax_status": "tax_deferred"}])
    out, warn = lots.annotate_trades(
        _trades("T", 700), lot_frame(), pf.settings_frame([p]), pf.accounts_frame([p]), SALE
    )
    assert out.row(0, named=True)["realized_gain_long_term"] == 0 and warn.is_empty()
