"""Ingest into a real DuckDB file: ledger, archive, quarantine, duplicates, restatements."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.warehouse import db, snapshot
from ballast.workspace import Workspace

HEADER = "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
SECURITIES = (
    "security_id,symbol,name,asset_class,identical_group\nGEQ,GEQ,Equity,eq,\nIGB,IGB,Bond,fi,\n"
)


def drop(ws: Workspace, name: str, text: str) -> Path:
    path = ws.inbox / name
    path.write_text(text, encoding="utf-8")
    return path


def ingest(ws: Workspace) -> inbox.IngestReport:
    with db.connect(ws.warehouse) as con:
        staged = inbox.validate(inbox.stage_workspace(con, ws))
        return inbox.commit(con, ws, staged)


def count(ws: Workspace, table: str) -> int:
    with db.connect(ws.warehouse) as con:
        return con.execute(f"select count(*) from {table}").fetchone()[0]


def positions_on(ws: Workspace, day: str, accounts: list[str]):
    with db.connect(ws.warehouse) as con:
        return snapshot.take(con, dt.date.fromisoformat(day), accounts).positions


def test_loads_records_and_archives(empty_ws: Workspace) -> None:
    """A good file is loaded, recorded in the ledger, archived by hash and leaves the inbox."""
    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    src = drop(empty_ws, "pos.csv", HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n")
    data = src.read_bytes()
    report = ingest(empty_ws)
    assert [e["file"] for e in report.loaded] == ["securities.csv", "pos.csv"]
    assert not src.exists()
    entry = report.loaded[1]
    archived = empty_ws.archive / f"{entry['sha256']}.csv"
    assert archived.read_bytes() == data
    assert count(empty_ws, "positions") == 1
    with db.connect(empty_ws.warehouse) as con:
        row = con.execute(
            "select kind, rows, status, size_bytes from file_ledger where original_name = 'pos.csv'"
        ).fetchone()
    assert row == ("positions", 1, "loaded", len(data))


def test_same_bytes_again_is_a_no_op(empty_ws: Workspace) -> None:
    """Ingesting the same file twice loads it once."""
    text = HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n"
    drop(empty_ws, "pos.csv", text)
    ingest(empty_ws)
    drop(empty_ws, "pos-copy.csv", text)
    report = ingest(empty_ws)
    assert report.loaded == [] and [d["file"] for d in report.duplicates] == ["pos-copy.csv"]
    assert count(empty_ws, "positions") == 1
    assert count(empty_ws, "file_ledger") == 1


def test_bad_file_quarantined_and_nothing_lost(empty_ws: Workspace) -> None:
    """A malformed row quarantines its whole file with a reason; earlier data is intact."""
    drop(empty_ws, "a.csv", HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n")
    ingest(empty_ws)
    drop(
        empty_ws,
        "b.csv",
        HEADER + "2026-09-30,B1,GEQ,5,100.00,500.00,USD\n2026-09-30,B1,IGB,x5,100.00,500.00,USD\n",
    )
    report = ingest(empty_ws)
    assert report.loaded == []
    (q,) = report.quarantined
    assert q["reason"] == "b.csv, row 3, column quantity: 'x5' is not a number"
    qpath = Path(q["quarantine_path"])
    assert qpath.exists()
    assert "row 3, column quantity" in qpath.with_name(qpath.name + ".reason.txt").read_text()
    assert count(empty_ws, "positions") == 1  # a.csv's row only: b.csv loaded nothing
    assert not (empty_ws.inbox / "b.csv").exists()


def test_validation_failure_quarantines(empty_ws: Workspace) -> None:
    """A file that parses but fails its GX suite (zero price) is quarantined with the rule."""
    drop(empty_ws, "p.csv", HEADER + "2026-09-30,A1,GEQ,10,0,0.00,USD\n")
    report = ingest(empty_ws)
    (q,) = report.quarantined
    assert q["reason"].startswith("p.csv, row 2, column price")
    assert count(empty_ws, "positions") == 0
    assert count(empty_ws, "validation_results") == 1


def test_market_value_must_match(empty_ws: Workspace) -> None:
    """A "price" column holding market value is caught: 10 × 1000 is not 1000."""
    drop(empty_ws, "p.csv", HEADER + "2026-09-30,A1,GEQ,10,1000.00,1000.00,USD\n")
    (q,) = ingest(empty_ws).quarantined
    assert "row 2" in q["reason"] and "market_value" in q["reason"]


def test_restated_file_supersedes(empty_ws: Workspace) -> None:
    """A re-sent file for the same account and date wins; both versions stay in the archive."""
    drop(empty_ws, "v1.csv", HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n")
    ingest(empty_ws)
    drop(empty_ws, "v2.csv", HEADER + "2026-09-30,A1,GEQ,12,100.00,1200.00,USD\n")
    ingest(empty_ws)
    pos = positions_on(empty_ws, "2026-09-30", ["A1"])
    assert pos["quantity"].to_list() == [12]
    assert len(list(empty_ws.archive.glob("*.csv"))) == 2


def test_partial_files_are_left_alone(empty_ws: Workspace) -> None:
    """Files still being written (.part, .tmp) or hidden are not ingested."""
    drop(empty_ws, "pos.csv.part", HEADER)
    drop(empty_ws, ".hidden.csv", HEADER)
    report = ingest(empty_ws)
    assert report.loaded == report.quarantined == []
    assert (empty_ws.inbox / "pos.csv.part").exists()


def test_bad_security_master_keeps_previous(empty_ws: Workspace) -> None:
    """A broken security master is quarantined and the previous one stays current."""
    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    ingest(empty_ws)
    empty_ws.securities.write_text(SECURITIES + "BAD,BAD,Bad\n", encoding="utf-8")
    report = ingest(empty_ws)
    assert report.quarantined and report.quarantined[0]["file"] == "securities.csv"
    with db.connect(empty_ws.warehouse) as con:
        master = db.query(con, "snapshot/securities", {"max_file_id": snapshot.LATEST})
    assert master["security_id"].to_list() == ["GEQ", "IGB"]


def one_portfolio_loaded(ws: Workspace) -> None:
    """Portfolio p1 (account A1, 60/40) with its positions as of 2026-09-30 loaded as v1.csv."""
    ws.securities.write_text(SECURITIES, encoding="utf-8")
    (ws.ips / "p1.yaml").write_text(
        'id: p1\nname: p1\naccounts: [{id: "A1", tax_status: tax_exempt}]\n'
        "asset_classes: {eq: {target: 60%}, fi: {target: 40%}}\n",
        encoding="utf-8",
    )
    drop(
        ws,
        "v1.csv",
        HEADER + "2026-09-30,A1,GEQ,60,100.00,6000.00,USD\n"
        "2026-09-30,A1,IGB,40,100.00,4000.00,USD\n",
    )
    ingest(ws)


def test_quarantined_restatement_blocks_portfolio(empty_ws: Workspace) -> None:
    """A re-sent file that is quarantined leaves the older data loaded but blocks trading."""
    import datetime as dt

    from ballast import review

    one_portfolio_loaded(empty_ws)
    drop(empty_ws, "v2.csv", HEADER + "2026-09-30,A1,GEQ,6O,100.00,6000.00,USD\n")
    ingest(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        c = review.review(con, policy_set.load_policies(empty_ws), dt.date(2026, 9, 30))
    (msg,) = c.errors["message"].to_list()
    assert msg.startswith("account A1: a newer file for this date was quarantined")
    assert "v2.csv, row 2, column quantity" in msg


def test_quarantine_of_another_date_is_ignored(empty_ws: Workspace) -> None:
    """A file quarantined for another date does not explain or block this date's review."""
    drop(empty_ws, "old.csv", HEADER + "2026-06-30,A1,GEQ,x,100.00,6000.00,USD\n")
    ingest(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        q = snapshot.take(con, dt.date(2026, 9, 30), ["A1"]).quarantined
    assert q.is_empty()


def test_security_master_in_inbox_refused(empty_ws: Workspace) -> None:
    """A security master dropped in the inbox is quarantined, not made current."""
    drop(empty_ws, "sec.csv", SECURITIES)
    (q,) = ingest(empty_ws).quarantined
    assert "belongs in reference/securities.csv" in q["reason"]


def test_repeat_of_quarantined_file_says_so(empty_ws: Workspace) -> None:
    """Re-sending a quarantined file's exact bytes is recognised as that quarantined file."""
    bad = HEADER + "2026-09-30,A1,GEQ,x,100.00,1000.00,USD\n"
    drop(empty_ws, "bad.csv", bad)
    ingest(empty_ws)
    drop(empty_ws, "bad-again.csv", bad)
    (dup,) = ingest(empty_ws).duplicates
    assert dup["status"] == "quarantined"


def test_restatement_reported_by_ingest_and_review(empty_ws: Workspace) -> None:
    """Ingest names the file a restatement supersedes; the review says it used the new one."""
    from ballast import review

    one_portfolio_loaded(empty_ws)
    drop(
        empty_ws,
        "v2.csv",
        HEADER + "2026-09-30,A1,GEQ,61,100.00,6100.00,USD\n"
        "2026-09-30,A1,IGB,40,100.00,4000.00,USD\n",
    )
    (entry,) = ingest(empty_ws).loaded
    assert entry["restates"] == [
        {
            "file": "v1.csv",
            "file_id": 2,  # file #1 is the security master
            "kind": "positions",
            "account_id": "A1",
            "as_of_date": "2026-09-30",
        }
    ]
    with db.connect(empty_ws.warehouse) as con:
        c = review.review(con, policy_set.load_policies(empty_ws), dt.date(2026, 9, 30))
    assert c.warnings["message"].to_list() == [
        "positions of account A1 as of 2026-09-30 come from the restated file v2.csv (file #3), "
        "which replaces v1.csv (file #2)"
    ]
