"""Reconciliation checks block trading for the affected portfolio only (real DuckDB file)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from ballast import review
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.warehouse import db
from ballast.workspace import Workspace

IPS = """id: {pid}
name: {pid}
accounts: [{{id: "{acct}", tax_status: taxable}}]
default_band: 500bp
asset_classes: {{equity: {{target: 60%}}, bonds: {{target: 40%}}}}
"""
SECURITIES = (
    "security_id,symbol,name,asset_class,identical_group\nEQ,EQ,Eq,equity,\nBD,BD,Bd,bonds,\n"
)
POS = "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
LOTS = "as_of_date,account_id,security_id,lot_id,acquired_date,quantity,cost_basis\n"
TXNS = "transaction_id,trade_date,account_id,security_id,type,quantity,amount,currency\n"
PRICES = "as_of_date,security_id,price,currency\n"


def positions(day: str, acct: str, eq: int, bd: int = 400, cash: int = 1000) -> str:
    return (
        f"{day},{acct},EQ,{eq},1,{eq}.00,USD\n{day},{acct},BD,{bd},1,{bd}.00,USD\n"
        f"{day},{acct},CASH,{cash},1,{cash}.00,USD\n"
    )


def run(ws: Workspace, files: dict[str, str], pids=(("good", "G1"), ("bad", "B1"))):
    ws.securities.write_text(SECURITIES, encoding="utf-8")
    for pid, acct in pids:
        (ws.ips / f"{pid}.yaml").write_text(IPS.format(pid=pid, acct=acct), encoding="utf-8")
    for name, text in files.items():
        (ws.inbox / name).write_text(text, encoding="utf-8")
        with db.connect(ws.warehouse) as con:  # one file at a time, in name order
            inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
    with db.connect(ws.warehouse) as con:
        return review.review(con, policy_set.load_policies(ws), dt.date(2026, 9, 30))


def status(c: review.Computed, pid: str, check: str) -> tuple[str, list[str]]:
    row = c.checks.filter((pl.col("portfolio_id") == pid) & (pl.col("check") == check))
    return row["status"][0], row["messages"][0].to_list()


def errors(c: review.Computed, pid: str) -> list[str]:
    return c.errors.filter(pl.col("portfolio_id") == pid)["message"].to_list()


def test_lots_must_add_up(empty_ws: Workspace) -> None:
    """Lots of 500 against a position of 600 invalidate that portfolio only."""
    pos = POS + positions("2026-09-30", "G1", 600) + positions("2026-09-30", "B1", 600)
    lots = (
        LOTS
        + "2026-09-30,G1,EQ,a,2020-01-02,600,300.00\n2026-09-30,G1,BD,b,2020-01-02,400,400.00\n"
        "2026-09-30,B1,EQ,c,2020-01-02,500,250.00\n2026-09-30,B1,BD,d,2020-01-02,400,400.00\n"
    )
    c = run(empty_ws, {"a_pos.csv": pos, "b_lots.csv": lots})
    assert status(c, "good", "lots_match_positions") == ("passed", [])
    assert errors(c, "bad") == ["lots of EQ in account B1 add up to 500, the position is 600"]
    assert errors(c, "good") == []


def test_roll_forward(empty_ws: Workspace) -> None:
    """100 + a buy of 10 must be 110 (and cash 1000 - 10 = 990); 120 does not roll forward."""
    files = {
        "a_day1.csv": POS + positions("2026-09-29", "G1", 100) + positions("2026-09-29", "B1", 100),
        "b_txn.csv": TXNS + "t1,2026-09-30,G1,EQ,BUY,10,-10.00,USD\n"
        "t2,2026-09-30,B1,EQ,BUY,10,-10.00,USD\n",
        "c_day2.csv": POS
        + positions("2026-09-30", "G1", 110, cash=990)
        + positions("2026-09-30", "B1", 120, cash=990),
    }
    c = run(empty_ws, files)
    assert status(c, "good", "roll_forward")[0] == "passed"
    assert errors(c, "bad") == [
        "EQ in account B1 does not roll forward: 100 before + 10 from "
        "transactions = 110, but the custodian reports 120"
    ]


def test_roll_forward_not_checked_without_history(empty_ws: Workspace) -> None:
    """With no earlier positions the check is reported as not done, not as passed."""
    c = run(empty_ws, {"a.csv": POS + positions("2026-09-30", "G1", 600)}, pids=(("good", "G1"),))
    assert status(c, "good", "roll_forward")[0] == "not_checked"


def test_stale_prices(empty_ws: Workspace) -> None:
    """A price last supplied on 2026-09-01 is 20 NYSE sessions old on 2026-09-30: stale."""
    prices = PRICES + "2026-09-28,EQ,1,USD\n2026-09-01,BD,1,USD\n"
    c = run(
        empty_ws,
        {"a.csv": POS + positions("2026-09-30", "G1", 600), "b.csv": prices},
        pids=(("good", "G1"),),
    )
    assert errors(c, "good") == [
        "the latest price of BD is from 2026-09-01, 20 business days "
        "before the review (at most 5 allowed)"
    ]


def test_duplicate_transactions(empty_ws: Workspace) -> None:
    """The same dividend posted twice under two ids is flagged."""
    txns = TXNS + (
        "d1,2026-09-15,B1,EQ,DIVIDEND,0,50.00,USD\nd2,2026-09-15,B1,EQ,DIVIDEND,0,50.00,USD\n"
    )
    c = run(
        empty_ws,
        {
            "a.csv": POS + positions("2026-09-30", "G1", 600) + positions("2026-09-30", "B1", 600),
            "b.csv": txns,
        },
    )
    assert errors(c, "bad") == [
        "transactions d1, d2 in account B1 look like one DIVIDEND "
        "posted more than once (EQ 0 on 2026-09-15)"
    ]
    assert status(c, "good", "duplicate_transactions")[0] == "not_checked"


def test_missing_date_names_latest(empty_ws: Workspace) -> None:
    """Positions only for the day before: the error says which date there is."""
    c = run(empty_ws, {"a.csv": POS + positions("2026-09-29", "G1", 600)}, pids=(("good", "G1"),))
    assert errors(c, "good") == [
        "account G1: no positions as of 2026-09-30 (the latest are as "
        "of 2026-09-29: is the file for 2026-09-30 missing?)"
    ]


def test_stale_threshold_is_configurable(empty_ws: Workspace) -> None:
    """checks.stale_price_sessions in ballast.yaml sets how old a price may be."""
    from ballast import config as ballast_config

    (empty_ws.root / "ballast.yaml").write_text("checks: {stale_price_sessions: 25}\n")
    assert ballast_config.load_checks(empty_ws.root).stale_price_sessions == 25
    prices = PRICES + "2026-09-28,EQ,1,USD\n2026-09-01,BD,1,USD\n"
    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    (empty_ws.ips / "good.yaml").write_text(IPS.format(pid="good", acct="G1"), encoding="utf-8")
    for name, text in {"a.csv": POS + positions("2026-09-30", "G1", 600), "b.csv": prices}.items():
        (empty_ws.inbox / name).write_text(text, encoding="utf-8")
    with db.connect(empty_ws.warehouse) as con:
        inbox.commit(con, empty_ws, inbox.validate(inbox.stage_workspace(con, empty_ws)))
        c = review.review(
            con, policy_set.load_policies(empty_ws), dt.date(2026, 9, 30), stale_after=25
        )
    assert errors(c, "good") == []
