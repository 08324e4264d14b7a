"""Reconciliation checks block trading for the affected portfolio only (real DuckDB file)."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from ballast import review
from ballast.ingest import inbox
from ballast.kinds import DERIVED_TRANSACTION_ID
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


def test_prices_not_checked_when_only_cash_is_held(empty_ws: Workspace) -> None:
    """A valid portfolio holding nothing but cash has no price to be current: the check says
    not checked, never passed; its neighbour holding securities is checked (#14)."""
    pos = POS + "2026-09-30,C1,CASH,5000,1,5000.00,USD\n" + positions("2026-09-30", "G1", 600)
    prices = PRICES + "2026-09-30,EQ,1,USD\n2026-09-30,BD,1,USD\n"
    c = run(empty_ws, {"a.csv": pos, "b_prices.csv": prices}, pids=(("cash", "C1"), ("good", "G1")))
    assert errors(c, "cash") == []
    assert status(c, "cash", "stale_prices")[0] == "not_checked"
    assert status(c, "good", "stale_prices")[0] == "passed"


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


def test_duplicate_transactions_with_custodian_ids_are_distinct(empty_ws: Workspace) -> None:
    """Two alike dividends under two custodian ids are two transactions: no error, no warning
    (issue #11: two executions of one order at one price must not be blocked)."""
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
    assert errors(c, "bad") == []
    assert c.warnings.filter(pl.col("portfolio_id") == "bad").is_empty()
    assert status(c, "bad", "duplicate_transactions")[0] == "passed"
    assert status(c, "good", "duplicate_transactions")[0] == "not_checked"


def test_duplicate_transactions_without_ids_are_a_warning(empty_ws: Workspace) -> None:
    """Alike rows whose ids ballast derived from content (the file had none) may be one posting
    twice: a warning naming them, never a block."""
    ids = ("CSV-0123456789abcdef-0", "CSV-0123456789abcdef-1")
    txns = TXNS + "".join(f"{i},2026-09-15,B1,EQ,DIVIDEND,0,50.00,USD\n" for i in ids)
    c = run(
        empty_ws,
        {
            "a.csv": POS + positions("2026-09-30", "G1", 600) + positions("2026-09-30", "B1", 600),
            "b.csv": txns,
        },
    )
    assert errors(c, "bad") == []
    assert c.warnings.filter(pl.col("portfolio_id") == "bad")["message"].to_list() == [
        f"transactions {ids[0]}, {ids[1]} in account B1 look like one DIVIDEND posted more than "
        "once (EQ 0 on 2026-09-15); the file gives no custodian transaction ids to tell them "
        "apart: check with the custodian"
    ]


def flex_trades(*ids: dict[str, str]) -> str:
    """An IBKR Activity Flex statement for account B1 with one BUY execution of 10 EQ at 1 per
    entry of ``ids`` (its id attributes: transactionID, tradeID, ibExecID, or none)."""
    trades = "".join(
        '<Trade accountId="B1" symbol="EQ" conid="1001" assetCategory="STK" currency="USD" '
        'quantity="10" tradePrice="1" proceeds="-10" ibCommission="0" netCash="-10" '
        'buySell="BUY" tradeDate="2026-09-15" dateTime="2026-09-15;100000" ibOrderID="77" '
        + "".join(f'{k}="{v}" ' for k, v in attrs.items())
        + 'levelOfDetail="EXECUTION"/>\n'
        for attrs in ids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<FlexQueryResponse queryName="q" type="AF">\n'
        '<FlexStatements count="1">\n<FlexStatement accountId="B1" fromDate="2026-09-01" '
        'toDate="2026-09-30" period="" whenGenerated="2026-10-01;120000">\n<Trades>\n'
        f"{trades}</Trades>\n</FlexStatement>\n</FlexStatements>\n</FlexQueryResponse>\n"
    )


HOLDINGS = POS + positions("2026-09-30", "G1", 600) + positions("2026-09-30", "B1", 600)


def bought(ws: Workspace) -> list[str]:
    with db.connect(ws.warehouse) as con:
        rows = con.execute(
            "select transaction_id from transactions where account_id = 'B1' order by 1"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (
            [
                {"transactionID": "34567824723", "ibExecID": "0001eb52.693fcaab.01.01"},
                {"transactionID": "34567824724", "ibExecID": "0001eb52.693fcaab.01.02"},
            ],
            ["IB-34567824723", "IB-34567824724"],
        ),
        (
            [{"tradeID": "3456789635"}, {"tradeID": "3456789636"}],
            ["IB-3456789635", "IB-3456789636"],
        ),
        (
            [{"ibExecID": "0001eb52.693fcaab.01.01"}, {"ibExecID": "0001eb52.693fcaab.01.02"}],
            ["IB-0001eb52.693fcaab.01.01", "IB-0001eb52.693fcaab.01.02"],
        ),
    ],
)
def test_two_executions_of_one_order_are_not_blocked(
    empty_ws: Workspace, ids: list[dict[str, str]], expected: list[str]
) -> None:
    """The real IBKR case of issue #11: two executions of one order, same quantity and price,
    different transactionID/ibExecID, are two BUYs: loaded both, no error, no warning."""
    c = run(empty_ws, {"a.csv": HOLDINGS, "b_flex.xml": flex_trades(*ids)})
    assert bought(empty_ws) == expected
    assert errors(c, "bad") == []
    assert c.warnings.filter(pl.col("portfolio_id") == "bad").is_empty()
    assert status(c, "bad", "duplicate_transactions") == ("passed", [])


def test_flex_executions_without_ids_are_a_warning(empty_ws: Workspace) -> None:
    """A Flex query that leaves out every id: the two alike executions may be one posted twice,
    and nothing in the file can tell; a warning, the portfolio is still reviewed."""
    c = run(empty_ws, {"a.csv": HOLDINGS, "b_flex.xml": flex_trades({}, {})})
    ids = bought(empty_ws)
    assert len(ids) == 2 and all(re.fullmatch(DERIVED_TRANSACTION_ID, i) for i in ids)
    assert errors(c, "bad") == []
    assert c.warnings.filter(pl.col("portfolio_id") == "bad")["message"].to_list() == [
        f"transactions {ids[0]}, {ids[1]} in account B1 look like one BUY posted more than "
        "once (EQ 10 on 2026-09-15); the file gives no custodian transaction ids to tell them "
        "apart: check with the custodian"
    ]


def test_profile_csv_without_ids_gives_a_warning_only(empty_ws: Workspace) -> None:
    """A Schwab download has no transaction ids: two alike dividend rows get derived ids and
    one warning; the portfolio is reviewed (and gets its trades), never blocked."""
    schwab = (
        '"Transactions  for account B1 as of 09/30/2026 04:12:45 PM ET"\n'
        '"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"\n'
        + '"09/15/2026","Qualified Dividend","EQ","EQ FUND","","","","$50.00"\n' * 2
        + '"Transactions Total","","","","","","","$100.00"\n'
    )
    c = run(empty_ws, {"a.csv": HOLDINGS, "b_schwab.csv": schwab})
    ids = bought(empty_ws)
    assert [i.rsplit("-", 1)[1] for i in ids] == ["0", "1"] and ids[0].startswith("SCHWAB-")
    assert errors(c, "bad") == []
    (warning,) = c.warnings.filter(pl.col("portfolio_id") == "bad")["message"].to_list()
    assert warning.startswith(f"transactions {ids[0]}, {ids[1]} in account B1 look like one ")
    assert "DIVIDEND posted more than once (EQ 0 on 2026-09-15)" in warning
    assert c.proposal is not None and "bad" in c.proposal.trades["portfolio_id"].to_list()


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
