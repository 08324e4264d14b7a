"""Issue 12, defects 1 and 3: the tax estimate nets out the disallowed loss, and the proposal's
buys are checked against loss sales of the last 30 days. Every figure is worked by hand from
§ 1091 / IRS Publication 550 / Rev. Rul. 2008-5 and the IPS rates (37% short, 23.8% long).

The review date is 2026-09-30; account T is taxable, IRA tax-deferred, both in household h.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl

from ballast.portfolio import policy_frames as pf
from ballast.trading import lots, tax_detail
from ballast.trading import wash_sales as ws
from tests.trading.test_wash_sales import (
    AS_OF,
    SECURITIES,
    _full_check,
    _policy,
    _trades,
)
from tests.trading.test_wash_sales import _transactions as _transactions_frame


def _lot(bought: str, quantity: int, cost: int) -> pl.DataFrame:
    """Account T's one lot of X (lot L1)."""
    return pl.DataFrame(
        [("T", "X", "L1", dt.date.fromisoformat(bought), D(quantity), D(cost))],
        orient="row",
        schema=lots.LOT_SCHEMA,
    )


def _estimate(mode: str, trades: pl.DataFrame, lot_frame: pl.DataFrame, txns: list[tuple]):
    """The pipeline's path after the engine: wash-sale check, then gains and tax again."""
    p = _policy(mode)
    check = _full_check(p, trades, lot_frame, txns)
    out = tax_detail.finish(
        check.trades, check.relieved, check.matches, pf.settings_frame([p]), pf.accounts_frame([p])
    )
    return out, check.findings


def _replacements(out: pl.DataFrame, i: int = 0) -> list[dict]:
    return out["wash_sale_replacements"][i].to_list()


def test_wholly_disallowed_loss_saves_no_tax() -> None:
    """Pub. 550: 100 X bought 2026-01-05 for $1,000 (lot L1), sold for $7.50 = $750: a $250
    short-term loss (held 268 days). 100 X bought back on 2026-09-20 for $800 (10 days before):
    all 100 shares matched, $250 disallowed (warn keeps the sale).
    - tax: 37% × (−$250 + $250 disallowed) = $0 (before the fix: 37% × −$250 = −$92.50);
    - the replacement: basis $800 + $250 = $1,050, holding period from 2026-09-20 − 268 days
      = 2025-12-26."""
    trades = _trades([("T", "X", "equity", "sell", 100, "7.5")])
    out, findings = _estimate(
        "warn", trades, _lot("2026-01-05", 100, 1000), [("T", "X", "BUY", 10, 100, -800)]
    )
    sale = out.row(0, named=True)
    assert sale["realized_gain_short_term"] == -250 and sale["wash_sale_disallowed"] == 250
    assert sale["estimated_tax"] == 0
    (repl,) = _replacements(out)
    assert (repl["quantity"], repl["adjusted_basis"], repl["basis_adjustment"]) == (100, 1050, 250)
    assert repl["adjusted_acquired_date"] == dt.date(2025, 12, 26)
    assert repl["source"] == "buy" and repl["sold_lot_id"] == "L1"
    (lot,) = sale["lots"]
    assert lot == {
        "lot_id": "L1",
        "acquired_date": dt.date(2026, 1, 5),
        "quantity": 100,
        "cost_basis": 1000,
        "term": "short",
        "gain": -250,
        "wash_sale_disallowed": 250,
    }
    assert findings.height == 1


def test_forty_percent_disallowed() -> None:
    """100 X bought 2024-01-02 for $10,000, sold at $50 = $5,000: a $5,000 long-term loss. 40 X
    reinvested in T 10 days ago for $2,000: 40 of 100 shares matched, 40% = $2,000 disallowed.
    - tax: 23.8% × (−$5,000 + $2,000) = −$714 (before: 23.8% × −$5,000 = −$1,190);
    - the 40 new shares: basis $2,000 + $2,000 = $4,000, holding period from 2026-09-20 − 1,002
      days (2024-01-02 to 2026-09-30) = 2023-12-23."""
    trades = _trades([("T", "X", "equity", "sell", 100, 50)])
    out, _ = _estimate(
        "warn", trades, _lot("2024-01-02", 100, 10000), [("T", "X", "REINVEST", 10, 40, -2000)]
    )
    sale = out.row(0, named=True)
    assert sale["realized_gain_long_term"] == -5000 and sale["wash_sale_disallowed"] == 2000
    assert sale["estimated_tax"] == D("-714")
    (repl,) = _replacements(out)
    assert (repl["quantity"], repl["disallowed"], repl["adjusted_basis"]) == (40, 2000, 4000)
    assert repl["adjusted_acquired_date"] == dt.date(2023, 12, 23)


def test_ira_replacement_disallows_with_no_basis_to_carry() -> None:
    """The same $5,000 long-term loss; 60 X bought in the IRA 5 days ago for $3,000 (Rev. Rul.
    2008-5: the IRA counts, and the disallowed loss is lost for good). 60% = $3,000 disallowed.
    - tax: 23.8% × (−$5,000 + $3,000) = −$476 (before: −$1,190);
    - the IRA shares: no basis adjustment ($3,000 basis stays), no holding period carried."""
    trades = _trades([("T", "X", "equity", "sell", 100, 50)])
    out, findings = _estimate(
        "warn", trades, _lot("2024-01-02", 100, 10000), [("IRA", "X", "BUY", 5, 60, -3000)]
    )
    sale = out.row(0, named=True)
    assert sale["estimated_tax"] == D("-476") and sale["wash_sale_disallowed"] == 3000
    (repl,) = _replacements(out)
    assert (repl["lost_for_good"], repl["basis_adjustment"], repl["adjusted_basis"]) == (
        3000,
        0,
        3000,
    )
    assert repl["adjusted_acquired_date"] is None
    assert "$3000.00 of it lost for good" in findings["message"][0]


# --- defect 3: a buy after a recent loss sale ---------------------------------------------

# 100 X bought 2026-03-02 for $1,000; sold 2026-09-20 (10 days ago) for $750: a $250 loss
LOSS_SOLD_10_DAYS_AGO = [("T", "X", "BUY", 212, 100, -1000), ("T", "X", "SELL", 10, 100, 750)]


def test_buy_back_after_a_recent_loss_sale_is_flagged() -> None:
    """The proposal buys 100 X back at $8 on 2026-09-30 (warn). The sale 10 days ago (cost
    $1,000 from the BUY, first in first out; proceeds $750) lost $250; the 100 shares bought
    back within 30 days replace all 100: $250 disallowed, and the new shares' basis is
    $800 + $250 = $1,050, their holding period from 2026-09-30 − 202 days (2026-03-02 to
    2026-09-20) = 2026-03-12. Before the fix: no finding, nothing disallowed."""
    trades = _trades([("T", "X", "equity", "buy", 100, 8)])
    out, findings = _estimate("warn", trades, _lot("2024-01-02", 1, 10), LOSS_SOLD_10_DAYS_AGO)
    buy = out.row(0, named=True)
    assert buy["quantity"] == 100 and buy["wash_sale_disallowed"] == 250
    (repl,) = _replacements(out)
    assert (repl["adjusted_basis"], repl["adjusted_acquired_date"]) == (1050, dt.date(2026, 3, 12))
    assert (repl["sold_account_id"], repl["sale_date"]) == ("T", dt.date(2026, 9, 20))
    (message,) = findings["message"].to_list()
    assert "the proposed buy of 100 X in account T replaces 100 X sold in account T on " in message
    assert "2026-09-20 (a loss of $250.00)" in message
    assert "$250.00 of the loss is disallowed" in message


def test_buy_back_after_a_recent_loss_sale_is_swapped_under_block() -> None:
    """block: the buy of 50 Y (X's identical group) in the IRA, $500, becomes Z (not in the
    group) for at most the same money: floor(500 / 30) = 16 Z; nothing disallowed."""
    trades = _trades([("IRA", "Y", "equity", "buy", 50, 10)])
    out, findings = _estimate("block", trades, _lot("2024-01-02", 1, 10), LOSS_SOLD_10_DAYS_AGO)
    buy = out.row(0, named=True)
    assert (buy["security_id"], buy["quantity"], buy["wash_sale_disallowed"]) == ("Z", 16, 0)
    assert "replaced by Z" in findings["message"][0]


def test_buy_back_is_dropped_under_block_without_substitute() -> None:
    """block, and Z is on the IPS's do_not_buy list: no substitute, so the buy of X is not made
    (the $250 loss realised 10 days ago stays allowed)."""
    trades = _trades([("T", "X", "equity", "buy", 100, 8)])
    p = _policy("block").model_copy(
        update={
            "restrictions": _policy("block").restrictions.model_copy(update={"do_not_buy": ["Z"]})
        }
    )
    check = _full_check(p, trades, _lot("2024-01-02", 1, 10), LOSS_SOLD_10_DAYS_AGO)
    assert check.trades.is_empty()
    (message,) = check.findings["message"].to_list()
    assert "the proposed buy of 100 X in account T was dropped" in message


def test_gain_sale_or_old_loss_sale_is_not_a_wash() -> None:
    """Sold 10 days ago for $1,200 against a $1,000 cost: a gain, no wash sale. A loss sale 31
    days ago is outside the window."""
    gain = [("T", "X", "BUY", 212, 100, -1000), ("T", "X", "SELL", 10, 100, 1200)]
    old = [("T", "X", "BUY", 212, 100, -1000), ("T", "X", "SELL", 31, 100, 750)]
    trades = _trades([("T", "X", "equity", "buy", 100, 8)])
    for txns in (gain, old):
        out, findings = _estimate("warn", trades, _lot("2024-01-02", 1, 10), txns)
        assert out["wash_sale_disallowed"].to_list() == [0] and findings.is_empty()


def test_sale_of_unknown_cost_is_treated_as_a_loss() -> None:
    """A SELL 10 days ago with no BUY in the transactions: its cost is unknown, so the buy back
    is flagged (warn) with the amount unknown."""
    trades = _trades([("T", "X", "equity", "buy", 100, 8)])
    out, findings = _estimate(
        "warn", trades, _lot("2024-01-02", 1, 10), [("T", "X", "SELL", 10, 100, 750)]
    )
    assert "a loss the transactions cannot price" in findings["message"][0]
    assert "amount unknown" in findings["message"][0]
    assert out["quantity"].to_list() == [100]  # warn keeps the buy
    sold = ws.recent_loss_sales(
        _transactions_frame([("T", "X", "SELL", 10, 100, 750)]),
        pf.accounts_frame([_policy("warn")]),
        SECURITIES.select("security_id", "identical_group"),
        AS_OF,
    )
    assert sold.select("cost_known", "loss").rows() == [(False, None)]
