"""Issue 12, tax-loss harvesting (``ballast.trading.harvest``), both engines.

Every figure is worked by hand. The review date is 2026-09-30; rates are the IPS defaults,
37% short-term and 23.8% long-term, plus ``state_rate`` where the IPS sets one.

The household (``_inputs``): one taxable account T, 50/50 equity/bonds, band 500 bp.
VTI 100 shares at $200 ($20,000, equity) and BND 200 at $100 ($20,000, bonds): $40,000, both
classes at 50%, so the engines trade nothing. VTI's one lot, L1, was bought 2026-03-02 (short-
term on the review date): 100 shares for $25,000 ($250 a share). Its unrealised loss is
$25,000 − 100 × $200 = $5,000, 20% of its cost: past the default thresholds ($1,000 and 5%).
The IPS replaces VTI with ITOT (equity, $100): sell 100 VTI ($20,000), buy 20,000 / 100 = 200
ITOT. Tax saved: $5,000 short-term × 37% = $1,850.
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
from ballast.trading import harvest, lots, wash_sales
from ballast.trading.inputs import TradingInputs
from ballast.trading.pipeline import propose_trades
from ballast.workspace import Workspace
from tests.reporting.test_report import seed_context
from tests.support.frames import CANDIDATE_SCHEMA, TX_SCHEMA, holdings
from tests.support.workspaces import POSITIONS_HEADER, review_files
from tests.trading.test_wash_sale_review import LOTS_HEADER

AS_OF = dt.date(2026, 9, 30)
HOLDINGS = [("h", "T", "VTI", "equity", 100, 200), ("h", "T", "BND", "bonds", 200, 100)]
LOTS = [
    ("T", "VTI", "L1", "2026-03-02", 100, 25000),
    ("T", "BND", "B1", "2020-01-02", 200, 19000),
]
DEFAULT = {"replacements": {"VTI": "ITOT"}}


def _policy(
    engine: str = "heuristic",
    harvest_: dict[str, Any] | None = None,
    trading: dict[str, Any] | None = None,
    **tax: Any,
) -> Policy:
    t: dict[str, Any] = {"lot_method": "fifo", **tax}
    if harvest_ is not None:
        t["harvest"] = harvest_
    return Policy.model_validate(
        {
            "id": "h",
            "name": "household",
            "accounts": [
                {"id": "T", "tax_status": "taxable"},
                {"id": "I", "tax_status": "tax_deferred"},
            ],
            "default_band": "500bp",
            "asset_classes": {"equity": {"target": "50%"}, "bonds": {"target": "50%"}},
            "trading": {"engine": engine, **(trading or {})},
            "tax": t,
        }
    )


def _inputs(
    p: Policy | list[Policy],
    rows: list[tuple] = HOLDINGS,
    lot_rows: list[tuple] = LOTS,
    txns: list[tuple] = (),  # type: ignore[assignment]
    groups: dict[str, str | None] | None = None,
    itot: str = "100",
) -> TradingInputs:
    pols = p if isinstance(p, list) else [p]
    h = holdings(pols, rows)
    budgets = gb.budget_settings(pols)
    group = {"VTI": None, "ITOT": None, "BND": None, "VTSAX": None, **(groups or {})}
    return TradingInputs(
        allocation(h, pf.targets_frame(pols)),
        h,
        gb.with_state_rates(pf.settings_frame(pols), budgets),
        pf.accounts_frame(pols),
        pl.DataFrame(
            [
                ("USD", "BND", "bonds", D(100)),
                ("USD", "ITOT", "equity", D(itot)),
                ("USD", "VTI", "equity", D(200)),
                ("USD", "VTSAX", "equity", D(100)),
            ],
            orient="row",
            schema=CANDIDATE_SCHEMA,
        ),
        pf.restrictions_frame(pols),
        pf.costs_frame(pols),
        None,
        pl.DataFrame(
            [(a, s, i, dt.date.fromisoformat(d), D(q), D(c)) for a, s, i, d, q, c in lot_rows],
            orient="row",
            schema=lots.LOT_SCHEMA,
        ),
        AS_OF,
        pl.DataFrame(
            [(*r[:5], D(r[5]), D(r[6]), "USD") for r in txns], orient="row", schema=TX_SCHEMA
        ),
        pl.DataFrame(
            {"security_id": list(group), "identical_group": list(group.values())},
            schema={"security_id": pl.String, "identical_group": pl.String},
        ),
        wash_sales.wash_settings(pols),
        tax_budgets=budgets,
        harvest=harvest.harvest_settings(pols),
    )


def _trades(prop: Any) -> dict[tuple[str, str], D]:
    frame = prop if isinstance(prop, pl.DataFrame) else prop.trades
    return {(t["security_id"], t["side"]): t["quantity"] for t in frame.to_dicts()}


def _summary(prop: Any) -> dict[str, Any]:
    assert prop.harvest is not None and prop.harvest.height == 1
    return prop.harvest.row(0, named=True)


def _messages(warnings: pl.DataFrame) -> list[str]:
    return [m for m in warnings["message"].to_list() if m.startswith("tax-loss harvest")]


@pytest.mark.parametrize("engine", ["heuristic", "optimizer"])
def test_harvest_sells_the_loss_lot_and_buys_the_replacement(engine: str) -> None:
    """100 VTI bought at $250, now $200: $5,000 loss ≥ $1,000 and 20% ≥ 5%: sell 100 VTI
    (lot L1), buy 20,000 / 100 = 200 ITOT; short-term at 37%: $1,850 saved. Either engine."""
    prop, _ = propose_trades(_inputs(_policy(engine, DEFAULT)))
    assert _trades(prop) == {("VTI", "sell"): D(100), ("ITOT", "buy"): D(200)}
    sell = prop.trades.filter(pl.col("side") == "sell").row(0, named=True)
    assert sell["reason"] == (
        "tax-loss harvest: sell 1 lots at a loss of $5000.00; buy ITOT instead "
        "(not substantially identical)"
    )
    assert sell["realized_gain_short_term"] == D(-5000)
    assert sell["estimated_tax"] == D(-1850)
    assert [(lot["lot_id"], lot["quantity"], lot["gain"]) for lot in sell["lots"]] == [
        ("L1", D(100), D(-5000))
    ]
    s = _summary(prop)
    assert (s["losses_harvested"], s["short_term_loss"], s["long_term_loss"]) == (
        D(5000),
        D(5000),
        D(0),
    )
    assert (s["tax_saved"], s["trades"]) == (D(1850), 2)
    # the classes stay where they were: $20,000 of equity sold and bought
    cls = {r["asset_class"]: r["post_trade_weight"] for r in prop.classes.to_dicts()}
    assert cls["equity"] == D("0.5") and cls["bonds"] == D("0.5")


def test_long_term_loss_with_state_rate() -> None:
    """L1 bought 2025-03-02 instead: long-term. 23.8% + 5% state = 28.8%: $5,000 × 0.288 =
    $1,440 saved (the rates gains_budget raises by the IPS state_rate)."""
    lot_rows = [("T", "VTI", "L1", "2025-03-02", 100, 25000), LOTS[1]]
    prop, _ = propose_trades(
        _inputs(_policy("heuristic", DEFAULT, state_rate="5%"), lot_rows=lot_rows)
    )
    s = _summary(prop)
    assert (s["long_term_loss"], s["short_term_loss"], s["tax_saved"]) == (D(5000), D(0), D(1440))


@pytest.mark.parametrize(
    ("min_loss", "min_loss_pct", "harvested"),
    [
        ("5000", "5%", True),  # loss $5,000 = min_loss: harvested (≥)
        ("5000.01", "5%", False),  # one cent short
        ("1000", "20%", True),  # 5,000 / 25,000 = 20% = min_loss_pct
        ("1000", "20.01%", False),
    ],
)
def test_thresholds(min_loss: str, min_loss_pct: str, harvested: bool) -> None:
    """Both thresholds, per lot: loss ≥ min_loss and loss ≥ min_loss_pct × cost basis."""
    h = {**DEFAULT, "min_loss": min_loss, "min_loss_pct": min_loss_pct}
    prop, warnings = propose_trades(_inputs(_policy("heuristic", h)))
    assert bool(_trades(prop)) is harvested
    assert _summary(prop)["trades"] == (2 if harvested else 0)
    assert _messages(warnings) == []  # below the thresholds: not a candidate, nothing to say


def test_only_the_loss_lots_are_sold() -> None:
    """VTI lots L1 (100 at $250: $5,000 loss) and L0 (50 at $150, bought 2020: $2,500 gain).
    Only L1 is sold (specific lot): 100 VTI, 200 ITOT; L0 stays."""
    rows = [("h", "T", "VTI", "equity", 150, 200), ("h", "T", "BND", "bonds", 300, 100)]
    lot_rows = [("T", "VTI", "L0", "2020-01-02", 50, 7500), *LOTS]
    prop, _ = propose_trades(_inputs(_policy("heuristic", DEFAULT), rows, lot_rows))
    assert _trades(prop) == {("VTI", "sell"): D(100), ("ITOT", "buy"): D(200)}
    sell = prop.trades.filter(pl.col("side") == "sell").row(0, named=True)
    assert [lot["lot_id"] for lot in sell["lots"]] == ["L1"]


@pytest.mark.parametrize(
    ("bought", "harvested"),
    [(dt.date(2026, 9, 15), False), (dt.date(2026, 8, 31), False), (dt.date(2026, 8, 30), True)],
)
def test_a_purchase_in_the_last_30_days_blocks(bought: dt.date, harvested: bool) -> None:
    """A BUY of 10 VTI 15 or 30 days before the review (in the IRA I: household-wide) would
    wash the loss: not harvested, with a warning. 31 days before: outside the window."""
    txns = [("X1", bought, "I", "VTI", "BUY", 10, -2000)]
    prop, warnings = propose_trades(_inputs(_policy("heuristic", DEFAULT), txns=txns))
    assert bool(_trades(prop)) is harvested
    if not harvested:
        assert _messages(warnings) == [
            "tax-loss harvest: VTI in account T has an unrealised loss of $5000.00 but is not "
            "harvested: the household bought it in the last 30 days (a wash sale)"
        ]


def test_a_purchase_of_an_identical_security_blocks() -> None:
    """VTSAX shares VTI's identical_group: its purchase 10 days ago washes a VTI loss too."""
    txns = [("X1", dt.date(2026, 9, 20), "I", "VTSAX", "BUY", 10, -1000)]
    inputs = _inputs(_policy("heuristic", DEFAULT), txns=txns, groups={"VTI": "us", "VTSAX": "us"})
    prop, _ = propose_trades(inputs)
    assert _trades(prop) == {}


def test_replacement_in_the_same_identical_group_is_refused() -> None:
    """ITOT in VTI's identical_group: substantially identical, so no harvest (and a warning)."""
    inputs = _inputs(_policy("heuristic", DEFAULT), groups={"VTI": "us", "ITOT": "us"})
    prop, warnings = propose_trades(inputs)
    assert _trades(prop) == {}
    assert _messages(warnings) == [
        "tax-loss harvest: VTI in account T has an unrealised loss of $5000.00 but is not "
        "harvested: its replacement ITOT is substantially identical"
    ]
    assert _summary(prop)["trades"] == 0


def test_replacement_on_do_not_buy_or_in_another_class_is_refused() -> None:
    p = _policy("heuristic", DEFAULT).model_copy(deep=True)
    inputs = _inputs(p)
    inputs = replace(
        inputs,
        restrictions=pl.DataFrame(
            [("h", "ITOT", "do_not_buy")],
            orient="row",
            schema={"portfolio_id": pl.String, "security_id": pl.String, "rule": pl.String},
        ),
    )
    prop, warnings = propose_trades(inputs)
    assert _trades(prop) == {}
    assert _messages(warnings)[0].endswith("its replacement ITOT is on do_not_buy")
    prop, warnings = propose_trades(_inputs(_policy("heuristic", {"replacements": {"VTI": "BND"}})))
    assert _trades(prop) == {}
    assert _messages(warnings)[0].endswith("its replacement BND is in another class")


@pytest.mark.parametrize("engine", ["heuristic", "optimizer"])
def test_the_proposals_buy_of_the_security_is_steered_to_the_replacement(engine: str) -> None:
    """VTI 100 at $200 and BND 300 at $100 ($50,000): equity 40% < 45%, so the engine sells
    50 BND and buys 25 VTI ($5,000) back to 50%. That buy would wash the harvest's $5,000 loss
    (the future half of the window), so it becomes a buy of ITOT for no more than its amount:
    5,000 / 100 = 50 ITOT. The harvest sells 100 VTI and buys 200 ITOT; equity ends at
    250 × $100 = $25,000, 50%, and nothing buys VTI."""
    rows = [("h", "T", "VTI", "equity", 100, 200), ("h", "T", "BND", "bonds", 300, 100)]
    prop, warnings = propose_trades(_inputs(_policy(engine, DEFAULT), rows))
    got = sorted(
        (t["security_id"], t["side"], t["quantity"], t["amount"]) for t in prop.trades.to_dicts()
    )
    assert got == [
        ("BND", "sell", D(50), D(5000)),
        ("ITOT", "buy", D(50), D(5000)),
        ("ITOT", "buy", D(200), D(20000)),
        ("VTI", "sell", D(100), D(20000)),
    ]
    steered = prop.trades.filter(pl.col("quantity") == 50, pl.col("security_id") == "ITOT")
    assert steered["reason"][0].endswith(
        "; bought as ITOT: VTI is sold for a tax-loss harvest (a wash sale otherwise)"
    )
    assert (_summary(prop)["tax_saved"], _summary(prop)["trades"]) == (D(1850), 2)
    assert prop.trades["wash_sale_disallowed"].fill_null(0).sum() == 0
    cls = {r["asset_class"]: r["post_trade_weight"] for r in prop.classes.to_dicts()}
    assert cls["equity"] == D("0.5")
    assert not _messages(warnings)


def test_a_buy_the_replacement_cannot_take_blocks_the_harvest() -> None:
    """The same, with ITOT at $6,000: the engine's $5,000 of VTI buys no whole ITOT share, so
    the buy stays VTI and the harvest it would wash is skipped, with the reason."""
    rows = [("h", "T", "VTI", "equity", 100, 200), ("h", "T", "BND", "bonds", 300, 100)]
    prop, warnings = propose_trades(_inputs(_policy("heuristic", DEFAULT), rows, itot="6000"))
    assert _trades(prop) == {("BND", "sell"): D(50), ("VTI", "buy"): D(25)}
    assert _messages(warnings)[0].endswith(
        "the proposal buys it (a wash sale) and its replacement ITOT cannot take the buy"
    )


def test_class_stays_inside_its_band_with_a_remainder() -> None:
    """ITOT at $150: 20,000 / 150 = 133.33 → 133 shares ($19,950); $50 stays in cash. Equity
    moves from 50% by 50 / 40,000 = 0.125%, less than one ITOT share: never out of its band."""
    prop, _ = propose_trades(_inputs(_policy("heuristic", DEFAULT), itot="150"))
    assert _trades(prop) == {("VTI", "sell"): D(100), ("ITOT", "buy"): D(133)}
    cls = {r["asset_class"]: r["post_trade_weight"] for r in prop.classes.to_dicts()}
    assert abs(cls["equity"] - D("0.49875")) < D("0.000001")
    assert not [w for w in prop.warnings["message"].to_list() if "band" in w]


def test_costs_never_overdraw() -> None:
    """cost_bp equity 10: the sale raises 20,000 − 20 = $19,980; each ITOT share costs
    $100.10 with its cost: 19,980 / 100.10 = 199.6 → 199 (19,900 + 19.90 = 19,919.90 ≤ 19,980)."""
    p = _policy("heuristic", DEFAULT, trading={"cost_bp": {"equity": 10}})
    prop, _ = propose_trades(_inputs(p))
    assert _trades(prop) == {("VTI", "sell"): D(100), ("ITOT", "buy"): D(199)}


def test_not_opted_in_is_unchanged() -> None:
    """No ``tax.harvest``: the same proposal as with no harvest settings at all, and none."""
    p = _policy("heuristic")
    a, wa = propose_trades(_inputs(p))
    b, wb = propose_trades(replace(_inputs(p), harvest=None))
    assert a.harvest is None and b.harvest is None
    assert a.trades.equals(b.trades) and wa.equals(wb) and a.classes.equals(b.classes)
    assert _trades(a) == {}
    assert harvest.harvest_settings([p]).is_empty()


@pytest.mark.parametrize("engine", ["heuristic", "optimizer"])
def test_deterministic(engine: str) -> None:
    a, wa = propose_trades(_inputs(_policy(engine, DEFAULT)))
    b, wb = propose_trades(_inputs(_policy(engine, DEFAULT)))
    assert a.trades.equals(b.trades) and wa.equals(wb)
    assert a.harvest is not None and b.harvest is not None and a.harvest.equals(b.harvest)


def test_a_security_cannot_replace_itself() -> None:
    with pytest.raises(ValueError, match="cannot replace itself: VTI"):
        _policy("heuristic", {"replacements": {"VTI": "VTI"}})


def _entry(**h: Any) -> Any:
    p = _policy("heuristic", {**DEFAULT, **h})
    prop, _ = propose_trades(_inputs(p))
    return results.harvest_rows(SimpleNamespace(proposal=prop))["h"]  # type: ignore[arg-type]


def test_results_and_report() -> None:
    e = _entry()
    assert e == {
        "losses_harvested": "5000.00",
        "short_term_loss": "5000.00",
        "long_term_loss": "0.00",
        "tax_saved": "1850.00",
        "trades": 2,
    }
    ctx = seed_context()
    plain = render_portfolio_report(copy.deepcopy(ctx))
    assert "Tax-loss harvesting" not in plain
    ctx["portfolio"]["harvest"] = e
    page = render_portfolio_report(ctx)
    assert "Tax-loss harvesting" in page and "USD 1,850.00" in page


def test_review_results_json_through_duckdb(empty_ws: Workspace) -> None:
    """The household as custodian files, reviewed through DuckDB: the opted-in IPS gets its
    ``harvest`` entry in results.json; without ``tax.harvest`` there is no such key at all
    (results.json as before)."""
    files = {
        "positions.csv": POSITIONS_HEADER
        + "2026-09-30,T,VTI,100,200,20000.00,USD\n2026-09-30,T,BND,200,100,20000.00,USD\n",
        "lots.csv": LOTS_HEADER
        + "2026-09-30,T,VTI,L1,2026-03-02,100,25000.00\n"
        + "2026-09-30,T,BND,B1,2020-01-02,200,19000.00\n",
        "prices.csv": "as_of_date,security_id,price,currency\n"
        "2026-09-30,VTI,200,USD\n2026-09-30,ITOT,100,USD\n2026-09-30,BND,100,USD\n",
    }
    classes = {"VTI": "equity", "ITOT": "equity", "BND": "bonds"}

    def ips(tax: str) -> dict[str, str]:
        return {
            "h": "id: h\nname: h\naccounts: [{id: T, tax_status: taxable}]\n"
            "asset_classes: {equity: {target: 50%}, bonds: {target: 50%}}\n"
            f"tax: {{{tax}}}\n"
        }

    c = review_files(empty_ws, classes, ips("harvest: {replacements: {VTI: ITOT}}"), files, AS_OF)
    assert c.errors.is_empty(), c.errors
    (entry,) = results.portfolio_entries(c)
    assert entry["harvest"] == {
        "losses_harvested": "5000.00",
        "short_term_loss": "5000.00",
        "long_term_loss": "0.00",
        "tax_saved": "1850.00",
        "trades": 2,
    }
    assert [(t["security_id"], t["side"], t["quantity"]) for t in entry["trades"]] == [
        ("VTI", "sell", "100"),
        ("ITOT", "buy", "200"),
    ]
    c = review_files(empty_ws, classes, ips("lot_method: fifo"), files, AS_OF)
    (entry,) = results.portfolio_entries(c)
    assert "harvest" not in entry and entry["trades"] == []


def test_a_portfolio_not_opted_in_is_untouched_beside_one_that_is() -> None:
    """g holds the same VTI loss lot in its own account U but sets no ``tax.harvest``: its
    trades, classes and warnings are those of g reviewed alone; h beside it harvests."""
    g = Policy.model_validate(
        {
            **_policy().model_dump(mode="json", exclude={"default_band", "asset_classes"}),
            "id": "g",
            "accounts": [{"id": "U", "tax_status": "taxable"}],
            "default_band": "500bp",
            "asset_classes": {"equity": {"target": "50%"}, "bonds": {"target": "50%"}},
        }
    )
    g_rows = [("g", "U", "VTI", "equity", 100, 200), ("g", "U", "BND", "bonds", 150, 100)]
    g_lots = [
        ("U", "VTI", "G1", "2026-03-02", 100, 25000),
        ("U", "BND", "G2", "2020-01-02", 150, 14000),
    ]
    both, wb = propose_trades(
        _inputs([_policy("heuristic", DEFAULT), g], [*HOLDINGS, *g_rows], [*LOTS, *g_lots])
    )
    alone, wa = propose_trades(_inputs(g, g_rows, g_lots))
    assert not alone.trades.is_empty()  # g rebalances (equity 57%) but harvests nothing
    assert alone.harvest is None
    assert both.trades.filter(pl.col("portfolio_id") == "g").equals(alone.trades)
    assert both.classes.filter(pl.col("portfolio_id") == "g").equals(alone.classes)
    assert wb.filter(pl.col("portfolio_id") == "g").equals(wa)
    assert both.harvest is not None and both.harvest["portfolio_id"].to_list() == ["h"]
    assert _trades(both.trades.filter(pl.col("portfolio_id") == "h")) == {
        ("VTI", "sell"): D(100),
        ("ITOT", "buy"): D(200),
    }
