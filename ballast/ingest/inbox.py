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

Only regular files are read (``ballast.workspace.opened``). Links, folders, FIFOs, sockets,
devices and files that cannot be opened are *refused*: left where they are, never read or
followed, and reported with a one-line reason on every run (``IngestReport.refused``). Hidden
names and partial downloads are not looked at. One file is one unit of failure: an unexpected
error while staging, validating or loading a file quarantines that file with the error as its
reason, and the others go on (storage and lock failures, which no file causes, still stop).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ballast import config as ballast_config
from ballast import workspace
from ballast.errors import DataError, printable
from ballast.ingest import adapters, containers, files, values
from ballast.ingest.reader import ParsedFile, mentioned, parse_bytes
from ballast.kinds import SECURITIES
from ballast.ops import progress
from ballast.ops.transient import FileInFlux, is_transient
from ballast.warehouse import db
from ballast.warehouse.snapshot import LATEST
from ballast.workspace import NotRegular, Workspace

log = logging.getLogger("ballast.ingest")

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
    refused: str | None = None  # why it is never read (not a regular file): reported, left
    identity: workspace.Identity | None = None  # the file as read (checked again at commit)

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
    refused: list[dict] = field(default_factory=list)  # not regular files: left, never read

    def as_dict(self) -> dict:
        return {
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "deferred": self.deferred,
            "refused": self.refused,
        }


def inbox_entries(ws: Workspace) -> workspace.Entries:
    """What waits in the inbox, in name order: regular files, and the entries ingest refuses
    (links, folders, FIFOs …); hidden names and partial downloads are left alone."""
    found = workspace.entries(ws.inbox)
    return workspace.Entries(
        [p for p in found.files if not p.name.endswith(_SKIP_SUFFIXES)],
        [(p, what) for p, what in found.others if not p.name.endswith(_SKIP_SUFFIXES)],
    )


def inbox_files(ws: Workspace) -> list[Path]:
    """Regular files waiting in the inbox, in name order."""
    return inbox_entries(ws).files


def refusal(name: str, what: str) -> str:
    """The one-line reason an entry is not read (``what``: why, e.g. ``a folder``)."""
    return f"{name}: {what}: not read, left where it is"


def _not_regular(name: str, what: str) -> str:
    return refusal(printable(name), f"{what}, not a regular file")


def _unexpected(name: str, doing: str, exc: BaseException) -> str:
    """One line for an error no rule foresaw (its type and first line; no traceback)."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return printable(f"{name}: {doing} ({type(exc).__name__}{': ' + first if first else ''})")


def _storage(exc: BaseException) -> bool:
    """A failure of the workspace or warehouse (disk, permissions, lock), not of one file."""
    return isinstance(
        exc, OSError | MemoryError | duckdb.IOException | duckdb.FatalException
    ) or is_transient(exc)


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    """SHA-256 → (file id, status) of everything already in the ledger."""
    rows = db.query(con, "staging/known_files")
    return {r["sha256"]: (r["file_id"], r["status"]) for r in rows.iter_rows(named=True)}


def parse_file(data: bytes, name: str, ctx: adapters.Context) -> tuple[str, list[ParsedFile]]:
    """(format, parts): a known custodian format through its adapter, else canonical CSV;
    every value checked to be one the warehouse can hold (``values``)."""
    adapter = adapters.find(name, data[:HEAD_BYTES])
    if adapter is not None:
        fmt, parts = adapter.name, adapter.parse(data, name, ctx)
    else:
        parsed = parse_bytes(data, name)
        fmt, parts = parsed.kind.name, [parsed]
    for part in parts:
        values.check(part, name)
    return fmt, parts


def _gone(path: Path) -> FileInFlux:
    return FileInFlux(f"{path.name}: disappeared from {path.parent} while it was read")


def _lstat(path: Path) -> os.stat_result:
    """The entry's own status (a link is not followed); one gone from the inbox is in flux."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise _gone(path) from None


def _bytes(path: Path, base: StagedFile) -> tuple[StagedFile, bytes | None]:
    """Hash the regular file at ``path`` (and read it, unless it is over the size limit)."""
    try:
        with workspace.opened(path) as (fd, st):
            if st.st_size > max_file_bytes():
                sha, size = files.sha256_fd(fd)
                data = None
            else:
                data = files.read_fd(fd)
                sha, size = hashlib.sha256(data).hexdigest(), len(data)
    except FileNotFoundError:
        raise _gone(path) from None
    seen = workspace.identity(st)
    return replace(base, sha256=sha, size=size, mtime_ns=st.st_mtime_ns, identity=seen), data


def _parsed(base: StagedFile, data: bytes | None, ctx: adapters.Context) -> StagedFile:
    """Parse the bytes into canonical parts, or carry the error that keeps the file out."""
    name = base.name
    try:
        if data is None:
            limit = max_file_bytes()
            raise DataError(
                name,
                f"is {base.size / 2**20:,.1f} MB, larger than the "
                f"{limit / 2**20:,.0f} MB limit (BALLAST_MAX_FILE_MB)",
            )
        containers.refuse(data, name)
        fmt, parts = parse_file(data, name, ctx)
        if base.consume and any(p.kind is SECURITIES for p in parts):
            raise DataError(
                name, "is a security master: it belongs in reference/securities.csv, not the inbox"
            )
        return replace(base, format=fmt, parts=tuple(parts))
    except DataError as exc:
        return replace(base, error=str(exc))
    except FileInFlux:
        raise
    except Exception as exc:  # a file no rule foresaw: it alone is quarantined
        if _storage(exc):
            raise
        return replace(base, error=_unexpected(name, "could not be read", exc))


def _read(path: Path, base: StagedFile, known: dict, ctx: adapters.Context) -> StagedFile:
    """Hash and parse one file (or mark it a duplicate, or carry its error or refusal)."""
    try:
        base, data = _bytes(path, base)
    except NotRegular as exc:
        return replace(base, refused=_not_regular(base.name, str(exc)))
    except FileInFlux:
        raise
    except OSError as exc:  # e.g. no permission to read it
        return replace(base, refused=refusal(base.name, f"cannot be opened ({exc.strerror})"))
    if base.sha256 in known:
        return replace(base, duplicate_of=known[base.sha256][0], seen_as=known[base.sha256][1])
    return _parsed(base, data, ctx)


def stage(
    paths: list[Path],
    known: dict[str, tuple[int, str]],
    ctx: adapters.Context,
    *,
    consume: bool = True,
    stable_seconds: float = 0.0,
) -> list[StagedFile]:
    """Hash and parse each file; byte-identical repeats are marked, not parsed; files still
    being written (see the module docstring) are deferred, and entries that are not regular
    files refused, neither read."""
    now = time.time()
    staged = []
    for path in paths:
        before = _lstat(path)
        base = StagedFile(
            path=path,
            name=printable(path.name),
            sha256="",
            size=before.st_size,
            consume=consume,
            mtime_ns=before.st_mtime_ns,
        )
        if workspace.what_is(before.st_mode) is not None:
            what = workspace.describe(path) or "not a regular file"
            staged.append(replace(base, refused=_not_regular(base.name, what)))
            continue
        age = now - before.st_mtime
        if age < stable_seconds:
            why = f"modified {max(age, 0):.0f} s ago, less than ingest.stable_seconds"
            staged.append(replace(base, deferred=why))
            continue
        item = _read(path, base, known, ctx)
        was, after = workspace.identity(before), workspace.identity(_lstat(path))
        if item.refused is None and not was == after == (item.identity or was):
            item = replace(base, deferred="it changed while it was read")
        staged.append(item)
    return staged


def _validated(s: StagedFile) -> StagedFile:
    from ballast.ingest.validator import validate_frame

    outcomes = tuple(validate_frame(p.kind.name, p.frame, s.name) for p in s.parts)
    failures = [f for o in outcomes for f in o.failures]
    error = None
    if failures:
        more = len(failures) - 1
        error = printable(failures[0].message + (f" (and {more} more)" if more > 0 else ""))
    return replace(s, validations=outcomes, error=error)


def validate(staged: list[StagedFile]) -> list[StagedFile]:
    """Run each part's GX suite; the first failure becomes the file's error (as does an
    unexpected error validating it: that file alone is quarantined)."""
    out = []
    for s in staged:
        progress.advance()
        if not s.parts or s.error:
            out.append(s)
            continue
        try:
            out.append(_validated(s))
        except (ImportError, MemoryError):  # GX itself is broken: no file's fault
            raise
        except Exception as exc:
            error = _unexpected(s.name, "could not be validated", exc)
            out.append(replace(s, parts=(), validations=(), error=error))
    from ballast.ingest import validator

    validator.release()  # a command's GX process, done with (its memory freed)
    return out


def _mentioned(s: StagedFile) -> tuple[list[str], list[dt.date]]:
    """Best effort for a file that did not parse: the account ids and dates its text names."""
    if s.size > max_file_bytes():
        return [], []
    try:
        with workspace.opened(s.path) as (fd, st):
            if s.identity is not None and workspace.identity(st) != s.identity:
                return [], []
            data = files.read_fd(fd)
    except (OSError, NotRegular):
        return [], []
    return mentioned(data, "account_id"), _dates(mentioned(data, "as_of_date"))


def _ledger_row(s: StagedFile, status: str, archive_path: Path) -> dict:
    if s.parts:
        accounts, dates = s.column_values("account_id"), s.column_values("as_of_date")
    else:
        accounts, dates = _mentioned(s)
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
            day = dt.date.fromisoformat(t)
        except ValueError:
            continue
        if values.EARLIEST <= day <= values.LATEST:
            out.append(day)
    return out


def _record(con: duckdb.DuckDBPyConnection, s: StagedFile, archived: Path) -> int:
    """The file's ledger row, validation results and (if it passed) rows, in one transaction;
    its file id. On any error nothing of it stays."""
    status = "quarantined" if s.error else "loaded"
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
    except BaseException:
        con.execute("rollback")
        raise
    return int(file_id)


def _commit_one(
    con: duckdb.DuckDBPyConnection, ws: Workspace, s: StagedFile
) -> tuple[StagedFile, dict]:
    """Archive, record and load (or quarantine) one file; the file as committed (an unexpected
    error loading it turns it into a quarantined file) and its report entry."""
    archived = files.archive(s.path, s.sha256, ws.archive, s.identity)
    try:
        file_id = _record(con, s, archived)
    except Exception as exc:
        if _storage(exc):
            raise
        error = _unexpected(s.name, "could not be loaded", exc)
        s = replace(s, parts=(), validations=(), error=error)
        file_id = _record(con, s, archived)
    entry = {
        "file": s.name,
        "file_id": file_id,
        "sha256": s.sha256,
        "kind": s.format,
        "rows": s.rows,
    }
    if s.error:
        dest = files.quarantine(s.path, file_id, s.error, ws.quarantine, move=s.consume)
        entry |= {"reason": s.error, "quarantine_path": str(dest)}
    else:
        entry |= _restates(con, file_id)
    return s, entry


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
        now = os.lstat(s.path)
    except FileNotFoundError:
        return GONE
    if s.identity is not None:
        return CHANGED if workspace.identity(now) != s.identity else None
    return CHANGED if (now.st_size, now.st_mtime_ns) != (s.size, s.mtime_ns) else None


def _refuse(report: IngestReport, s: StagedFile, reason: str) -> None:
    report.refused.append({"file": s.name, "reason": reason})
    log.info("%s", reason)


def commit(con: duckdb.DuckDBPyConnection, ws: Workspace, staged: list[StagedFile]) -> IngestReport:
    """Load or quarantine each staged file; then take it out of the inbox.

    Safe to run again on the same staged files (a retried task): a file whose bytes are
    already in the ledger is reported as a duplicate, never committed twice. Deferred files,
    and files that changed since they were staged, stay in the inbox untouched; refused
    entries are reported and left alone.
    """
    report = IngestReport()
    known = known_files(con)
    for s in staged:
        progress.advance()
        if s.refused:
            _refuse(report, s, s.refused)
            continue
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
            try:
                s, entry = _commit_one(con, ws, s)
            except NotRegular:  # swapped for another file or a link since it was read
                report.deferred.append({"file": s.name, "reason": CHANGED})
                continue
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
    if os.path.lexists(ws.securities):
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
    found = inbox_entries(ws)
    refused = [
        StagedFile(path, printable(path.name), "", 0, refused=_not_regular(path.name, what))
        for path, what in found.others
    ]
    inbox = stage(found.files, known, ctx, stable_seconds=stable)
    return ([master] if master else []) + sorted(inbox + refused, key=lambda s: s.path)
