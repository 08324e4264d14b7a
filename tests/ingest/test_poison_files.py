"""One poison file never blocks the rest (issue #11 item 1): an unexpected exception while
staging, validating or committing one file quarantines that file with its reason on one line,
the others load, and nothing already loaded is lost. A failure of the workspace or warehouse
itself (no file's fault) still stops the run. Real DuckDB file, real ingest; the fault is
injected for one file name only."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from ballast.ingest import containers, inbox, validation
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.ingest.test_ingest import HEADER, ingest

POISON = "b_poison.csv"


def row(account: str) -> str:
    return f"2026-09-30,{account},GEQ,10,100.00,1000.00,USD\n"


def positions(ws: Workspace) -> list[tuple[str, str]]:
    """(account, file name) of every loaded position row."""
    with db.connect(ws.warehouse) as con:
        rows = con.execute(
            "select p.account_id, l.original_name from positions p "
            "join file_ledger l using (file_id) order by 1"
        ).fetchall()
    return [(a, n) for a, n in rows]


def ledger(ws: Workspace) -> dict[str, tuple[str, str | None]]:
    with db.connect(ws.warehouse) as con:
        rows = con.execute("select original_name, status, reason from file_ledger").fetchall()
    return {n: (s, r) for n, s, r in rows}


@pytest.fixture
def earlier(empty_ws: Workspace) -> Workspace:
    """A workspace with one file loaded by an earlier run, and three new files waiting: the
    poison in the middle."""
    (empty_ws.inbox / "0_earlier.csv").write_text(HEADER + row("E0"), encoding="utf-8")
    assert [e["file"] for e in ingest(empty_ws).loaded] == ["0_earlier.csv"]
    for name, account in (("a_good.csv", "A1"), (POISON, "P1"), ("c_good.csv", "C1")):
        (empty_ws.inbox / name).write_text(HEADER + row(account), encoding="utf-8")
    return empty_ws


def only_for(name: str, real: Callable[..., Any], exc: BaseException) -> Callable[..., Any]:
    """``real``, except that it raises ``exc`` for the file called ``name``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, str) and a == name for a in [*args, *kwargs.values()]):
            raise exc
        return real(*args, **kwargs)

    return wrapper


def check_poison_quarantined(ws: Workspace, report: inbox.IngestReport, reason: str) -> None:
    assert [e["file"] for e in report.loaded] == ["a_good.csv", "c_good.csv"]
    (q,) = report.quarantined
    assert (q["file"], q["reason"]) == (POISON, reason)
    assert reason.isprintable()
    note = (ws.quarantine / f"{q['file_id']:06d}-{POISON}.reason.txt").read_text(encoding="utf-8")
    assert note.splitlines()[0] == reason
    assert not (ws.inbox / POISON).exists()
    assert ledger(ws)[POISON] == ("quarantined", reason)
    # nothing already loaded is lost, nothing of the poison is in
    assert positions(ws) == [
        ("A1", "a_good.csv"),
        ("C1", "c_good.csv"),
        ("E0", "0_earlier.csv"),
    ]


def test_unexpected_error_while_staging(earlier: Workspace, monkeypatch) -> None:
    boom = RuntimeError("internal parser fault\nwith a second line")
    monkeypatch.setattr(containers, "refuse", only_for(POISON, containers.refuse, boom))
    report = ingest(earlier)
    check_poison_quarantined(
        earlier,
        report,
        f"{POISON}: could not be read (RuntimeError: internal parser fault)",
    )


def test_unexpected_error_while_validating(earlier: Workspace, monkeypatch) -> None:
    boom = KeyError("unexpected_index_list")
    monkeypatch.setattr(
        validation, "validate_frame", only_for(POISON, validation.validate_frame, boom)
    )
    report = ingest(earlier)
    check_poison_quarantined(
        earlier,
        report,
        f"{POISON}: could not be validated (KeyError: 'unexpected_index_list')",
    )


def test_unexpected_error_while_committing(earlier: Workspace, monkeypatch) -> None:
    """The crash of the original report (``year 0 is out of range``) raised while loading one
    file: its transaction is rolled back, it is quarantined, and the run goes on."""
    real = db.append

    def append(con: Any, table: str, frame: pl.DataFrame) -> None:
        if "account_id" in frame.columns and "P1" in frame["account_id"].to_list():
            raise ValueError("year 0 is out of range")
        real(con, table, frame)

    monkeypatch.setattr(db, "append", append)
    report = ingest(earlier)
    check_poison_quarantined(
        earlier, report, f"{POISON}: could not be loaded (ValueError: year 0 is out of range)"
    )
    monkeypatch.undo()
    (earlier.inbox / "d_next.csv").write_text(HEADER + row("D1"), encoding="utf-8")
    again = ingest(earlier)
    assert [e["file"] for e in again.loaded] == ["d_next.csv"] and again.quarantined == []
    assert ("D1", "d_next.csv") in positions(earlier)


def test_the_same_poison_again_is_already_quarantined(earlier: Workspace, monkeypatch) -> None:
    """The next run does not meet the poison again: its bytes are known as quarantined."""
    boom = RuntimeError("fault")
    monkeypatch.setattr(containers, "refuse", only_for(POISON, containers.refuse, boom))
    data = (earlier.inbox / POISON).read_bytes()
    ingest(earlier)
    monkeypatch.undo()
    (earlier.inbox / "copy.csv").write_bytes(data)
    report = ingest(earlier)
    assert report.loaded == report.quarantined == []
    assert [(d["file"], d["status"]) for d in report.duplicates] == [("copy.csv", "quarantined")]


def test_storage_failure_still_stops_and_loses_nothing(earlier: Workspace, monkeypatch) -> None:
    """A full disk is nobody's file: the run stops, the file stays in the inbox (for the next
    run), and what was loaded before is intact."""
    real = db.append

    def append(con: Any, table: str, frame: pl.DataFrame) -> None:
        if "account_id" in frame.columns and "P1" in frame["account_id"].to_list():
            raise OSError(errno.ENOSPC, "No space left on device")
        real(con, table, frame)

    monkeypatch.setattr(db, "append", append)
    with pytest.raises(OSError, match="No space left"):
        ingest(earlier)
    monkeypatch.undo()
    assert (earlier.inbox / POISON).exists()
    assert POISON not in ledger(earlier)
    assert positions(earlier) == [("A1", "a_good.csv"), ("E0", "0_earlier.csv")]
    report = ingest(earlier)
    assert [e["file"] for e in report.loaded] == [POISON, "c_good.csv"]
