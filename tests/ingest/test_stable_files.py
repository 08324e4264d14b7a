"""Files still being written are left in the inbox, untouched, for the next run (issue 6):
the ``ingest.stable_seconds`` age rule, a file changing while it is read or before it is
committed, and a commit run twice (a retried task) loading nothing twice. No Prefect."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ballast.ingest import inbox
from ballast.ops import transient
from ballast.warehouse import db
from ballast.workspace import Workspace

HEADER = "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
ROW = "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n"
SECURITIES = "security_id,symbol,name,asset_class,identical_group\nGEQ,GEQ,Equity,eq,\n"


def aged(path: Path, seconds: float) -> Path:
    """Set the file's modification time ``seconds`` into the past."""
    when = time.time() - seconds
    os.utime(path, (when, when))
    return path


def drop(ws: Workspace, name: str, text: str = HEADER + ROW, age: float = 0) -> Path:
    path = ws.inbox / name
    path.write_text(text, encoding="utf-8")
    return aged(path, age) if age else path


def setup(ws: Workspace, stable: float | None) -> None:
    if stable is not None:
        (ws.root / "ballast.yaml").write_text(f"ingest:\n  stable_seconds: {stable}\n")
    ws.securities.write_text(SECURITIES, encoding="utf-8")
    aged(ws.securities, 3600)


def stage(ws: Workspace) -> list[inbox.StagedFile]:
    with db.connect(ws.warehouse) as con:
        return inbox.stage_workspace(con, ws)


def commit(ws: Workspace, staged: list[inbox.StagedFile]) -> inbox.IngestReport:
    with db.connect(ws.warehouse) as con:
        return inbox.commit(con, ws, staged)


def ledger(ws: Workspace) -> list[str]:
    with db.connect(ws.warehouse) as con:
        rows = con.execute("select original_name from file_ledger order by file_id").fetchall()
    return [r[0] for r in rows]


def test_fresh_file_is_deferred_and_left_untouched(empty_ws: Workspace) -> None:
    setup(empty_ws, stable=60)
    old = drop(empty_ws, "old.csv", age=3600)
    fresh = drop(empty_ws, "fresh.csv", HEADER + ROW.replace("A1", "B2"))
    before = (fresh.read_bytes(), fresh.stat().st_mtime_ns)

    report = commit(empty_ws, stage(empty_ws))

    assert [e["file"] for e in report.loaded] == ["securities.csv", "old.csv"]
    (deferred,) = report.deferred
    assert deferred["file"] == "fresh.csv" and "ingest.stable_seconds" in deferred["reason"]
    assert not old.exists()
    assert (fresh.read_bytes(), fresh.stat().st_mtime_ns) == before  # not read, not moved
    assert ledger(empty_ws) == ["securities.csv", "old.csv"]

    aged(fresh, 120)  # the next run: unchanged for long enough now
    again = commit(empty_ws, stage(empty_ws))
    assert [e["file"] for e in again.loaded] == ["fresh.csv"] and again.deferred == []
    assert not fresh.exists()


def test_young_security_master_is_deferred_too(empty_ws: Workspace) -> None:
    setup(empty_ws, stable=60)
    empty_ws.securities.write_text(SECURITIES + "IGB,IGB,Bond,fi,\n", encoding="utf-8")
    report = commit(empty_ws, stage(empty_ws))
    assert [d["file"] for d in report.deferred] == ["securities.csv"]
    assert empty_ws.securities.exists() and ledger(empty_ws) == []


def test_no_age_rule_by_default(empty_ws: Workspace) -> None:
    setup(empty_ws, stable=None)
    drop(empty_ws, "fresh.csv")
    report = commit(empty_ws, stage(empty_ws))
    assert [e["file"] for e in report.loaded] == ["securities.csv", "fresh.csv"]
    assert report.deferred == []


def test_file_changing_while_read_is_deferred(empty_ws: Workspace, monkeypatch) -> None:
    setup(empty_ws, stable=0)
    path = drop(empty_ws, "growing.csv", age=3600)
    parse = inbox.parse_file

    def writer_appends_meanwhile(data, name, ctx):
        if name == path.name:
            with path.open("a", encoding="utf-8") as f:
                f.write(ROW.replace("A1", "C3"))
        return parse(data, name, ctx)

    monkeypatch.setattr(inbox, "parse_file", writer_appends_meanwhile)
    report = commit(empty_ws, stage(empty_ws))
    assert report.deferred == [{"file": "growing.csv", "reason": "it changed while it was read"}]
    assert path.read_text().count("\n") == 3  # header + both rows: left for the next run
    assert ledger(empty_ws) == ["securities.csv"]


def test_file_changed_after_staging_is_not_committed(empty_ws: Workspace) -> None:
    setup(empty_ws, stable=0)
    path = drop(empty_ws, "pos.csv", age=3600)
    staged = stage(empty_ws)
    with path.open("a", encoding="utf-8") as f:  # the custodian writes again (GX takes time)
        f.write(ROW.replace("A1", "C3"))
    report = commit(empty_ws, staged)
    assert report.deferred == [{"file": "pos.csv", "reason": inbox.CHANGED}]
    assert path.exists() and ledger(empty_ws) == ["securities.csv"]
    assert len(list(empty_ws.archive.glob("*.csv"))) == 1  # only the master was archived


def test_file_vanishing_while_staged_is_transient(empty_ws: Workspace) -> None:
    import polars as pl

    from ballast.ingest import adapters

    with pytest.raises(transient.FileInFlux) as caught:
        inbox.stage([empty_ws.inbox / "gone.csv"], {}, adapters.Context(pl.DataFrame()))
    assert transient.is_transient(caught.value)


def test_commit_twice_loads_once(empty_ws: Workspace) -> None:
    """A retried load (same staged files, some already committed) commits nothing twice."""
    setup(empty_ws, stable=0)
    drop(empty_ws, "a.csv", age=3600)
    drop(empty_ws, "b.csv", HEADER + ROW.replace("A1", "B2"), age=3600)
    staged = stage(empty_ws)
    first = commit(empty_ws, staged)
    second = commit(empty_ws, staged)
    assert [e["file"] for e in first.loaded] == ["securities.csv", "a.csv", "b.csv"]
    assert second.loaded == [] and second.deferred == []
    assert [d["file"] for d in second.duplicates] == ["securities.csv", "a.csv", "b.csv"]
    assert ledger(empty_ws) == ["securities.csv", "a.csv", "b.csv"]
