"""Allocation, drift and breaches (figures worked by hand from domain.md)."""

from __future__ import annotations

from decimal import Decimal as D

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from tests.support.frames import holdings, policy, row


def _alloc(p, rows):
    return allocation(holdings([p], rows), pf.targets_frame([p]))


def test_seed_case_figures() -> None:
    """$7.5M equities / $3.8M bonds: 66.3717% equities, +637.17 bp, both classes breached."""
    p = policy(
        "seed", asset_classes={"global_equity": {"target": "60%"}, "ig_bonds": {"target": "40%"}}
    )
    a = _alloc(
        p,
        [
            ("seed", "seed-A", "GEQ", "global_equity", 75000, 100),
            ("seed", "seed-A", "IGB", "ig_bonds", 38000, 100),
        ],
    )
    eq = row(a, asset_class="global_equity")
    assert eq["total_value"] == D("11300000")
    assert round(eq["weight"], 6) == D("0.663717")
    assert round(eq["drift"], 2) == D("637.17")
    assert eq["breached"] and row(a, asset_class="ig_bonds")["breached"]


def test_exactly_on_edge_is_inside() -> None:
    """65.00% against a 55%–65% band is inside; 65.01% is a breach."""
    p = policy()
    on_edge = _alloc(
        p, [("p1", "p1-A", "E", "equity", 6500, 1), ("p1", "p1-A", "B", "bonds", 3500, 1)]
    )
    assert not on_edge["breached"].any()
    over = _alloc(
        p, [("p1", "p1-A", "E", "equity", 6501, 1), ("p1", "p1-A", "B", "bonds", 3499, 1)]
    )
    assert row(over, asset_class="equity")["breached"]


def test_relative_band_edge() -> None:
    """A 10% target with 25%rel: 12.5% is inside, 12.51% is a breach."""
    p = policy(
        asset_classes={
            "em": {"target": "10%", "band": "25%rel"},
            "rest": {"target": "90%", "band": "500bp"},
        }
    )
    inside = _alloc(p, [("p1", "p1-A", "EM", "em", 1250, 1), ("p1", "p1-A", "R", "rest", 8750, 1)])
    assert not row(inside, asset_class="em")["breached"]
    outside = _alloc(p, [("p1", "p1-A", "EM", "em", 1251, 1), ("p1", "p1-A", "R", "rest", 8749, 1)])
    assert row(outside, asset_class="em")["breached"]


def test_five_25_small_class() -> None:
    """5/25 on a 5% target is ±1.25%: 6.26% breaches although it is only 126 bp away."""
    p = policy(
        default_band="5/25", asset_classes={"em": {"target": "5%"}, "rest": {"target": "95%"}}
    )
    a = _alloc(p, [("p1", "p1-A", "EM", "em", 626, 1), ("p1", "p1-A", "R", "rest", 9374, 1)])
    em = row(a, asset_class="em")
    assert (em["lower"], em["upper"]) == (D("0.0375"), D("0.0625"))
    assert em["breached"] and not row(a, asset_class="rest")["breached"]


def test_cash_without_target_dilutes_and_never_breaches() -> None:
    """Untargeted cash counts in the total (lowering every weight) but is never a breach."""
    p = policy()
    a = _alloc(
        p,
        [
            ("p1", "p1-A", "E", "equity", 600, 1),
            ("p1", "p1-A", "B", "bonds", 300, 1),
            ("p1", "p1-A", "CASH", "cash", 100, 1),
        ],
    )
    assert row(a, asset_class="equity")["weight"] == D("0.6")
    assert row(a, asset_class="bonds")["weight"] == D("0.3")
    cash = row(a, asset_class="cash")
    assert cash["target"] is None and not cash["breached"]


def test_missing_class_is_zero_and_breached() -> None:
    """A class in the IPS with no holdings has value 0 and breaches a 40% target."""
    a = _alloc(policy(), [("p1", "p1-A", "E", "equity", 1000, 1)])
    bonds = row(a, asset_class="bonds")
    assert bonds["market_value"] == 0 and bonds["breached"]


def test_many_portfolios_at_once() -> None:
    """Portfolios are computed independently in one pass."""
    p1, p2 = policy("p1"), policy("p2")
    h = holdings(
        [p1, p2],
        [
            ("p1", "p1-A", "E", "equity", 700, 1),
            ("p1", "p1-A", "B", "bonds", 300, 1),
            ("p2", "p2-A", "E", "equity", 600, 1),
            ("p2", "p2-A", "B", "bonds", 400, 1),
        ],
    )
    a = allocation(h, pf.targets_frame([p1, p2]))
    assert row(a, portfolio_id="p1", asset_class="equity")["breached"]
    assert not a.filter(a["portfolio_id"] == "p2")["breached"].any()
