"""Cash flows first: planned contributions buy underweights, withdrawals are raised from
overweights, and only what flows cannot fix is traded (domain.md)."""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl

from ballast import review
from ballast.reporting import html as report
from ballast.reporting import results
from ballast.workspace import Workspace
from tests.support.frames import policy, row, run
from tests.support.workspaces import FLOWS_HEADER, POSITIONS_HEADER, review_files

INSIDE = [("p1", "p1-A", "E", "equity", 6200, 1), ("p1", "p1-A", "B", "bonds", 3800, 1)]


def test_contribution_buys_only_the_underweight() -> None:
    """Inside its bands at 62/38 with $1,000 coming in, the total becomes $11,000 and both
    classes are below their targets (6,600 / 4,400): buy 400 equities and 600 bonds, no sale."""
    _, prop = run([policy()], INSIDE, flows=[("p1", "p1-A", 1000)])
    assert sorted(prop.trades.select("side", "security_id", "quantity").rows()) == [
        ("buy", "B", 600),
        ("buy", "E", 400),
    ]


def test_withdrawal_raised_from_the_overweight() -> None:
    """A $1,000 withdrawal with no cash: the total becomes $9,000 (targets 5,400 / 3,600), so
    800 of equities and 200 of bonds are sold, each down to its target."""
    _, prop = run([policy()], INSIDE, flows=[("p1", "p1-A", -1000)])
    assert sorted(prop.trades.select("side", "security_id", "quantity").rows()) == [
        ("sell", "B", 200),
        ("sell", "E", 800),
    ]
    assert prop.warnings.is_empty()


def test_withdrawal_sold_in_the_account_that_pays_it() -> None:
    """The account making the withdrawal sells first, even if it is taxable."""
    p = policy(
        accounts=[
            {"id": "TAX", "tax_status": "taxable"},
            {"id": "IRA", "tax_status": "tax_deferred"},
        ]
    )
    rows = [
        ("p1", "TAX", "E", "equity", 3100, 1),
        ("p1", "TAX", "B", "bonds", 1900, 1),
        ("p1", "IRA", "E", "equity", 3100, 1),
        ("p1", "IRA", "B", "bonds", 1900, 1),
    ]
    _, prop = run([p], rows, flows=[("p1", "TAX", -500)])
    sells = prop.trades.filter(pl.col("side") == "sell")
    assert sells["account_id"].to_list() == ["TAX"]
    assert not any("short of cash" in m for m in prop.warnings["message"])


def test_unfundable_withdrawal_is_reported() -> None:
    """A withdrawal bigger than what can be sold is flagged, never overdrawn silently."""
    _, prop = run(
        [policy(restrictions={"do_not_sell": ["E", "B"]})], INSIDE, flows=[("p1", "p1-A", -1000)]
    )
    assert prop.trades.is_empty()
    assert any("would be 1000.00 short of cash" in m for m in prop.warnings["message"])


def _review(ws: Workspace, positions: str, flows: str) -> review.Computed:
    """One tax-exempt account A, 60/40 equity E / bonds B, these positions and planned flows."""
    return review_files(
        ws,
        {"E": "equity", "B": "bonds"},
        {
            "p1": 'id: p1\nname: p1\naccounts: [{id: "A", tax_status: tax_exempt}]\n'
            "asset_classes: {equity: {target: 60%}, bonds: {target: 40%}}\n"
        },
        {"a.csv": POSITIONS_HEADER + positions, "b.csv": FLOWS_HEADER + flows},
    )


def test_flows_within_the_planning_horizon(empty_ws: Workspace) -> None:
    """Planned flows in the next 31 days count; later ones and past ones do not."""
    c = _review(
        empty_ws,
        "2026-09-30,A,E,6200,1,6200.00,USD\n2026-09-30,A,B,3800,1,3800.00,USD\n",
        "A,2026-10-15,1000.00,USD,quarterly contribution\n"
        "A,2026-12-15,5000.00,USD,next quarter\nA,2026-09-01,7000.00,USD,already received\n",
    )
    t = c.proposal.trades
    assert sorted(t.select("side", "security_id", "quantity").rows()) == [
        ("buy", "B", 600),
        ("buy", "E", 400),
    ]
    assert row(c.proposal.classes, asset_class="bonds")["post_trade_weight"] == D("0.4")


def test_report_says_how_much_drift_the_flows_alone_removed(empty_ws: Workspace) -> None:
    """70/30 against 60/40 (drift Σ|w − t| = 2,000 bp) with $1,000 coming in: the flow alone
    buys $1,000 of bonds, leaving 7,000 / 4,000 of 11,000 = 727.27 bp; selling 400 equities for
    400 more bonds then reaches 6,600 / 4,400: 0 bp. The flow removed 1,272.73 bp."""
    c = _review(
        empty_ws,
        "2026-09-30,A,E,7000,1,7000.00,USD\n2026-09-30,A,B,3000,1,3000.00,USD\n",
        "A,2026-10-15,1000.00,USD,quarterly contribution\n",
    )
    assert sorted(c.proposal.trades.select("side", "security_id", "quantity").rows()) == [
        ("buy", "B", 1400),
        ("sell", "E", 400),
    ]
    (entry,) = results.portfolio_entries(c)
    assert entry["cash_flows"] == {
        "planned": "1000.00",
        "drift_before_bp": "2000.00",
        "drift_after_flows_bp": "727.27",
        "drift_after_trades_bp": "0.00",
        "removed_by_flows_bp": "1272.73",
    }
    html = report.render_portfolio_report({"portfolio": entry})
    assert 'from <span class="num">2000.00</span> bp to <span class="num">727.27</span>' in html
