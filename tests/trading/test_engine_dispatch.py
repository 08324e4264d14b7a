"""``trading.engine: optimizer`` in an IPS sends that portfolio through the LP optimiser."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from ballast import review
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.warehouse import db
from tests.conftest import copy_demo


def test_household_through_the_optimiser(tmp_path: Path) -> None:
    """The demo household, optimised: every trade in the IRA and no gain realised; the other
    portfolios keep the heuristic's trades (the seed case: 7,200 each way)."""
    ws = copy_demo(tmp_path / "ws")
    ips = ws.ips / "okafor-household.yaml"
    ips.write_text(ips.read_text() + "trading: {engine: optimizer}\n")
    with db.connect(ws.warehouse) as con:
        inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
        c = review.review(con, policy_set.load_policies(ws), dt.date(2026, 9, 30))
    t = c.proposal.trades
    hh = t.filter(pl.col("portfolio_id") == "okafor-household")
    assert set(hh["account_id"]) <= {"HH-IRA", "HH-TAX"} and not hh.is_empty()
    assert hh.filter(pl.col("side") == "sell")["account_id"].to_list() == ["HH-IRA"]
    gains = hh["realized_gain_short_term"].fill_null(0) + hh["realized_gain_long_term"].fill_null(0)
    assert (gains == 0).all()
    seed = t.filter(pl.col("portfolio_id") == "seed-60-40")
    assert seed.select("side", "quantity").rows() == [("sell", 7200), ("buy", 7200)]
