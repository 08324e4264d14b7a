"""Wash sales in a whole review: the heuristic's blocked sale leaves the class where it was (and
the report says it is still outside its band); the optimiser sells other lots instead.

One taxable account T on 2026-09-30, wash_sale: block, lot_method: min_tax:
- X (equity) at $10: lot L1 500 shares bought 2025-01-02 for $6,000 (a $2/share loss), lot L2 500
  shares bought 2020-01-02 for $4,000 ($2/share gain), lot L3 10 shares bought 2026-09-20 for $100
  (the purchase that washes any loss on X until 2026-10-20);
- B (bonds) at $10: 500 shares, lot LB.
Total $15,100; equity 10,100 / 15,100 = 66.89% against 60% ± 5%: sell to 9,060, i.e. 104 X.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from ballast import review
from ballast.workspace import Workspace
from tests.support.frames import row
from tests.support.workspaces import POSITIONS_HEADER, review_files

AS_OF = dt.date(2026, 9, 30)


def _review(ws: Workspace, engine: str) -> review.Computed:
    return review_files(
        ws,
        {"X": "equity", "B": "bonds"},
        {
            "h": 'id: h\nname: h\naccounts: [{id: "T", tax_status: taxable}]\n'
            "asset_classes: {equity: {target: 60%}, bonds: {target: 40%}}\n"
            "tax: {lot_method: min_tax, wash_sale: block}\n"
            f"trading: {{engine: {engine}}}\n"
        },
        {
            "positions.csv": POSITIONS_HEADER
            + "2026-09-30,T,X,1010,10,10100.00,USD\n2026-09-30,T,B,500,10,5000.00,USD\n",
            "lots.csv": "as_of_date,account_id,security_id,lot_id,acquired_date,quantity,"
            "cost_basis\n"
            "2026-09-30,T,X,L1,2025-01-02,500,6000.00\n"
            "2026-09-30,T,X,L2,2020-01-02,500,4000.00\n"
            "2026-09-30,T,X,L3,2026-09-20,10,100.00\n"
            "2026-09-30,T,B,LB,2020-01-02,500,5000.00\n",
            "transactions.csv": "transaction_id,trade_date,account_id,security_id,type,"
            "quantity,amount,currency\nt1,2026-09-20,T,X,BUY,10,-100.00,USD\n",
        },
        AS_OF,
    )


@pytest.mark.parametrize("engine", ["heuristic"])
def test_blocked_sale_is_not_counted_after_the_trades(empty_ws: Workspace, engine: str) -> None:
    c = _review(empty_ws, engine)
    assert c.errors.is_empty(), c.errors
    assert c.proposal.trades.is_empty()  # min_tax picks loss lot L1: washed, so dropped
    equity = row(c.proposal.classes, asset_class="equity")
    assert equity["post_trade_value"] == 10100  # not the 9,060 the dropped sale aimed at
    messages = list(c.warnings["message"])
    assert any("could not be brought back without a wash sale" in m for m in messages)
    assert any(
        "equity would still be outside its band after the trades (66.89%" in m for m in messages
    )


def test_optimiser_sells_lots_that_do_not_wash(empty_ws: Workspace) -> None:
    c = _review(empty_ws, "optimizer")
    assert c.errors.is_empty(), c.errors
    x = row(c.proposal.trades, security_id="X")
    # L1 (a loss the purchase would wash) is left alone: 10 of L3 (no gain), 94 of L2 ($2 each)
    assert x["side"] == "sell" and x["quantity"] == 104
    assert x["realized_gain_long_term"] == D(188)
    assert x["realized_gain_short_term"] == 0
    assert x["wash_sale_disallowed"] == 0
    assert not any("wash sale" in m for m in c.warnings["message"])
    assert row(c.proposal.classes, asset_class="equity")["post_trade_value"] == 9060
