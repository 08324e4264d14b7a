"""Issue 12: federal and state rates per account. An IPS account may carry its own
``short_term_rate``, ``long_term_rate`` and ``state_rate``, each in place of the IPS's ``tax``
one; every per-sale estimate, the ``min_tax`` lot order and the optimiser's objective use the
account's rates.

The household (figures by hand): accounts T and S, both taxable; the IPS taxes at 37% / 23.8%
federal plus a 5% state rate (T: 42% short-term, 28.8% long-term). S is resident elsewhere:
``state_rate: 10.9%`` (S: 47.9%, 34.7%). Each account holds 400 EQ at $100 bought 2020-01-02
for $16,000 (long-term, $60 a share of gain); T also holds 200 BD at $100. $100,000 in all,
equity 80% against 60% ± 5%: sell $20,000 = 200 EQ (gain 200 × $60 = $12,000), buy 200 BD.
At T's rates that sale costs 28.8% × $12,000 = $3,456.00; at S's, 34.7% × $12,000 =
$4,164.00.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import polars as pl
import pytest

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.policy import Policy
from ballast.trading.pipeline import propose_trades
from tests.trading.test_gains_budget import _inputs

ROWS = [
    ("h", "T", "EQ", "equity", 400, 100),
    ("h", "S", "EQ", "equity", 400, 100),
    ("h", "T", "BD", "bonds", 200, 100),
]
LOTS = [("T", "EQ", "L1", "2020-01-02", 400, 16000), ("S", "EQ", "M1", "2020-01-02", 400, 16000)]


def _policy(engine: str, accounts: list[dict[str, Any]]) -> Policy:
    return Policy.model_validate(
        {
            "id": "h",
            "name": "household",
            "accounts": accounts,
            "default_band": "500bp",
            "asset_classes": {"equity": {"target": "60%"}, "bonds": {"target": "40%"}},
            "trading": {"engine": engine},
            "tax": {"lot_method": "fifo", "state_rate": "5%"},
        }
    )


T = {"id": "T", "tax_status": "taxable"}
S = {"id": "S", "tax_status": "taxable", "state_rate": "10.9%"}


def _sales(engine: str, accounts: list[dict[str, Any]]) -> list[tuple[str, D, D, D]]:
    prop, _ = propose_trades(_inputs(_policy(engine, accounts), ROWS, LOTS, txns=[]))
    sells = prop.trades.filter(pl.col("side") == "sell").sort("account_id")
    return [
        (t["account_id"], t["quantity"], t["realized_gain_long_term"], t["estimated_tax"])
        for t in sells.to_dicts()
    ]


def test_an_accounts_own_rates_replace_the_ips_ones() -> None:
    """S: 37% + 10.9% = 47.9% and 23.8% + 10.9% = 34.7%; T has none of its own (null: the
    IPS's 42% / 28.8% apply); a federal rate of its own keeps the IPS's state rate."""
    own = {"id": "U", "tax_status": "taxable", "long_term_rate": "20%"}
    frame = pf.accounts_frame([_policy("heuristic", [T, S, own])])
    got = {
        r["account_id"]: (r["account_short_term_rate"], r["account_long_term_rate"])
        for r in frame.to_dicts()
    }
    assert got == {"T": (None, None), "S": (D("0.479"), D("0.347")), "U": (D("0.42"), D("0.25"))}


def test_the_optimiser_sells_where_the_tax_is_lower() -> None:
    """Same lots, same prices: the optimiser sells the 200 EQ in T (28.8%), $3,456.00; with
    the rates the other way round (T resident elsewhere) it sells them in S, also $3,456.00."""
    assert _sales("optimizer", [T, S]) == [("T", D(200), D(12000), D("3456.00"))]
    t_elsewhere = {**T, "state_rate": "10.9%"}
    s_home = {"id": "S", "tax_status": "taxable"}
    assert _sales("optimizer", [t_elsewhere, s_home]) == [("S", D(200), D(12000), D("3456.00"))]


@pytest.mark.parametrize("engine", ["heuristic", "optimizer"])
def test_each_sale_is_estimated_at_its_accounts_rates(engine: str) -> None:
    """Whichever account an engine sells in, the sale's tax is its gain at that account's
    long-term rate: $12,000 × 34.7% = $4,164.00 in S, × 28.8% = $3,456.00 in T."""
    rate = {"T": D("0.288"), "S": D("0.347")}
    sales = _sales(engine, [S, T])
    assert sum(q for _, q, _, _ in sales) == 200
    for account, _, gain, tax in sales:
        assert tax == (gain * rate[account]).quantize(D("0.01"))
    if engine == "heuristic":  # it sells in the IPS's account order: S first
        assert sales == [("S", D(200), D(12000), D("4164.00"))]
