"""Trade proposals: destinations, cash first, accounts, whole shares and constraints."""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl

from tests.support.frames import policy, row, run

SEED_ROWS = [
    ("p1", "p1-A", "GEQ", "equity", 75000, 100),
    ("p1", "p1-A", "IGB", "bonds", 38000, 100),
]


def trade(prop, **match):
    return row(prop.trades, **match)


def test_seed_back_to_target() -> None:
    """Seed case: sell $720,000 equities, buy $720,000 bonds, 60/40 afterwards."""
    _, prop = run([policy()], SEED_ROWS)
    sell, buy = trade(prop, side="sell"), trade(prop, side="buy")
    assert (sell["security_id"], sell["quantity"], sell["amount"]) == ("GEQ", 7200, D("720000"))
    assert (buy["security_id"], buy["quantity"], buy["amount"]) == ("IGB", 7200, D("720000"))
    assert row(prop.classes, asset_class="equity")["post_trade_weight"] == D("0.6")


def test_band_edge() -> None:
    """To the band edge: equities to 65% of $11.3M = $7,345,000, so sell $155,000."""
    _, prop = run([policy(rebalance_to="band_edge")], SEED_ROWS)
    assert trade(prop, side="sell")["amount"] == D("155000")
    assert trade(prop, side="buy")["amount"] == D("155000")
    assert row(prop.classes, asset_class="equity")["post_trade_weight"] == D("0.65")
    assert prop.warnings.is_empty()


def test_halfway() -> None:
    """Halfway between target and edge: 62.5% of $11.3M = $7,062,500, so sell $437,500."""
    _, prop = run([policy(rebalance_to="halfway")], SEED_ROWS)
    assert trade(prop, side="sell")["amount"] == D("437500")


def test_trade_breached_only() -> None:
    """Only the breached class is sold; its proceeds fill the others' gaps to target."""
    p = policy(
        trade_classes="breached",
        asset_classes={"a": {"target": "50%"}, "b": {"target": "30%"}, "c": {"target": "20%"}},
    )
    _, prop = run(
        [p],
        [
            ("p1", "p1-A", "A", "a", 58, 1),
            ("p1", "p1-A", "B", "b", 27, 1),
            ("p1", "p1-A", "C", "c", 15, 1),
        ],
    )
    assert trade(prop, side="sell", security_id="A")["quantity"] == 8
    assert trade(prop, side="buy", security_id="B")["quantity"] == 3
    assert trade(prop, side="buy", security_id="C")["quantity"] == 5


def test_cash_first_buys_only() -> None:
    """Idle cash fixes an underweight class with no sale at all."""
    rows = [
        ("p1", "p1-A", "E", "equity", 600000, 1),
        ("p1", "p1-A", "B", "bonds", 250000, 1),
        ("p1", "p1-A", "CASH", "cash", 150000, 1),
    ]
    _, prop = run([policy()], rows)
    assert prop.trades["side"].to_list() == ["buy"]
    assert trade(prop, side="buy")["amount"] == D("150000")


def test_cash_reserve_kept() -> None:
    """A $50,000 reserve stays; equities at target are not sold to fund bonds (domain.md: no
    class may end further from target), so bonds get the $100,000 of idle cash above it."""
    rows = [
        ("p1", "p1-A", "E", "equity", 600000, 1),
        ("p1", "p1-A", "B", "bonds", 250000, 1),
        ("p1", "p1-A", "CASH", "cash", 150000, 1),
    ]
    _, prop = run([policy(cash={"reserve": 50000})], rows)
    assert prop.trades["side"].to_list() == ["buy"]
    assert trade(prop, side="buy")["amount"] == D("100000")
    assert row(prop.classes, asset_class="cash")["post_trade_value"] == D("50000")


def test_whole_shares_never_overspend() -> None:
    """Sells round up, buys round down: the account never spends more than it has."""
    rows = [
        ("p1", "p1-A", "E", "equity", 3001, D("333.33")),
        ("p1", "p1-A", "B", "bonds", 997, D("77.77")),
    ]
    _, prop = run([policy()], rows)
    t = prop.trades
    assert all(q == q.to_integral_value() for q in t["quantity"].to_list())
    sells = t.filter(pl.col("side") == "sell")["amount"].sum()
    buys = t.filter(pl.col("side") == "buy")["amount"].sum()
    assert buys <= sells


def test_fractional_when_allowed() -> None:
    """With whole_shares off, $1,000 at $3 buys 333.333333 units (six decimals, rounded down)."""
    rows = [("p1", "p1-A", "E", "equity", 700, 10), ("p1", "p1-A", "B", "bonds", 1000, 3)]
    _, prop = run([policy(trading={"whole_shares": False})], rows)
    assert trade(prop, side="buy")["quantity"] == D("333.333333")


def test_tax_advantaged_account_sold_first() -> None:
    """Equities held in a taxable account and an IRA: the IRA is sold first."""
    p = policy(
        accounts=[
            {"id": "TAX", "tax_status": "taxable"},
            {"id": "IRA", "tax_status": "tax_deferred"},
        ]
    )
    rows = [
        ("p1", "TAX", "E", "equity", 5000, 100),
        ("p1", "IRA", "E", "equity", 2500, 100),
        ("p1", "IRA", "B", "bonds", 3800, 100),
    ]
    _, prop = run([p], rows)
    sells = prop.trades.filter(pl.col("side") == "sell")
    assert sells["account_id"].to_list() == ["IRA"]


def test_no_cash_moves_between_accounts() -> None:
    """Proceeds of a sale in one account buy only in that account."""
    p = policy(
        accounts=[{"id": "X", "tax_status": "tax_exempt"}, {"id": "Y", "tax_status": "taxable"}]
    )
    rows = [("p1", "X", "E", "equity", 7500, 100), ("p1", "Y", "B", "bonds", 3800, 100)]
    _, prop = run([p], rows)
    assert set(prop.trades["account_id"]) == {"X"}
    assert trade(prop, side="buy")["security_id"] == "B"


def test_do_not_sell_is_honoured_and_reported() -> None:
    """A restricted holding is not sold; the remaining breach is reported."""
    _, prop = run([policy(restrictions={"do_not_sell": ["GEQ"]})], SEED_ROWS)
    assert prop.trades.filter(pl.col("side") == "sell").is_empty()
    assert any("still be outside its band" in m for m in prop.warnings["message"])


def test_min_trade_drops_small_trades() -> None:
    """Trades below the minimum are dropped with a warning naming them."""
    _, prop = run([policy(trading={"min_trade": 1000000})], SEED_ROWS)
    assert prop.trades.is_empty()
    assert any("below the minimum trade" in m for m in prop.warnings["message"])


def test_vehicle_from_master_when_class_empty() -> None:
    """A class with no holdings is bought through a priced security of the master."""
    _, prop = run(
        [policy()], [("p1", "p1-A", "GEQ", "equity", 10000, 100)], candidates=[("BND", "bonds", 50)]
    )
    buy = trade(prop, side="buy")
    assert (buy["security_id"], buy["quantity"]) == ("BND", 8000)


def test_no_vehicle_is_a_warning() -> None:
    """With nothing to buy for a class, the proposal says so."""
    _, prop = run([policy()], [("p1", "p1-A", "GEQ", "equity", 10000, 100)])
    assert any("no security to buy for bonds" in m for m in prop.warnings["message"])


def test_costs_are_estimated_and_funded() -> None:
    """Costs in bp per class are estimated, and buys leave room to pay them."""
    _, prop = run([policy(trading={"cost_bp": {"equity": 10, "bonds": 10}})], SEED_ROWS)
    sell, buy = trade(prop, side="sell"), trade(prop, side="buy")
    assert sell["estimated_cost"] == D("720")
    assert buy["amount"] + buy["estimated_cost"] <= sell["amount"] - sell["estimated_cost"]


def test_portfolio_inside_bands_gets_no_trades() -> None:
    """No breach, no trade (semi-systematic: trade only when a band is breached)."""
    _, prop = run(
        [policy()], [("p1", "p1-A", "E", "equity", 630, 1), ("p1", "p1-A", "B", "bonds", 370, 1)]
    )
    assert prop.trades.is_empty()


def test_rounding_up_never_passes_the_mirror() -> None:
    """Found by hypothesis: equities 65 of 223 (29.15% vs 24%), $44 reserve. The base is 179, so
    the destination is 42.96 (sell 22.04); rounding up to 23 would leave 42 = 18.83%, further
    from 24% than 29.15% is. The sale is rounded down to 22 instead (19.28%)."""
    p = policy(
        asset_classes={
            "equity": {"target": "24%"},
            "bonds": {"target": "66%"},
            "real": {"target": "10%"},
        },
        cash={"reserve": 44},
    )
    _, prop = run(
        [p], [("p1", "p1-A", "S", "equity", 65, 1), ("p1", "p1-A", "CASH", "cash", 158, 1)]
    )
    assert trade(prop, side="sell")["quantity"] == 22
