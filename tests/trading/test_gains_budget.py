"""Issue 12, gains budget and rates (``ballast.trading.gains_budget``), both engines.

Every figure is worked by hand. Rates: the IPS defaults, 37% short-term and 23.8% long-term
federal, plus ``state_rate`` where the IPS sets one. The review date is 2026-09-30.

The household case (``_household``): one taxable account T, 60/40 equity/bonds, band 500 bp.
EQ 800 shares and BD 200 shares, both at $100: $100,000, equity at 80% (a breach). Back to
target: sell 200 EQ ($20,000), buy 200 BD. EQ's lots, both long-term:

- L1, bought 2020-01-02: 400 shares for $16,000 ($40 a share, gain $60 a share);
- L2, bought 2021-06-01: 400 shares for $36,000 ($90 a share, gain $10 a share).

Earlier this year the household sold 100 X for $6,000 that it had bought on 2025-01-10 for
$5,000: $1,000 of long-term gain (sold 2026-03-02, after the anniversary), year to date.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from decimal import Decimal as D
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from ballast.portfolio.policy import Policy
from ballast.reporting import results
from ballast.reporting.html import render_portfolio_report
from ballast.trading import gains_budget as gb
from ballast.trading import lots, wash_sales
from ballast.trading.inputs import TradingInputs
from ballast.trading.pipeline import propose_trades
from tests.reporting.test_report import seed_context
from tests.support.frames import CANDIDATE_SCHEMA, TX_SCHEMA, holdings

AS_OF = dt.date(2026, 9, 30)


def _policy(engine: str, **tax: Any) -> Policy:
    return Policy.model_validate(
        {
            "id": "h",
            "name": "household",
            "accounts": [{"id": "T", "tax_status": "taxable"}],
            "default_band": "500bp",
            "asset_classes": {"equity": {"target": "60%"}, "bonds": {"target": "40%"}},
            "trading": {"engine": engine},
            "tax": {"lot_method": "fifo", **tax},
        }
    )


def _tx(rows: list[tuple]) -> pl.DataFrame:
    """(id, date, account, security, type, quantity, amount)."""
    return pl.DataFrame(
        [(*r[:5], D(r[5]), D(r[6]), "USD") for r in rows], orient="row", schema=TX_SCHEMA
    )


YTD_SALE = [
    ("B1", dt.date(2025, 1, 10), "T", "X", "BUY", 100, -5000),
    ("S1", dt.date(2026, 3, 2), "T", "X", "SELL", -100, 6000),
]


def _lots(rows: list[tuple]) -> pl.DataFrame:
    """(account, security, lot, acquired, quantity, cost)."""
    return pl.DataFrame(
        [(a, s, i, dt.date.fromisoformat(d), D(q), D(c)) for a, s, i, d, q, c in rows],
        orient="row",
        schema=lots.LOT_SCHEMA,
    )


HOUSEHOLD_LOTS = [
    ("T", "EQ", "L1", "2020-01-02", 400, 16000),
    ("T", "EQ", "L2", "2021-06-01", 400, 36000),
]


def _inputs(
    p: Policy,
    rows: list[tuple],
    lot_rows: list[tuple],
    txns: list[tuple] = YTD_SALE,
) -> TradingInputs:
    pols = [p]
    h = holdings(pols, rows)
    budgets = gb.budget_settings(pols)
    return TradingInputs(
        allocation(h, pf.targets_frame(pols)),
        h,
        gb.with_state_rates(pf.settings_frame(pols), budgets),
        pf.accounts_frame(pols),
        pl.DataFrame([("USD", "BD", "bonds", D(100))], orient="row", schema=CANDIDATE_SCHEMA),
        pf.restrictions_frame(pols),
        pf.costs_frame(pols),
        None,
        _lots(lot_rows),
        AS_OF,
        _tx(txns),
        pl.DataFrame(
            {"security_id": ["EQ", "EQ2", "BD", "X"], "identical_group": [None] * 4},
            schema={"security_id": pl.String, "identical_group": pl.String},
        ),
        wash_sales.wash_settings(pols),
        tax_budgets=budgets,
    )


def _household(engine: str, **tax: Any) -> TradingInputs:
    rows = [("h", "T", "EQ", "equity", 800, 100), ("h", "T", "BD", "bonds", 200, 100)]
    return _inputs(_policy(engine, **tax), rows, HOUSEHOLD_LOTS)


def _trades(prop: Any) -> dict[tuple[str, str], D]:
    return {(t["security_id"], t["side"]): t["quantity"] for t in prop.trades.to_dicts()}


def _budget(prop: Any) -> dict[str, Any]:
    assert prop.tax_budget is not None and prop.tax_budget.height == 1
    return prop.tax_budget.row(0, named=True)


def _messages(warnings: pl.DataFrame) -> list[str]:
    return warnings["message"].to_list()


ENGINES = ["heuristic", "optimizer"]


# --- the IPS fields ---------------------------------------------------------------------------


def test_ips_fields_and_defaults() -> None:
    """``max_net_gain`` and ``loss_carryforward`` are money, ``state_rate`` a percentage;
    none set: no budget row (nothing in results.json or the report)."""
    p = _policy("heuristic", max_net_gain="$20,000", state_rate="5%", loss_carryforward=12000)
    assert (p.tax.max_net_gain, p.tax.state_rate, p.tax.loss_carryforward) == (
        D(20000),
        D("0.05"),
        D(12000),
    )
    assert gb.budget_settings([_policy("heuristic")]).is_empty()
    rates = gb.with_state_rates(pf.settings_frame([p]), gb.budget_settings([p]))
    assert rates.select("short_term_rate", "long_term_rate").row(0) == (D("0.42"), D("0.288"))


# --- year to date from the transactions -------------------------------------------------------


def test_year_to_date_first_in_first_out() -> None:
    """X: bought 100 on 2025-01-10 for $5,000 and 50 on 2026-02-01 for $3,000 ($60 a share);
    sold 2025-06-02 40 shares (last year: not counted, but it uses up the first 40 bought),
    sold 2026-03-02 100 for $7,000 ($70): 60 shares of the 2025 purchase ($50) long-term,
    60 × $20 = $1,200; 40 of the 2026 purchase ($60) short-term, 40 × $10 = $400."""
    txns = _tx(
        [
            ("B1", dt.date(2025, 1, 10), "T", "X", "BUY", 100, -5000),
            ("S0", dt.date(2025, 6, 2), "T", "X", "SELL", -40, 2400),
            ("B2", dt.date(2026, 2, 1), "T", "X", "BUY", 50, -3000),
            ("S1", dt.date(2026, 3, 2), "T", "X", "SELL", -100, 7000),
        ]
    )
    ytd, warnings = gb.ytd_realised(txns, pf.accounts_frame([_policy("heuristic")]), AS_OF)
    row = ytd.row(0, named=True)
    assert (row["ytd_short_term"], row["ytd_long_term"]) == (400, 1200)
    assert row["ytd_unknown_cost_sales"] == 0 and warnings.is_empty()


def test_year_to_date_sale_without_its_purchase_counts_at_zero_cost() -> None:
    """A sale of 30 Y for $900 with no purchase in the transactions: $900 of short-term gain
    (the worst case) and a warning naming the sale; sales in an IRA never count."""
    p = Policy.model_validate(
        {
            "id": "h",
            "name": "h",
            "accounts": [
                {"id": "T", "tax_status": "taxable"},
                {"id": "IRA", "tax_status": "tax_deferred"},
            ],
            "asset_classes": {"equity": {"target": "100%"}},
        }
    )
    txns = _tx(
        [
            ("S9", dt.date(2026, 5, 5), "T", "Y", "SELL", -30, 900),
            ("S8", dt.date(2026, 5, 5), "IRA", "Y", "SELL", -30, 900),
        ]
    )
    ytd, warnings = gb.ytd_realised(txns, pf.accounts_frame([p]), AS_OF)
    row = ytd.row(0, named=True)
    assert (row["ytd_short_term"], row["ytd_long_term"], row["ytd_unknown_cost_sales"]) == (
        900,
        0,
        1,
    )
    assert (
        "sale S9 of Y in account T on 2026-05-05: 30 shares counted at zero cost"
        in (_messages(warnings)[0])
    )


# --- the estimate: netting, the $3,000 limit and the carry-forward ----------------------------


def _estimate(st: int, lt: int, cf: int = 0, state: str = "0") -> dict[str, D]:
    frame = pl.DataFrame(
        {"st": [D(st)], "lt": [D(lt)], "cf": [D(cf)]},
        schema={"st": gb.GAIN, "lt": gb.GAIN, "cf": gb.MONEY},
    )
    exprs = gb.estimate(
        pl.col("st"),
        pl.col("lt"),
        pl.col("cf"),
        pl.lit(D("0.37") + D(state)).cast(gb.FRACTION),
        pl.lit(D("0.238") + D(state)).cast(gb.FRACTION),
    )
    return frame.select(**exprs).row(0, named=True)


def test_net_loss_deducts_three_thousand_and_carries_the_rest() -> None:
    """IRS Publication 550, "Capital Losses": a net capital loss of $5,000 — $3,000 deducted
    from ordinary income (26 U.S.C. 1211(b)), $2,000 carried forward (1212(b)); the deduction
    saves 37% × $3,000 = $1,110."""
    e = _estimate(-5000, 0)
    assert (e["loss_deducted"], e["loss_carried_forward"]) == (3000, 2000)
    assert e["estimated_tax"] == D(-1110)
    assert (e["taxable_short_term"], e["taxable_long_term"]) == (0, 0)


def test_publication_550_seven_thousand_loss() -> None:
    """Publication 550's couple with a $7,000 capital loss and no other capital transactions:
    $3,000 deducted, $4,000 carried over; a $2,000 loss is deducted whole, nothing carried."""
    e = _estimate(0, -7000)
    assert (e["loss_deducted"], e["loss_carried_forward"]) == (3000, 4000)
    e = _estimate(-2000, 0)
    assert (e["loss_deducted"], e["loss_carried_forward"], e["estimated_tax"]) == (2000, 0, -740)


def test_short_and_long_term_are_netted_against_each_other() -> None:
    """Short-term gain $10,000, long-term loss $4,000: a net short-term gain of $6,000 at 37%
    = $2,220. Short-term loss $2,000, long-term gain $7,000: a net long-term gain of $5,000 at
    23.8% = $1,190. Both gains: each at its own rate, $10,000 × 37% + $10,000 × 23.8% =
    $6,080."""
    e = _estimate(10000, -4000)
    assert (e["taxable_short_term"], e["taxable_long_term"], e["estimated_tax"]) == (
        6000,
        0,
        2220,
    )
    e = _estimate(-2000, 7000)
    assert (e["taxable_short_term"], e["taxable_long_term"], e["estimated_tax"]) == (
        0,
        5000,
        1190,
    )
    assert _estimate(10000, 10000)["estimated_tax"] == 6080


def test_carry_forward_is_applied_first() -> None:
    """$12,000 carried in, $5,000 long-term gain this year: $5,000 of the carry-forward
    offsets it, the $7,000 left is a net loss: $3,000 deducted (saving $1,110), $4,000 carried
    to next year. $4,000 carried in against $10,000 short-term and $3,000 long-term: counted as
    a long-term loss, it takes the long-term gain first, then $1,000 of the short-term: $9,000
    at 37% = $3,330."""
    e = _estimate(0, 5000, cf=12000)
    assert (e["carryforward_applied"], e["loss_deducted"], e["loss_carried_forward"]) == (
        5000,
        3000,
        4000,
    )
    assert e["estimated_tax"] == -1110
    e = _estimate(10000, 3000, cf=4000)
    assert (e["carryforward_applied"], e["taxable_short_term"], e["estimated_tax"]) == (
        4000,
        9000,
        3330,
    )


def test_state_rate_is_added_to_both_rates() -> None:
    """State 5%: $10,000 short-term at 42% = $4,200, $10,000 long-term at 28.8% = $2,880;
    a $5,000 net loss saves 42% × $3,000 = $1,260."""
    assert _estimate(10000, 0, state="0.05")["estimated_tax"] == 4200
    assert _estimate(0, 10000, state="0.05")["estimated_tax"] == 2880
    assert _estimate(-5000, 0, state="0.05")["estimated_tax"] == -1260


# --- the proposal respects the budget, both engines --------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_no_budget_sells_to_target(engine: str) -> None:
    """Without a budget: 200 EQ sold, 200 BD bought. The heuristic relieves fifo: L1,
    200 × $60 = $12,000 long-term; the optimiser chooses L2, 200 × $10 = $2,000. A state rate
    alone gives the estimate (no budget): year $1,000 + proposal, at 23.8% + 5%."""
    prop, _ = propose_trades(_household(engine, state_rate="5%"))
    assert _trades(prop) == {("EQ", "sell"): 200, ("BD", "buy"): 200}
    b = _budget(prop)
    gain = 12000 if engine == "heuristic" else 2000
    assert (b["ytd_long_term"], b["proposed_long_term"], b["max_net_gain"]) == (1000, gain, None)
    assert b["estimated_tax"] == (1000 + gain) * D("0.288")
    assert b["estimated_tax_proposal"] == gain * D("0.288")
    assert b["remaining"] is None and b["used"] is None


@pytest.mark.parametrize("engine", ENGINES)
def test_budget_that_fits_changes_the_lots_not_the_trades(engine: str) -> None:
    """max_net_gain $5,000, $1,000 realised: $4,000 left. fifo (L1) would realise $12,000, so
    the heuristic relieves least gain first (L2): $2,000; the optimiser chose L2 anyway. Used
    $3,000 of $5,000 (60%), $2,000 remaining, the whole rebalance made."""
    prop, warnings = propose_trades(_household(engine, max_net_gain=5000))
    assert _trades(prop) == {("EQ", "sell"): 200, ("BD", "buy"): 200}
    sold = prop.trades.filter(pl.col("side") == "sell").row(0, named=True)
    assert [lot["lot_id"] for lot in sold["lots"]] == ["L2"]
    assert sold["realized_gain_long_term"] == 2000
    b = _budget(prop)
    assert (b["ytd_net"], b["proposed_net"], b["net_realised"]) == (1000, 2000, 3000)
    assert (b["used"], b["remaining"]) == (D("0.6"), 2000)
    assert not [m for m in _messages(warnings) if "gains budget" in m]


@pytest.mark.parametrize("engine", ENGINES)
def test_binding_budget_honoured_and_drift_left(engine: str) -> None:
    """max_net_gain $2,500, $1,000 realised: $1,500 left, 150 shares of L2 ($10 gain each).
    Both engines sell 150 EQ (not 200) and buy 150 BD with the proceeds: equity 65,000 /
    100,000 = 65%, on its band's upper edge; the budget is used to the cent (100%), and a
    warning says so."""
    prop, warnings = propose_trades(_household(engine, max_net_gain=2500))
    assert _trades(prop) == {("EQ", "sell"): 150, ("BD", "buy"): 150}
    b = _budget(prop)
    assert (b["proposed_net"], b["net_realised"], b["remaining"], b["used"]) == (1500, 2500, 0, 1)
    eq = prop.classes.filter(pl.col("asset_class") == "equity").row(0, named=True)
    assert eq["post_trade_weight"] == D("0.65")
    msgs = _messages(warnings)
    assert any("all that is left of the 2026 budget" in m for m in msgs)
    if engine == "heuristic":
        assert any("is cut from 200 to 150 shares" in m for m in msgs)
        assert any("buy of BD in account T is reduced from 200 to 150" in m for m in msgs)


@pytest.mark.parametrize("engine", ENGINES)
def test_year_over_budget_realises_no_further_gain(engine: str) -> None:
    """max_net_gain $800 with $1,000 already realised: nothing may be sold at a gain. EQ has
    only gain lots, so nothing is sold and equity stays at 80% (outside its band: warned)."""
    prop, warnings = propose_trades(_household(engine, max_net_gain=800))
    assert prop.trades.filter(pl.col("side") == "sell").is_empty()
    b = _budget(prop)
    assert (b["proposed_net"], b["remaining"]) == (0, -200)
    msgs = _messages(warnings)
    assert any("$1000.00 already realised in 2026 reaches max_net_gain $800.00" in m for m in msgs)
    assert any("outside its band" in m or "still be outside" in m for m in msgs)


@pytest.mark.parametrize("engine", ENGINES)
def test_loss_lots_are_sold_before_gain_lots(engine: str) -> None:
    """L2 now cost $110 a share (a $10 loss each): with max_net_gain $1,000 (all used by the
    year), the 200 shares come from L2 at a loss of $2,000, whatever the IPS order (fifo: L1).
    The loss is netted with the year's $1,000 long-term gain: net −$1,000, deducted whole
    (under $3,000): the year's estimate is −$1,000 × 37% = −$370."""
    lot_rows = [HOUSEHOLD_LOTS[0], ("T", "EQ", "L2", "2021-06-01", 400, 44000)]
    rows = [("h", "T", "EQ", "equity", 800, 100), ("h", "T", "BD", "bonds", 200, 100)]
    prop, _ = propose_trades(_inputs(_policy(engine, max_net_gain=1000), rows, lot_rows))
    assert _trades(prop) == {("EQ", "sell"): 200, ("BD", "buy"): 200}
    b = _budget(prop)
    assert (b["proposed_long_term"], b["net_realised"]) == (-2000, -1000)
    assert (b["loss_deducted"], b["loss_carried_forward"]) == (1000, 0)
    assert b["estimated_tax"] == -370
    assert b["estimated_tax_ytd"] == D("238.000")


def test_optimiser_sells_another_holding_the_heuristic_cuts() -> None:
    """Equity in two holdings: EQ 600 shares (lot L1 only, $60 a share of gain) and EQ2 200
    shares at $100 bought for $100 (no gain). max_net_gain $1,000, all used by the year. The
    heuristic sells the largest holding first (EQ: 200 shares) and must cut it all: equity
    stays at 80%. The optimiser sells the 200 EQ2 shares instead: no gain, back to 60%. The
    optimiser's choice is optimal; the heuristic's is not (documented)."""
    rows = [
        ("h", "T", "EQ", "equity", 600, 100),
        ("h", "T", "EQ2", "equity", 200, 100),
        ("h", "T", "BD", "bonds", 200, 100),
    ]
    lot_rows = [
        ("T", "EQ", "L1", "2020-01-02", 600, 24000),
        ("T", "EQ2", "L9", "2024-01-02", 200, 20000),
    ]
    heur, _ = propose_trades(_inputs(_policy("heuristic", max_net_gain=1000), rows, lot_rows))
    opt, _ = propose_trades(_inputs(_policy("optimizer", max_net_gain=1000), rows, lot_rows))
    assert heur.trades.filter(pl.col("side") == "sell").is_empty()
    assert _trades(opt) == {("EQ2", "sell"): 200, ("BD", "buy"): 200}
    assert _budget(opt)["proposed_net"] == 0


# --- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_same_inputs_same_proposal(engine: str) -> None:
    """The same inputs twice: the same trades (lots included), warnings and budget, value for
    value, with a binding budget, a state rate and a carry-forward."""
    inputs = _household(engine, max_net_gain=2500, state_rate="4.5%", loss_carryforward=700)
    a, wa = propose_trades(inputs)
    b, wb = propose_trades(replace(inputs))
    assert a.trades.equals(b.trades) and wa.equals(wb)
    assert a.tax_budget is not None and b.tax_budget is not None
    assert a.tax_budget.equals(b.tax_budget)


# --- results.json and the report ---------------------------------------------------------------


def _entry(engine: str, **tax: Any) -> dict[str, Any] | None:
    prop, _ = propose_trades(_household(engine, **tax))
    return results.tax_budget_rows(SimpleNamespace(proposal=prop))["h"]  # type: ignore[arg-type]


def test_results_entry_is_text_to_the_cent() -> None:
    """The binding case as results.json gives it: money to cents, rates to six decimals."""
    e = _entry("heuristic", max_net_gain=2500, state_rate="5%")
    assert e is not None
    assert {k: e[k] for k in ("year", "max_net_gain", "ytd_net", "proposed_net")} == {
        "year": 2026,
        "max_net_gain": "2500.00",
        "ytd_net": "1000.00",
        "proposed_net": "1500.00",
    }
    assert (e["used_pct"], e["remaining"], e["long_term_rate"]) == ("100.00", "0.00", "0.288000")
    # $2,500 long-term at 28.8% = $720; of which the proposal's $1,500: $432
    assert (e["estimated_tax"], e["estimated_tax_proposal"]) == ("720.00", "432.00")
    assert tuple(e) == results.TAX_BUDGET_KEYS


def test_report_shows_the_budget_only_when_set() -> None:
    ctx = seed_context()
    plain = render_portfolio_report(copy.deepcopy(ctx))
    assert "tax-budget" not in plain
    ctx["portfolio"]["tax_budget"] = _entry("heuristic", max_net_gain=2500, loss_carryforward=500)
    page = render_portfolio_report(ctx)
    assert "Gains budget and tax estimate, 2026" in page
    assert "USD 2,500.00" in page and '(<span class="num">100.00%</span>)' in page
    assert "Loss carry-forward from prior years" in page
