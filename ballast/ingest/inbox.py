"""The three ingest stages over plain data: stage (read), validate (GX), commit (load/quarantine).

Each stage is a plain function so the Prefect tasks stay thin and tests need no Prefect.
A file may hold several canonical parts (a Flex statement has positions, lots, trades and FX
rates); it is committed in one DuckDB transaction: loaded whole, or not at all.

Files still being written are *deferred*: left untouched in the inbox for the next run and
reported (``IngestReport.deferred``), never read half-written. A file is deferred when it was
modified less than ``ingest.stable_seconds`` ago (``ballast.yaml``; 0, the default, turns the
age rule off), when its size or modification time changed while it was read, or when it
changed between staging and commit. A file that disappears while being staged raises
``FileInFlux``, a transient error: the stage is retried and reads the inbox again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ballast import config as ballast_config
from ballast.errors import DataError
from ballast.ingest import adapters, containers, files
from ballast.ingest.reader import ParsedFile, mentioned, parse_bytes
from ballast.kinds import SECURITIES
from ballast.ops import progress
from ballast.ops.transient import FileInFlux
from ballast.warehouse import db
from ballast.warehouse.snapshot import LATEST
from ballast.workspace import Workspace

_SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
HEAD_BYTES = 64 * 1024
DEFAULT_MAX_MB = 512  # larger files are refused unread ($BALLAST_MAX_FILE_MB overrides)


def max_file_bytes() -> int:
    """The largest file ingest reads, in bytes."""
    return int(float(os.environ.get("BALLAST_MAX_FILE_MB", DEFAULT_MAX_MB)) * 1024 * 1024)


@dataclass(frozen=True)
class StagedFile:
    """One file on its way in: its canonical parts, or the error that keeps it out."""

    path: Path
    name: str
    sha256: str
    size: int
    format: str | None = None  # the adapter's name, or the canonical kind
    parts: tuple[ParsedFile, ...] = ()
    error: str | None = None
    duplicate_of: int | None = None
    seen_as: str | None = None  # for a duplicate: loaded or quarantined the first time
    validations: tuple[Any, ...] = ()  # ballast.ingest.validation.ValidationOutcome per part
    consume: bool = True  # remove from inbox once committed (not for reference files)
    mtime_ns: int | None = None  # modification time when staged (checked again at commit)
    deferred: str | None = None  # why it is left for the next run (still being written)

    @property
    def rows(self) -> int | None:
        return sum(p.frame.height for p in self.parts) if self.parts else None

    def column_values(self, column: str) -> list:
        """Distinct values of ``column`` across the parts that have it."""
        values = set()
        for p in self.parts:
            if column in p.frame.columns:
                values |= set(p.frame[column].drop_nulls().unique().to_list())
        return sorted(values)


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did, for the CLI, the report and the audit trail (``as_dict`` is its
    form in the audit trail and in the flows' results)."""

    loaded: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    deferred: list[dict] = field(default_factory=list)  # still being written: left in place

    def as_dict(self) -> dict:
        return {
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "deferred": self.deferred,
        }


def inbox_files(ws: Workspace) -> list[Path]:
    """Files waiting in the inbox, in name order; hidden and partial files are left alone."""
    return sorted(
        p
        for p in ws.inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_SKIP_SUFFIXES)
    )


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    """SHA-256 → (file id, status) of everything already in the ledger."""
    rows = db.query(con, "staging/known_files")
    return {r["sha256"]: (r["file_id"], r["status"]) for r in rows.iter_rows(named=True)}


def parse_file(data: bytes, name: str, ctx: adapters.Context) -> tuple[str, list[ParsedFile]]:
    """(format, parts): a known custodian format through its adapter, else canonical CSV."""
    adapter = adapters.find(name, data[:HEAD_BYTES])
    if adapter is not None:
        return adapter.name, adapter.parse(data, name, ctx)
    parsed = parse_bytes(data, name)
    return parsed.kind.name, [parsed]


def _gone(path: Path) -> FileInFlux:
    return FileInFlux(f"{path.name}: disappeared from {path.parent} while it was read")


def _stat(path: Path) -> os.stat_result:
    """The file's status; a file gone from the inbox is in flux (transient)."""
    try:
        return path.stat()
    except FileNotFoundError:
        raise _gone(path) from None


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def _read(path: Path, base: StagedFile, known: dict, ctx: adapters.Context) -> StagedFile:
    """Hash and parse one file (or mark it a duplicate, or carry its error)."""
    try:
        sha, size = files.sha256_file(path)
    except FileNotFoundError:
        raise _gone(path) from None
    base = replace(base, sha256=sha, size=size)
    if sha in known:
        return replace(base, duplicate_of=known[sha][0], seen_as=known[sha][1])
    try:
        limit = max_file_bytes()
        if size > limit:
            raise DataError(
                path.name,
                f"is {size / 2**20:,.1f} MB, larger than the "
                f"{limit / 2**20:,.0f} MB limit (BALLAST_MAX_FILE_MB)",
            )
        data = path.read_bytes()
        containers.refuse(data, path.name)
        fmt, parts = parse_file(data, path.name, ctx)
        if base.consume and any(p.kind is SECURITIES for p in parts):
            raise DataError(
                path.name,
                "is a security master: it belongs in reference/securities.csv, not the inbox",
            )
        return replace(base, format=fmt, parts=tuple(parts))
    except FileNotFoundError:
        raise _gone(path) from None
    except DataError as exc:
        return replace(base, error=str(exc))


def stage(
    paths: list[Path],
    known: dict[str, tuple[int, str]],
    ctx: adapters.Context,
    *,
    consume: bool = True,
    stable_seconds: float = 0.0,
) -> list[StagedFile]:
    """Hash and parse each file; byte-identical repeats are marked, not parsed; files still
    being written (see the module docstring) are deferred, not read."""
    now = time.time()
    staged = []
    for path in paths:
        before = _stat(path)
        base = StagedFile(
            path=path,
            name=path.name,
            sha256="",
            size=before.st_size,
            consume=consume,
            mtime_ns=before.st_mtime_ns,
        )
        age = now - before.st_mtime
        if age < stable_seconds:
            why = f"modified {max(age, 0):.0f} s ago, less than ingest.stable_seconds"
            staged.append(replace(base, deferred=why))
            continue
        item = _read(path, base, known, ctx)
        if not _same(before, _stat(path)):
            item = replace(base, deferred="it changed while it was read")
        staged.append(item)
    return staged


def validate(staged: list[StagedFile]) -> list[StagedFile]:
    """Run each part's GX suite; the first failure becomes the file's error."""
    from ballast.ingest.validation import validate_frame

    out = []
    for s in staged:
        progress.advance()
        if not s.parts or s.error:
            out.append(s)
            continue
        outcomes = tuple(validate_frame(p.kind.name, p.frame, s.name) for p in s.parts)
        failures = [f for o in outcomes for f in o.failures]
        error = None
        if failures:
            more = len(failures) - 1
            error = failures[0].message + (f" (and {more} more)" if more > 0 else "")
        out.append(replace(s, validations=outcomes, error=error))
    return out


def _ledger_row(s: StagedFile, status: str, archive_path: Path) -> dict:
    accounts, dates = s.column_values("account_id"), s.column_values("as_of_date")
    if not s.parts and s.size <= max_file_bytes():  # best effort for a file that did not parse
        data = s.path.read_bytes()
        accounts = mentioned(data, "account_id")
        dates = _dates(mentioned(data, "as_of_date"))
    return {
        "sha256": s.sha256,
        "original_name": s.name,
        "size_bytes": s.size,
        "kind": s.format,
        "rows": s.rows,
        "status": status,
        "reason": s.error,
        "accounts": accounts,
        "as_of_dates": dates,
        "archive_path": str(archive_path),
        "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }


def _dates(texts: list[str]) -> list[dt.date]:
    out = []
    for t in texts:
        try:
            out.append(dt.date.fromisoformat(t))
        except ValueError:
            continue
    return out


def _commit_one(con: duckdb.DuckDBPyConnection, ws: Workspace, s: StagedFile) -> dict:
    status = "quarantined" if s.error else "loaded"
    archived = files.archive(s.path, s.sha256, ws.archive)
    con.execute("begin transaction")
    try:
        file_id = db.scalar(con, "staging/insert_ledger", _ledger_row(s, status, archived))
        for v in s.validations:
            db.execute(
                con,
                "staging/insert_validation",
                {
                    "file_id": file_id,
                    "kind": v.kind,
                    "success": v.success,
                    "evaluated": v.evaluated,
                    "failures": [f.message for f in v.failures],
                    "result_json": json.dumps(v.result, sort_keys=True, default=str),
                },
            )
        if status == "loaded":
            for p in s.parts:
                db.append(
                    con,
                    p.kind.name,
                    p.frame.with_columns(pl.lit(file_id, pl.Int32).alias("file_id")),
                )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    entry = {
        "file": s.name,
        "file_id": file_id,
        "sha256": s.sha256,
        "kind": s.format,
        "rows": s.rows,
    }
    if status == "loaded":
        entry |= _restates(con, file_id)
    if status == "quarantined":
        dest = files.quarantine(s.path, file_id, s.error or "", ws.quarantine, move=s.consume)
        entry |= {"reason": s.error, "quarantine_path": str(dest)}
    return entry


def _restates(con: duckdb.DuckDBPyConnection, file_id: int) -> dict:
    """``{"restates": [...]}`` naming earlier files this one supersedes, or nothing."""
    replaced = db.query(con, "audit/superseded_files", {"file_id": file_id})
    if replaced.is_empty():
        return {}
    return {
        "restates": [
            {
                "file": r["original_name"],
                "file_id": r["file_id"],
                "kind": r["kind"],
                "account_id": r["account_id"],
                "as_of_date": r["as_of_date"].isoformat(),
            }
            for r in replaced.iter_rows(named=True)
        ]
    }


GONE = "it disappeared from the inbox before it was loaded"
CHANGED = "it changed after it was read"


def _changed_since_staged(s: StagedFile) -> str | None:
    """``GONE`` or ``CHANGED`` when the file is no longer as staged; None when it is."""
    if s.mtime_ns is None:
        return None
    try:
        now = s.path.stat()
    except FileNotFoundError:
        return GONE
    return CHANGED if (now.st_size, now.st_mtime_ns) != (s.size, s.mtime_ns) else None


def commit(con: duckdb.DuckDBPyConnection, ws: Workspace, staged: list[StagedFile]) -> IngestReport:
    """Load or quarantine each staged file; then take it out of the inbox.

    Safe to run again on the same staged files (a retried task): a file whose bytes are
    already in the ledger is reported as a duplicate, never committed twice. Deferred files,
    and files that changed since they were staged, stay in the inbox untouched.
    """
    report = IngestReport()
    known = known_files(con)
    for s in staged:
        progress.advance()
        changed = _changed_since_staged(s)
        seen = known.get(s.sha256) if s.duplicate_of is None else (s.duplicate_of, s.seen_as)
        if s.deferred or changed == CHANGED or (changed == GONE and seen is None):
            report.deferred.append({"file": s.name, "reason": s.deferred or changed})
            continue
        if seen is not None:  # (gone: taken in by an earlier attempt of this commit)
            report.duplicates.append(
                {"file": s.name, "file_id": seen[0], "sha256": s.sha256, "status": seen[1]}
            )
        else:
            entry = _commit_one(con, ws, s)
            (report.quarantined if s.error else report.loaded).append(entry)
            known[s.sha256] = (entry["file_id"], "quarantined" if s.error else "loaded")
        if s.consume:
            s.path.unlink(missing_ok=True)
    return report


def _master(con: duckdb.DuckDBPyConnection, staged_master: StagedFile | None) -> pl.DataFrame:
    """The security master adapters map against: a newly staged one, else the current one."""
    if staged_master is not None and staged_master.parts and not staged_master.error:
        frame = staged_master.parts[0].frame
        for col in ("isin", "cusip"):
            if col not in frame.columns:
                frame = frame.with_columns(pl.lit(None, pl.String).alias(col))
        return frame.select("security_id", "symbol", "isin", "cusip", "asset_class")
    return db.query(con, "snapshot/securities", {"max_file_id": LATEST}).select(
        "security_id", "symbol", "isin", "cusip", "asset_class"
    )


def stage_workspace(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[StagedFile]:
    """Stage the security master (when it changed) and every inbox file."""
    known = known_files(con)
    stable = ballast_config.load_ingest(ws.root).stable_seconds
    master: StagedFile | None = None
    if ws.securities.exists():
        ref = stage(
            [ws.securities],
            known,
            adapters.Context(pl.DataFrame()),
            consume=False,
            stable_seconds=stable,
        )
        master = ref[0] if ref[0].duplicate_of is None else None
        if master and master.parts and master.parts[0].kind is not SECURITIES:
            master = replace(
                master,
                parts=(),
                error=(
                    f"{ws.securities.name}: is not a security master (its header is "
                    f"{master.parts[0].kind.name})"
                ),
            )
    ctx = adapters.Context(_master(con, master))  # a deferred master: the current one
    return ([master] if master else []) + stage(inbox_files(ws), known, ctx, stable_seconds=stable)
