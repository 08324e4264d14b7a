"""``verify`` for files: each ledger row and the warehouse rows loaded from it against the digests
its ``file_loaded``/``file_quarantined`` event kept, every file of the ledger in the trail and
back, and every archived file (custodian files and IPS versions) re-hashed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from ballast.audit import digests
from ballast.audit.findings import Findings, change
from ballast.audit.trail import Event, Trail
from ballast.ingest.files import sha256_file
from ballast.warehouse import db
from ballast.workspace import Workspace


def _label(fid: int, name: str | None) -> str:
    return f"file #{fid} ({name})" if name else f"file #{fid}"


def _ledger_fields(row: dict[str, Any], e: Event) -> str:
    """Which of the facts the event states about the file its ledger row now contradicts."""
    p = e.payload
    status = "loaded" if e.event == "file_loaded" else "quarantined"
    pairs = [
        ("sha256", row["sha256"], p.get("sha256")),
        ("original_name", row["original_name"], p.get("file")),
        ("kind", row["kind"], p.get("kind")),
        ("rows", row["rows"], p.get("rows")),
        ("status", row["status"], status),
    ]
    wrong = [f"{k} is {a!r}, not {b!r}" for k, a, b in pairs if a != b and b is not None]
    return f": {'; '.join(wrong)}" if wrong else ""


def _check_records(
    fid: int, row: dict[str, Any] | None, e: Event, now: digests.Records, found: Findings
) -> None:
    recorded = e.payload.get("records")
    label = _label(fid, e.payload.get("file"))
    if not isinstance(recorded, dict):
        found.note(
            f"{label}: recorded (seq {e.seq}) before row digests were kept: its ledger row and "
            "warehouse rows are not covered"
        )
        return
    for table in sorted(set(recorded) | set(now)):
        what = change(recorded.get(table), now.get(table))
        if what is None:
            continue
        if table == "file_ledger" and row is not None:
            found.problem(
                f"{label}: its file_ledger row was changed{_ledger_fields(row, e)} "
                f"(recorded at seq {e.seq})"
            )
        elif table != "file_ledger":
            found.problem(f"{label}: {table}: {what} (recorded at seq {e.seq})")


def check_ledger(
    con: duckdb.DuckDBPyConnection,
    trail: Trail,
    unfinished: list[dt.datetime],
    found: Findings,
) -> dict[int, dict[str, Any]]:
    """Ledger rows and warehouse rows against the trail; returns the ledger by file id."""
    ledger = {
        r["file_id"]: r
        for r in db.query(con, "audit/records/file_ledger", {"file_ids": None}).iter_rows(
            named=True
        )
    }
    records = digests.file_records(con)
    since = min(unfinished) if unfinished else None
    for fid, row in ledger.items():
        found.count("files")
        e = trail.files.get(fid)
        if e is not None:
            _check_records(fid, row, e, records.get(fid, {}), found)
        elif since is not None and row["loaded_at"] >= since:
            found.note(
                f"{_label(fid, row['original_name'])}: loaded by a run that did not finish, "
                "before it was recorded in the audit trail; the next run records it"
            )
        else:
            found.problem(
                f"{_label(fid, row['original_name'])}: in the file ledger but not in the audit "
                "trail: a row added outside ballast"
            )
        found.count("warehouse rows", sum(int(t["rows"]) for t in records.get(fid, {}).values()))
    for fid, e in sorted(trail.files.items()):
        if fid not in ledger:
            found.problem(
                f"{_label(fid, e.payload.get('file'))}: in the audit trail (seq {e.seq}) but "
                "missing from the file ledger: its row was deleted"
            )
            _check_records(fid, None, e, records.get(fid, {}), found)
    for fid in sorted(set(records) - set(ledger) - set(trail.files)):
        for table, t in sorted(records[fid].items()):
            found.problem(
                f"{table}: {t['rows']} rows carry file id {fid}, which neither the file ledger "
                "nor the audit trail has: rows added outside ballast"
            )
    return ledger


def _rehash(ws: Workspace, path: Path, want: str, what: str, purged: bool, found: Findings) -> None:
    shown = path.relative_to(ws.root)
    try:
        got, _ = sha256_file(path)
    except FileNotFoundError:
        if not purged:
            found.problem(f"{what}: {shown} is missing (deleted, and not by a purge)")
        return
    except OSError as exc:
        found.problem(f"{what}: {shown} cannot be read ({exc.strerror or exc})")
        return
    found.count("archived files")
    if got != want:
        found.problem(
            f"{what}: {shown} was edited: its SHA-256 is {got[:12]}…, the audit trail says "
            f"{want[:12]}…"
        )


def check_archive(
    ws: Workspace, trail: Trail, ledger: dict[int, dict[str, Any]], found: Findings
) -> None:
    """Every archived custodian file, IPS version and model version re-hashed."""
    for fid, row in ledger.items():
        e = trail.files.get(fid)
        want = str(e.payload.get("sha256") or row["sha256"]) if e else row["sha256"]
        path = ws.archive / row["archive_name"]
        purged = want in trail.purged_files
        _rehash(ws, path, want, _label(fid, row["original_name"]), purged, found)
    for sha, (name, run_id) in sorted(trail.ips.items()):
        path = ws.archive / "ips" / f"{sha}.yaml"
        what = f"IPS {name} of run {run_id}"
        _rehash(ws, path, sha, what, sha in trail.purged_files, found)
    for sha, (name, run_id) in sorted(trail.models.items()):
        path = ws.archive / "models" / f"{sha}.yaml"
        what = f"model {name} of run {run_id}"
        _rehash(ws, path, sha, what, sha in trail.purged_files, found)


def check(
    con: duckdb.DuckDBPyConnection, ws: Workspace, trail: Trail, unfinished: list[dt.datetime]
) -> Findings:
    """Files: ledger, warehouse rows and archive against the trail."""
    found = Findings()
    ledger = check_ledger(con, trail, unfinished, found)
    check_archive(ws, trail, ledger, found)
    return found
