"""The LP optimiser: accounts and lots chosen for least tax, same frames as the heuristic."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
from hypothesis import HealthCheck, assume, given, settings

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from ballast.trading.heuristic import propose
from ballast.trading.inputs import TradingInputs
from ballast.trading.lots import LOT_SCHEMA, annotate_trades
from ballast.trading.optimizer import optimise, weights
from tests.support.frames import CANDIDATE_SCHEMA, holdings, policy, row
from tests.trading.test_proposal_properties import cases

AS_OF = dt.date(2026, 9, 30)
HOUSEHOLD = [
    {"id": "TAX", "tax_status": "taxable"},
    {"id": "IRA", "tax_status": "tax_deferred"},
]


def lot_frame(rows: list[tuple]) -> pl.DataFrame:
    """Rows of (account, security, lot, acquired ISO date, quantity, total cost)."""
    data = [(a, s, lid, dt.date.fromisoformat(d), D(q), D(c)) for a, s, lid, d, q, c in rows]
    return pl.DataFrame(data, orient="row", schema=LOT_SCHEMA)


def frames(policies, rows, flows=()):
    h = holdings(policies, rows)
    alloc = allocation(h, pf.targets_frame(policies))
    cands = pl.DataFrame(schema=CANDIDATE_SCHEMA)
    planned = pl.DataFrame(
        [(p, a, D(str(x))) for p, a, x in flows],
        orient="row",
        schema={"portfolio_id": pl.String, "account_id": pl.String, "planned": pl.Decimal(38, 12)},
    )
    return (
        alloc,
        h,
        pf.settings_frame(policies),
        pf.accounts_frame(policies),
        cands,
        pf.restrictions_frame(policies),
        pf.costs_frame(policies),
        planned,
    )


def both(policies, rows, lots, flows=()):
    """(heuristic, optimiser) proposals for the same inputs."""
    alloc, h, settings, accounts, cands, restr, costs, planned = frames(policies, rows, flows)
    heur = propose(TradingInputs(alloc, h, settings, accounts, cands, restr, costs, planned))
    opt = optimise(
        TradingInputs(alloc, h, settings, accounts, cands, restr, costs, planned, lots, AS_OF)
    )
    return heur, opt


def end_cash(policies, rows, prop, flows=()) -> dict[str, D]:
    """Cash per account after flows and trades."""
    h = holdings(policies, rows)
    cash = {a.id: D(0) for p in policies for a in p.accounts}
    for r in h.filter(pl.col("security_id") == "CASH").iter_rows(named=True):
        cash[r["account_id"]] += r["market_value"]
    for _, a, x in flows:
        cash[a] += D(str(x))
    for t in prop.trades.iter_rows(named=True):
        sign = 1 if t["side"] == "sell" else -1
        cash[t["account_id"]] += sign * t["amount"] - t["estimated_cost"]
    return cash


def test_household_sells_in_the_ira_only() -> None:
    """Acceptance: taxable equity with large long-term gains, IRA with equity and bonds. The
    heuristic also sells in the IRA first; here the IRA alone can carry the whole trade, so the
    optimiser trades only there and realises no gain at all."""
    p = policy(accounts=HOUSEHOLD)
    rows = [
        ("p1", "TAX", "GEQ", "equity", 50000, 100),  # $5.0M, bought at $20
        ("p1", "IRA", "GEQ", "equity", 25000, 100),  # $2.5M
        ("p1", "IRA", "IGB", "bonds", 38000, 100),  # $3.8M
    ]
    lots = lot_frame([("TAX", "GEQ", "T1", "2015-01-05", 50000, 1_000_000)])
    heur, opt = both([p], rows, lots)
    sells = opt.trades.filter(pl.col("side") == "sell")
    assert sells["account_id"].to_list() == ["IRA"]
    assert opt.trades["account_id"].unique().to_list() == ["IRA"]
    assert sells["amount"].sum() == D("720000")
    assert opt.trades["realized_gain_long_term"].sum() == 0
    assert opt.trades["realized_gain_short_term"].sum() == 0
    assert opt.trades["estimated_tax"].sum() == 0
    assert row(opt.classes, asset_class="equity")["post_trade_weight"] == D("0.6")
    assert opt.warnings.is_empty()
    # the heuristic reaches the same allocation (it too prefers the IRA for sells)
    assert heur.trades["amount"].sum() == opt.trades["amount"].sum()


def test_household_ira_without_room_sells_taxable_high_basis_first() -> None:
    """The IRA holds too little equity: the rest comes from the taxable account's highest-cost
    lot, and the realised gain is what that lot's basis implies."""
    p = policy(accounts=HOUSEHOLD)
    rows = [
        ("p1", "TAX", "GEQ", "equity", 74000, 100),
        ("p1", "IRA", "GEQ", "equity", 1000, 100),
        ("p1", "IRA", "IGB", "bonds", 38000, 100),
    ]
    lots = lot_frame(
        [
            ("TAX", "GEQ", "LOW", "2015-01-05", 60000, 1_200_000),  # $20/sh: +$80 gain
            ("TAX", "GEQ", "HIGH", "2020-01-05", 14000, 1_316_000),  # $94/sh: +$6 gain
        ]
    )
    _, opt = both([p], rows, lots)
    sale = row(opt.trades, side="sell", account_id="TAX")
    # $720,000 in all: 1,000 shares from the IRA, 6,200 from the high-basis lot at $6 each
    assert sale["quantity"] == 6200
    assert sale["realized_gain_long_term"] == D("37200")
    assert sale["realized_gain_short_term"] == 0
    assert row(opt.trades, side="sell", account_id="IRA")["quantity"] == 1000
    lots_used = opt.lot_sales.filter(pl.col("account_id") == "TAX")["lot_id"].to_list()
    assert lots_used == ["HIGH"]
    # the bonds bought in the taxable account are paid by its own sale
    assert all(v >= 0 for v in end_cash([p], rows, opt).values())


def test_avoids_short_term_gains_and_prefers_losses() -> None:
    """Among a short-term gain, a long-term gain and a loss lot, the loss goes first, then
    the long-term gain; the short-term lot is untouched."""
    p = policy(accounts=[{"id": "TAX", "tax_status": "taxable"}])
    rows = [
        ("p1", "TAX", "GEQ", "equity", 75000, 100),
        ("p1", "TAX", "IGB", "bonds", 38000, 100),
    ]
    lots = lot_frame(
        [
            ("TAX", "GEQ", "ST", "2026-06-01", 25000, 2_000_000),  # +$20/sh short-term
            ("TAX", "GEQ", "LT", "2020-06-01", 45000, 3_600_000),  # +$20/sh long-term
            ("TAX", "GEQ", "LOSS", "2021-06-01", 5000, 550_000),  # -$10/sh long-term
        ]
    )
    _, opt = both([p], rows, lots)
    used = dict(
        opt.lot_sales.select("lot_id", pl.col("relieved").round(6)).iter_rows()  # type: ignore[arg-type]
    )
    assert set(used) == {"LOSS", "LT"}
    assert used["LOSS"] == 5000 and used["LT"] == 2200
    sale = row(opt.trades, side="sell")
    assert sale["realized_gain_long_term"] == D(2200 * 20 - 5000 * 10)
    assert sale["realized_gain_short_term"] == 0


def test_seed_case_agrees_with_heuristic() -> None:
    """Single tax-exempt account (fast path) and the same case with lots through the LP."""
    rows = [("p1", "p1-A", "GEQ", "equity", 75000, 100), ("p1", "p1-A", "IGB", "bonds", 38000, 100)]
    heur, fast = both([policy()], rows, None)
    lots = lot_frame([("p1-A", "GEQ", "L1", "2020-01-01", 75000, 1)])
    _, lp = both([policy()], rows, lots)
    for prop in (heur, fast, lp):
        sell, buy = row(prop.trades, side="sell"), row(prop.trades, side="buy")
        assert (sell["security_id"], sell["quantity"], sell["amount"]) == ("GEQ", 7200, D(720000))
        assert (buy["security_id"], buy["quantity"], buy["amount"]) == ("IGB", 7200, D(720000))
    assert lp.trades.columns == [*heur.trades.columns, *lp.trades.columns[-3:]]
    assert lp.trades["realized_gain_long_term"].sum() == 0  # tax-exempt: lots irrelevant


def test_whole_shares_cash_and_bands() -> None:
    """Odd prices, costs and three accounts: whole shares, no account below zero cash, every
    class inside its band after trading."""
    p = policy(
        accounts=[
            {"id": "T", "tax_status": "taxable"},
            {"id": "D", "tax_status": "tax_deferred"},
            {"id": "E", "tax_status": "tax_exempt"},
        ],
        asset_classes={
            "equity": {"target": "50%"},
            "bonds": {"target": "40%"},
            "real": {"target": "10%"},
        },
        trading={"cost_bp": {"equity": 5, "bonds": 3, "real": 20}},
        cash={"reserve": 1000},
    )
    rows = [
        ("p1", "T", "GEQ", "equity", 3001, 173.37),
        ("p1", "T", "CASH", "cash", 700, 1),
        ("p1", "D", "GEQ", "equity", 977, 173.37),
        ("p1", "D", "IGB", "bonds", 1203, 97.13),
        ("p1", "E", "REIT", "real", 101, 41.7),
        ("p1", "E", "IGB", "bonds", 500, 97.13),
        ("p1", "E", "CASH", "cash", 300, 1),
    ]
    lots = lot_frame(
        [
            ("T", "GEQ", "A", "2019-01-01", 2000, 100_000),
            ("T", "GEQ", "B", "2026-08-01", 1001, 170_000),
        ]
    )
    _, opt = both([p], rows, lots)
    assert not opt.trades.is_empty()
    assert all(q == q.to_integral_value() for q in opt.trades["quantity"].to_list())
    assert all(v >= 0 for v in end_cash([p], rows, opt).values())
    assert not any("outside its band" in m for m in opt.warnings["message"].to_list())
    post = opt.classes.filter(pl.col("has_target"))
    assert (post["post_trade_weight"] <= post["upper"]).all()
    assert (post["post_trade_weight"] >= post["lower"]).all()


def test_restrictions_and_withdrawal() -> None:
    """do_not_sell holds in the LP; a withdrawal from the taxable account is raised there
    (cash cannot move between accounts) from the high-basis lot."""
    p = policy(accounts=HOUSEHOLD, restrictions={"do_not_sell": ["OLD"]})
    rows = [
        ("p1", "TAX", "OLD", "equity", 10000, 100),
        ("p1", "TAX", "GEQ", "equity", 20000, 100),
        ("p1", "TAX", "IGB", "bonds", 16000, 100),
        ("p1", "IRA", "GEQ", "equity", 30000, 100),
        ("p1", "IRA", "IGB", "bonds", 24000, 100),
    ]
    lots = lot_frame(
        [
            ("TAX", "GEQ", "LOW", "2015-01-05", 10000, 100_000),
            ("TAX", "GEQ", "HIGH", "2019-01-05", 10000, 990_000),
            ("TAX", "IGB", "B1", "2019-01-05", 16000, 1_600_000),
        ]
    )
    flows = [("p1", "TAX", -100000)]
    _, opt = both([p], rows, lots, flows)
    assert "OLD" not in opt.trades["security_id"].to_list()
    tax_sells = opt.trades.filter((pl.col("side") == "sell") & (pl.col("account_id") == "TAX"))
    assert tax_sells["amount"].sum() >= 100000
    used = opt.lot_sales.filter(pl.col("account_id") == "TAX")["lot_id"].to_list()
    assert "LOW" not in used and "HIGH" in used
    assert all(v >= 0 for v in end_cash([p], rows, opt, flows).values())


def test_beats_the_heuristic_on_a_zero_gain_holding() -> None:
    """One taxable account, two equity funds: the heuristic sells the larger (FIFO, large
    gains); the optimiser sells the fund bought at today's price and realises nothing."""
    p = policy(accounts=[{"id": "TAX", "tax_status": "taxable"}])
    rows = [
        ("p1", "TAX", "GEQ", "equity", 50000, 100),
        ("p1", "TAX", "GEQ2", "equity", 25000, 100),
        ("p1", "TAX", "IGB", "bonds", 38000, 100),
    ]
    lots = lot_frame(
        [
            ("TAX", "GEQ", "OLD", "2015-01-05", 50000, 1_000_000),
            ("TAX", "GEQ2", "NEW", "2024-01-05", 25000, 2_500_000),
            ("TAX", "IGB", "B", "2024-01-05", 38000, 3_800_000),
        ]
    )
    heur, opt = both([p], rows, lots)
    accounts = pf.accounts_frame([p])
    annotated, _ = annotate_trades(heur.trades, lots, pf.settings_frame([p]), accounts, AS_OF)
    assert annotated["realized_gain_long_term"].sum() == D(7200 * 80)
    sell = row(opt.trades, side="sell")
    assert (sell["security_id"], sell["quantity"]) == ("GEQ2", 7200)
    assert opt.trades["estimated_tax"].sum() == 0
    assert row(opt.classes, asset_class="equity")["post_trade_weight"] == D("0.6")


def test_fractional_shares_when_allowed() -> None:
    """whole_shares: false keeps six decimals; the seed trade at an odd price still balances."""
    p = policy(accounts=[{"id": "TAX", "tax_status": "taxable"}], trading={"whole_shares": False})
    rows = [
        ("p1", "TAX", "GEQ", "equity", 75000, 99.7),
        ("p1", "TAX", "IGB", "bonds", 38000, 101.3),
    ]
    lots = lot_frame([("TAX", "GEQ", "L", "2020-01-01", 75000, 7_477_500)])
    _, opt = both([p], rows, lots)
    sell, buy = row(opt.trades, side="sell"), row(opt.trades, side="buy")
    assert sell["quantity"] != sell["quantity"].to_integral_value()
    assert buy["amount"] <= sell["amount"]
    assert sell["amount"] - buy["amount"] < D("0.01")
    assert abs(row(opt.classes, asset_class="equity")["post_trade_weight"] - D("0.6")) < D("1e-6")


def test_low_drift_penalty_stops_at_the_band_edge(monkeypatch) -> None:
    """With 2λ below the tax per dollar of the taxable lot (0.238 × 6% ≈ 1.4%), the optimiser
    sells only what brings equity back to its band edge (65% of $11.3M: $155,000)."""
    monkeypatch.setattr(weights, "DRIFT_PENALTY", 0.005)
    p = policy(accounts=HOUSEHOLD)
    rows = [
        ("p1", "TAX", "GEQ", "equity", 74000, 100),
        ("p1", "IRA", "GEQ", "equity", 1000, 100),
        ("p1", "IRA", "IGB", "bonds", 38000, 100),
    ]
    lots = lot_frame([("TAX", "GEQ", "HIGH", "2020-01-05", 74000, 6_956_000)])
    _, opt = both([p], rows, lots)
    sells = opt.trades.filter(pl.col("side") == "sell")
    assert sells["amount"].sum() == D("155000")
    assert row(opt.trades, side="sell", account_id="IRA")["quantity"] == 1000
    assert row(opt.classes, asset_class="equity")["post_trade_weight"] == D("0.65")
    assert opt.warnings.is_empty()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_invariants_on_generated_portfolios(case) -> None:
    """The heuristic's invariants hold for the optimiser too (lots: one old lot per taxable
    holding at half today's price): no short sale, no account below min(cash, reserve), whole
    shares, breached classes never further from target."""
    p, rows = case
    assume(any(r[4] > 0 for r in rows))
    taxable = {a.id for a in p.accounts if a.tax_status.value == "taxable"}
    lots = lot_frame(
        [
            (a, s, "L", "2020-01-01", q, D(q) * px / 2)
            for _, a, s, _, q, px in rows
            if a in taxable and s != "CASH"
        ]
    )
    alloc, *_ = frames([p], rows)
    _, prop = both([p], rows, lots)
    t = prop.trades
    held = {(r[1], r[2]): D(r[4]) for r in rows}
    for s in t.filter(pl.col("side") == "sell").iter_rows(named=True):
        assert s["quantity"] <= held[(s["account_id"], s["security_id"])]
    start = {r[1]: D(r[4]) for r in rows if r[2] == "CASH"}
    for acct, end in end_cash([p], rows, prop).items():
        assert end >= min(start[acct], p.cash.reserve) - D("0.000001")
    if p.trading.whole_shares:
        assert all(q == q.to_integral_value() for q in t["quantity"])
    assert (t["quantity"] > 0).all()
    total = alloc["total_value"][0]
    slack = sum(t["estimated_cost"], D(0)) / total + D("0.000001")
    post = prop.classes.join(
        alloc.select("asset_class", "breached", "target", "weight"), on="asset_class", suffix="_pre"
    )
    for r in post.filter(pl.col("breached") & pl.col("post_trade_weight").is_not_null()).iter_rows(
        named=True
    ):
        assert abs(r["post_trade_weight"] - r["target"]) <= abs(r["weight"] - r["target"]) + slack


def test_whole_shares_are_chosen_by_branch_and_bound() -> None:
    """Equity 61.48% against 60% ± 1%: sell $1,480. The cheapest dollars to sell are in E1
    (no gain), but E1 costs $5,000 a share and one share would overshoot the mirror (max sale
    $2,960), so rounding a continuous solution would sell nothing and leave the breach. With
    whole shares in the programme: 74 E2 at $20 (gain $10 each, long-term), 148 B bought."""
    p = policy("h", accounts=[{"id": "T", "tax_status": "taxable"}], default_band="100bp")
    rows = [
        ("h", "T", "E1", "equity", 2, 5000),
        ("h", "T", "E2", "equity", 2574, 20),
        ("h", "T", "B", "bonds", 3852, 10),
    ]
    lots = lot_frame(
        [
            ("T", "E1", "a", "2020-01-02", 2, 10000),
            ("T", "E2", "b", "2020-01-02", 2574, 25740),
            ("T", "B", "c", "2020-01-02", 3852, 38520),
        ]
    )
    _, opt = both([p], rows, lots)
    assert sorted(opt.trades.select("side", "security_id", "quantity").rows()) == [
        ("buy", "B", 148),
        ("sell", "E2", 74),
    ]
    assert row(opt.trades, security_id="E2")["realized_gain_long_term"] == 740
    assert row(opt.classes, asset_class="equity")["post_trade_value"] == 60000
    assert not any("outside its band" in m for m in opt.warnings["message"])


def test_minimum_trade_is_inside_the_programme() -> None:
    """Sell $20,000 of equity (80% → 60%) with a $5,000 minimum trade. The IRA's $3,000 of
    equity would be the cheapest to sell (no tax), but a $3,000 sale is below the minimum: the
    whole $20,000 is sold in the taxable account (200 EQ, 200 × $50 long-term gain) and bought
    there, instead of $17,000 sold and a small IRA trade dropped afterwards."""
    p = policy(
        "h",
        accounts=[{"id": "T", "tax_status": "taxable"}, {"id": "I", "tax_status": "tax_deferred"}],
        trading={"min_trade": 5000},
    )
    rows = [
        ("h", "T", "EQ", "equity", 770, 100),
        ("h", "T", "BD", "bonds", 200, 100),
        ("h", "I", "EQ", "equity", 30, 100),
    ]
    lots = lot_frame(
        [("T", "EQ", "a", "2020-01-02", 770, 38500), ("T", "BD", "b", "2020-01-02", 200, 20000)]
    )
    _, opt = both([p], rows, lots)
    assert sorted(opt.trades.select("side", "account_id", "security_id", "quantity").rows()) == [
        ("buy", "T", "BD", 200),
        ("sell", "T", "EQ", 200),
    ]
    assert row(opt.trades, side="sell")["realized_gain_long_term"] == 10000
    assert not any("below the minimum" in m for m in opt.warnings["message"])
