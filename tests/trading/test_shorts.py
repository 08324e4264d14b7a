"""Declared short positions (e.g. the IBKR options sample's short futures option) are valued and
counted, but the proposal never sells, covers or buys them, and the report says so."""

from __future__ import annotations

import polars as pl

from ballast.workspace import Workspace
from tests.support.frames import policy, run
from tests.support.workspaces import POSITIONS_HEADER, review_files

CLASSES = {"equity": {"target": "60%"}, "bonds": {"target": "30%"}, "alts": {"target": "10%"}}


def test_short_holding_is_never_traded_nor_a_vehicle() -> None:
    """alts is held only as a short (−10 X at $10): underweight, but X is not bought (that would
    cover the short); with no other alts security there is nothing to buy, and it says so."""
    p = policy(asset_classes=CLASSES)
    rows = [
        ("p1", "p1-A", "E", "equity", 7000, 1),
        ("p1", "p1-A", "B", "bonds", 3000, 1),
        ("p1", "p1-A", "X", "alts", -10, 10),
    ]
    _, prop = run([p], rows)
    assert not prop.trades.filter(pl.col("security_id") == "X").height
    assert "E" in prop.trades.filter(pl.col("side") == "sell")["security_id"].to_list()
    assert any("no security to buy for alts" in m for m in prop.warnings["message"])


def test_review_warns_about_a_declared_short(empty_ws: Workspace) -> None:
    c = review_files(
        empty_ws,
        {"E": "equity", "B": "bonds", "X": "equity"},
        {
            "p1": 'id: p1\nname: p1\naccounts: [{id: "A", tax_status: tax_exempt}]\n'
            "asset_classes: {equity: {target: 60%}, bonds: {target: 40%}}\n"
        },
        {
            "a.csv": POSITIONS_HEADER.replace("\n", ",short\n")
            + "2026-09-30,A,E,7100,1,7100.00,USD,\n2026-09-30,A,B,3000,1,3000.00,USD,\n"
            "2026-09-30,A,X,-100,1,-100.00,USD,true\n"
        },
    )
    assert c.errors.is_empty(), c.errors
    assert "X" not in c.proposal.trades["security_id"].to_list()
    assert (
        "short position of 100 X in account A (-100.00) is held as declared: counted in equity, "
        "never sold, covered or bought by the proposal" in c.warnings["message"].to_list()
    )
