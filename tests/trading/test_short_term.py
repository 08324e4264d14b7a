"""avoid_short_term_gains: short-term gain lots sold last, those about to turn long-term held
back (domain.md: "lots a few days away from turning long-term are worth waiting for").

Figures by hand. Sale date 2026-09-30. Lot B, bought 2025-10-15, turns long-term on 2026-10-16
(the day after its first anniversary): 16 days away, inside a 30-day wait, outside a 10-day one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from ballast.trading import lots
from ballast.trading.heuristic import propose
from ballast.trading.inputs import TradingInputs
from ballast.trading.optimizer import optimise
from tests.support.frames import CANDIDATE_SCHEMA, holdings, policy, row
from tests.trading.test_lots import lot_frame as six_lots
from tests.trading.test_lots import sell
from tests.trading.test_optimizer import frames, lot_frame
from tests.trading.test_proposal_properties import cases

SALE = dt.date(2026, 9, 30)


def _relieve(qty: int, method: str, avoid: bool, wait: int) -> list[str]:
    extra = pl.DataFrame(
        [("T", "X", "L7", dt.date(2025, 10, 15), D(100), D(9000))],  # +10/sh, 16 days to go
        orient="row",
        schema=six_lots().schema,
    )
    sells = sell(qty, method).with_columns(
        pl.lit(avoid).alias("avoid_short_term_gains"), pl.lit(wait).alias("short_term_wait_days")
    )
    out = lots.relieve(sells, pl.concat([six_lots(), extra]), SALE)
    return out["lot_id"].to_list()


def test_fifo_without_avoidance_is_plain_fifo() -> None:
    # oldest first: L1 2020, L5 2022, L6 2023, L3 2024, L7 2025-10, L4 2026-05 (L2 2026-06 left)
    assert _relieve(600, "fifo", False, 30) == ["L1", "L5", "L6", "L3", "L7", "L4"]


def test_short_term_gains_last_and_near_long_term_held_back() -> None:
    # L4 (short-term gain, 7 months to go) after every other lot; L7 (16 days) never
    assert _relieve(600, "fifo", True, 30) == ["L1", "L5", "L6", "L3", "L2", "L4"]
    # relief only orders lots; the proposal never asks for a held-back lot (tests below)
    assert _relieve(700, "fifo", True, 30)[-1] == "L7"


def test_wait_window_is_configurable() -> None:
    # a 10-day wait: L7 (16 days away) is only a last resort, sold before L4 in fifo order
    assert _relieve(700, "fifo", True, 10) == ["L1", "L5", "L6", "L3", "L2", "L7", "L4"]


def test_min_tax_keeps_its_order_within_tiers() -> None:
    # short-term loss, long-term loss, zero gain, long-term gains (smallest first), then L4
    assert _relieve(600, "min_tax", True, 30) == ["L2", "L3", "L5", "L6", "L1", "L4"]


def _case(a_qty: int, b_qty: int, wait: int, engine: str):
    """One taxable account: EQ at $100 in lot A (2020, $50/sh) and lot B (2025-10-15, $90/sh),
    BD at $100 for the rest of $100,000. Equity 80% against 60% ± 5%: sell $20,000 = 200 EQ."""
    p = policy(
        "h",
        accounts=[{"id": "TAX", "tax_status": "taxable"}],
        tax={"lot_method": "fifo", "avoid_short_term_gains": True, "short_term_wait_days": wait},
        trading={"engine": engine},
    )
    h = holdings(
        [p], [("h", "TAX", "EQ", "equity", 800, 100), ("h", "TAX", "BD", "bonds", 200, 100)]
    )
    lot_rows = lot_frame(
        [
            ("TAX", "EQ", "A", "2020-01-02", a_qty, a_qty * 50),
            ("TAX", "EQ", "B", "2025-10-15", b_qty, b_qty * 90),
            ("TAX", "BD", "C", "2020-01-02", 200, 20000),
        ]
    )
    args = (
        allocation(h, pf.targets_frame([p])),
        h,
        pf.settings_frame([p]),
        pf.accounts_frame([p]),
        pl.DataFrame(schema=CANDIDATE_SCHEMA),
        pf.restrictions_frame([p]),
        pf.costs_frame([p]),
    )
    if engine == "optimizer":
        prop = optimise(TradingInputs(*args, None, lot_rows, SALE))
        trades = prop.trades
    else:
        prop = propose(TradingInputs(*args, None, lot_rows, SALE))
        trades, warnings = lots.annotate_trades(prop.trades, lot_rows, args[2], args[3], SALE)
        prop = type(prop)(trades, prop.classes, pl.concat([prop.warnings, warnings]))
    return prop


def test_heuristic_sells_around_a_held_back_lot() -> None:
    prop = _case(400, 400, 30, "heuristic")
    eq = row(prop.trades, security_id="EQ")
    assert eq["quantity"] == 200  # all from lot A
    assert eq["realized_gain_long_term"] == 10000  # 200 × (100 − 50)
    assert eq["realized_gain_short_term"] == 0
    assert not any("held back" in m for m in prop.warnings["message"])  # it did not bind


def test_heuristic_reports_a_held_back_lot_that_binds() -> None:
    prop = _case(100, 700, 30, "heuristic")
    eq = row(prop.trades, security_id="EQ")
    assert eq["quantity"] == 100  # lot A only: B turns long-term in 16 days
    messages = list(prop.warnings["message"])
    assert any(
        "lot B of EQ in account TAX (700 shares, gain $7000.00) turns long-term on 2026-10-16" in m
        for m in messages
    )
    assert any("equity would still be outside its band" in m for m in messages)


def test_heuristic_last_resort_outside_the_wait() -> None:
    prop = _case(100, 700, 10, "heuristic")
    eq = row(prop.trades, security_id="EQ")
    assert eq["quantity"] == 200  # 100 from A, then 100 from B
    assert eq["realized_gain_long_term"] == 5000
    assert eq["realized_gain_short_term"] == 1000  # 100 × (100 − 90)
    assert "last resort" in eq["reason"]
    assert any("short-term gain of $1000.00" in m for m in prop.warnings["message"])


def test_optimiser_waits_for_the_lot_too() -> None:
    prop = _case(100, 700, 30, "optimizer")
    eq = row(prop.trades, security_id="EQ")
    assert eq["quantity"] == 100
    assert eq["realized_gain_short_term"] == 0
    assert any("lot B of EQ" in m and "held back" in m for m in prop.warnings["message"])


def test_optimiser_sells_short_term_only_back_to_the_band() -> None:
    # after lot A equity is at 70%; B is sold only down to the 65% band edge: 50 shares
    prop = _case(100, 700, 10, "optimizer")
    eq = row(prop.trades, security_id="EQ")
    assert eq["quantity"] == 150
    assert eq["realized_gain_long_term"] == 5000
    assert eq["realized_gain_short_term"] == 500


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(0, 100))
def test_neither_engine_sells_a_held_back_lot(case, held_pct: int) -> None:
    """Every taxable holding gets a lot 10 days from turning long-term at a gain (``held_pct`` %
    of it) and an old lot for the rest: no sale of either engine reaches into the first."""
    p, rows = case
    p = p.model_copy(update={"tax": p.tax.model_copy(update={"short_term_wait_days": 30})})
    taxable = {a.id for a in p.accounts if a.tax_status.value == "taxable"}
    soon = (SALE - dt.timedelta(days=355)).isoformat()  # long-term on SALE + 11 days
    lot_rows, free = [], {}
    for _, a, s, _, q, px in rows:
        if a in taxable and s != "CASH":
            k = q * held_pct // 100
            free[(a, s)] = q - k
            if k:
                lot_rows.append((a, s, "SOON", soon, k, D(k) * px / 2))
            if q - k:
                lot_rows.append((a, s, "OLD", "2020-01-01", q - k, D(q - k) * px / 2))
    lots_frame = lot_frame(lot_rows)
    args = frames([p], rows)
    heur = propose(TradingInputs(*args, lots_frame, SALE))
    opt = optimise(TradingInputs(*args, lots_frame, SALE))
    for prop in (heur, opt):
        for t in prop.trades.filter(pl.col("side") == "sell").iter_rows(named=True):
            if (t["account_id"], t["security_id"]) in free:
                assert t["quantity"] <= free[(t["account_id"], t["security_id"])]
    assert "SOON" not in opt.lot_sales["lot_id"].to_list()
