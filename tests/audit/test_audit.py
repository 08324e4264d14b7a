"""The audit trail: hash chain, head file, tamper detection, ingest events and the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from ballast import workspace
from ballast.audit import chain as audit
from ballast.ingest import inbox
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.support.audit_cli import audit_app

HEADER = "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"


def fill(ws: Workspace, n: int = 6, event: str = "file_loaded") -> list[str]:
    """Append ``n`` events and return their hashes (``file_loaded`` events name files the ledger
    does not have: only the chain checks of ``chain.verify`` pass on them)."""
    with db.connect(ws.warehouse) as con:
        return [
            audit.append(
                con,
                ws,
                event,
                actor="tester",
                subject=f"f{i}.csv",
                payload={"file_id": i, "note": "é ünïcode"},
            )
            for i in range(1, n + 1)
        ]


def tampered_copy(ws: Workspace, dest: Path, *sql: str) -> Workspace:
    """A copy of the workspace's warehouse and head file, with raw SQL run on the copy."""
    copy = workspace.init(dest)
    shutil.copyfile(ws.warehouse, copy.warehouse)
    shutil.copyfile(audit.head_path(ws), audit.head_path(copy))
    con = duckdb.connect(str(copy.warehouse))
    for stmt in sql:
        con.execute(stmt)
    con.close()
    return copy


def problems(ws: Workspace) -> list[audit.Problem]:
    with db.connect(ws.warehouse) as con:
        return audit.verify(con, ws)


def test_row_hash_is_as_documented(empty_ws: Workspace) -> None:
    """Each row's hash is SHA-256 of the documented JSON array, chained to the previous row."""
    hashes = fill(empty_ws, 2)
    with db.connect(empty_ws.warehouse) as con:
        rows = audit.rows(con)
    assert [r["seq"] for r in rows] == [1, 2]
    assert rows[0]["prev_hash"] == "0" * 64 and rows[1]["prev_hash"] == hashes[0]
    r = rows[1]
    message = json.dumps(
        [
            2,
            r["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "file_loaded",
            "tester",
            None,
            "f2.csv",
            r["payload"],
            hashes[0],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert hashlib.sha256(message.encode()).hexdigest() == r["row_hash"] == hashes[1]
    assert json.loads(r["payload"]) == {"file_id": 2, "note": "é ünïcode"}
    assert audit.head_path(empty_ws).read_text() == f"2 {hashes[1]}\n"


def test_intact_chain_verifies(empty_ws: Workspace) -> None:
    """An untouched log has no problems; an empty one neither."""
    assert problems(empty_ws) == []
    fill(empty_ws)
    assert problems(empty_ws) == []


def test_edited_row_is_named(empty_ws: Workspace, tmp_path: Path) -> None:
    """An edited payload is reported at its seq, and nothing else is."""
    fill(empty_ws)
    edit = "update audit_log set payload = '{\"file_id\":99}' where seq = 3"
    copy = tampered_copy(empty_ws, tmp_path / "edit", edit)
    (p,) = problems(copy)
    assert (p.kind, p.seq) == ("edited", 3)
    assert "seq 3 (file_loaded f3.csv" in str(p) and "edited" in str(p)
    assert problems(empty_ws) == []  # the original is untouched


def test_deleted_row_is_named(empty_ws: Workspace, tmp_path: Path) -> None:
    """A deleted row in the middle is reported as the missing seq."""
    fill(empty_ws)
    copy = tampered_copy(empty_ws, tmp_path / "del", "delete from audit_log where seq = 2")
    (p,) = problems(copy)
    assert (p.kind, p.seq) == ("deleted", 2)
    assert str(p).startswith("seq 2: row 2 was deleted")


def test_truncated_tail_is_named(empty_ws: Workspace, tmp_path: Path) -> None:
    """Deleting the newest rows is caught by the head file, naming the missing seqs."""
    fill(empty_ws)
    copy = tampered_copy(empty_ws, tmp_path / "trunc", "delete from audit_log where seq > 4")
    (p,) = problems(copy)
    assert (p.kind, p.seq) == ("truncated", 5)
    assert "rows 5..6 are missing" in str(p)


def test_rehashed_edit_is_caught(empty_ws: Workspace, tmp_path: Path) -> None:
    """An edit whose row hash was recomputed breaks the next row's link."""
    fill(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        r = audit.rows(con)[2]
    forged = audit.row_hash(
        3, r["at"], r["event"], r["actor"], None, r["subject"], "{}", r["prev_hash"]
    )
    copy = tampered_copy(
        empty_ws,
        tmp_path / "rehash",
        f"update audit_log set payload = '{{}}', row_hash = '{forged}' where seq = 3",
    )
    assert [(p.kind, p.seq) for p in problems(copy)] == [("relinked", 4)]


def test_head_file_disagreeing(empty_ws: Workspace) -> None:
    """A head file naming another hash, or missing, is reported."""
    fill(empty_ws, 3)
    audit.head_path(empty_ws).write_text(f"3 {'a' * 64}\n")
    assert [p.kind for p in problems(empty_ws)] == ["rewritten"]
    audit.head_path(empty_ws).unlink()
    assert [p.kind for p in problems(empty_ws)] == ["head_missing"]


def test_append_after_truncation_keeps_the_evidence(empty_ws: Workspace) -> None:
    """Appending to a truncated log first records an anomaly, which verify keeps reporting."""
    fill(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        con.execute("delete from audit_log where seq > 4")
        audit.append(con, empty_ws, "ingest", actor="tester", payload={})
        log = audit.rows(con)
    assert [r["event"] for r in log[4:]] == ["audit_anomaly", "ingest"]
    assert "audit/head says seq 6 but the log ends at seq 4" in log[4]["payload"]
    assert [(p.kind, p.seq) for p in problems(empty_ws)] == [("anomaly", 5)]


def test_unknown_event_refused(empty_ws: Workspace) -> None:
    """Only the documented events can be appended."""
    with db.connect(empty_ws.warehouse) as con, pytest.raises(ValueError):
        audit.append(con, empty_ws, "deleted_everything", actor="x", payload={})


def _ingest(ws: Workspace, name: str, text: str) -> dict:
    (ws.inbox / name).write_text(text, encoding="utf-8")
    with db.connect(ws.warehouse) as con:
        report = inbox.commit(con, ws, inbox.stage_workspace(con, ws)).as_dict()
        audit.record_ingest(con, ws, report, actor="tester")
    return report


def test_ingest_events_and_restatement(empty_ws: Workspace) -> None:
    """Loading a second file for the same account and date records a restatement naming both."""
    first = _ingest(empty_ws, "a.csv", HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n")
    second = _ingest(empty_ws, "b.csv", HEADER + "2026-09-30,A1,GEQ,11,100.00,1100.00,USD\n")
    with db.connect(empty_ws.warehouse) as con:
        log = audit.rows(con)
    assert [r["event"] for r in log] == [
        "file_loaded",
        "ingest",
        "file_loaded",
        "file_restated",
        "ingest",
    ]
    restated = json.loads(log[3]["payload"])
    assert restated["file_id"] == second["loaded"][0]["file_id"]
    (old,) = restated["replaces"]
    assert (old["file_id"], old["file"], old["account_id"]) == (
        first["loaded"][0]["file_id"],
        "a.csv",
        "A1",
    )
    assert problems(empty_ws) == []


def test_cli_verify(empty_ws: Workspace, tmp_path: Path) -> None:
    """`audit verify` exits 0 when intact and 1 with one line per problem (events that claim
    nothing about the warehouse: a ``file_loaded`` without its ledger row would be a problem)."""
    fill(empty_ws, event="legal_hold")
    runner = CliRunner()
    ok = runner.invoke(audit_app(), ["audit", "verify", "-w", str(empty_ws.root)])
    assert ok.exit_code == 0, ok.output
    assert "audit trail intact: 6 rows" in ok.output
    copy = tampered_copy(
        empty_ws,
        tmp_path / "bad",
        "update audit_log set actor = 'mallory' where seq = 3",
        "delete from audit_log where seq = 5",
    )
    bad = runner.invoke(audit_app(), ["audit", "verify", "-w", str(copy.root)])
    assert bad.exit_code == 1
    lines = [line for line in bad.output.splitlines() if line.startswith("audit:")]
    assert len(lines) == 2
    assert "seq 3 (legal_hold f3.csv" in lines[0] and "seq 5: row 5 was deleted" in lines[1]


def test_full_disk_during_an_append_rolls_it_back(empty_ws: Workspace, monkeypatch) -> None:
    """The new head cannot be written (ENOSPC): the rows are rolled back with it, and the log
    and head still agree (no false ``head_behind``)."""
    import errno

    fill(empty_ws, 2)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit, "_write_tmp", full)
    with db.connect(empty_ws.warehouse) as con, pytest.raises(OSError):
        audit.append(con, empty_ws, "legal_hold", actor="t", subject="x", payload={})
    monkeypatch.undo()
    with db.connect(empty_ws.warehouse) as con:
        assert len(audit.rows(con)) == 2
        assert audit.check(audit.rows(con), empty_ws) == []


def test_append_interrupted_before_the_head_moved_is_a_note(
    empty_ws: Workspace, monkeypatch
) -> None:
    """Committed, then stopped before ``audit/.head.tmp`` was renamed over ``audit/head``: a
    note (no tampering), and the next append moves the head on."""
    fill(empty_ws, 2)

    def stopped(*args, **kwargs):
        raise OSError("stopped")

    monkeypatch.setattr(audit.os, "replace", stopped)
    with db.connect(empty_ws.warehouse) as con, pytest.raises(OSError):
        audit.append(con, empty_ws, "legal_hold", actor="t", subject="x", payload={})
    monkeypatch.undo()
    with db.connect(empty_ws.warehouse) as con:
        (found,) = audit.check(audit.rows(con), empty_ws)
        assert found.is_note and found.kind == "interrupted" and found.seq == 3
        assert audit.verify(con, empty_ws) == []
        audit.append(con, empty_ws, "legal_hold", actor="t", subject="y", payload={})
        assert audit.check(audit.rows(con), empty_ws) == []
    assert audit.read_head(empty_ws).seq == 4


def test_a_large_payload_is_chained_by_the_digest_of_its_detail() -> None:
    """A run_finished payload of 10,000 portfolios chains a few hundred bytes: its maps become
    one audit_detail row per entry, whose digest is that of the maps' canonical JSON (the
    appends after it no longer rewrite megabytes of log, docs/audit.md)."""
    n = 10_000
    payload = {
        "status": "completed",
        "ips": {f"pf-{i:05d}.yaml": f"{i:064x}" for i in range(n)},
        "outputs": {f"pf-{i:05d}.html": f"{i + 1:064x}" for i in range(n)},
        "portfolios": {f"pf-{i:05d}": {"status": "ok", "trades": i % 7} for i in range(n)},
        "portfolio_records": {f"pf-{i:05d}": f"{i + 2:064x}" for i in range(n)},
    }
    chained, detail = audit.split_detail(payload)
    assert detail is not None and detail.entries == 4 * n and detail.rows.height == 4 * n
    assert len(audit.canonical_payload(chained)) < 200
    maps = {k: payload[k] for k in audit.DETAIL_PARTS}
    want = hashlib.sha256(
        json.dumps(maps, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert chained == {"status": "completed", "detail": {"entries": 4 * n, "sha256": want}}
    stored: dict[str, dict] = {}
    for digest, part, key, text in detail.rows.iter_rows():
        assert digest == want
        stored.setdefault(part, {})[key] = json.loads(text)
    assert stored == maps
    assert audit.split_detail({"status": "completed"}) == ({"status": "completed"}, None)
    empty = {"status": "completed", "ips": {}, "outputs": {"results.json": "0" * 64}}
    chained, detail = audit.split_detail(empty)
    assert detail is not None and detail.entries == 1 and chained["ips"] == {}
