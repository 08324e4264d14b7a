"""The three ingest stages over plain data: stage (read), validate (GX), commit (load/quarantine).

Each stage is a plain function so the Prefect tasks stay thin and tests need no Prefect.
A file is committed in one DuckDB transaction: it is loaded whole, or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import polars as pl

from ballast import warehouse
from ballast.errors import DataError
from ballast.ingest import files
from ballast.ingest.reader import mentioned, parse_bytes
from ballast.kinds import SECURITIES, Kind
from ballast.workspace import Workspace

_SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


@dataclass(frozen=True)
class StagedFile:
    """One file on its way in; exactly one of ``frame`` and ``error`` is set unless duplicate."""

    path: Path
    name: str
    sha256: str
    size: int
    kind: Kind | None = None
    frame: pl.DataFrame | None = None
    error: str | None = None
    duplicate_of: int | None = None
    validation: object | None = None  # ballast.validation.ValidationOutcome
    consume: bool = True  # remove from inbox once committed (not for reference files)

    @property
    def rows(self) -> int | None:
        return None if self.frame is None else self.frame.height


@dataclass
class IngestReport:
    """What one ingest did, for the CLI, the report and the audit trail."""

    loaded: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
        }


def inbox_files(ws: Workspace) -> list[Path]:
    """Files waiting in the inbox, in name order; hidden and partial files are left alone."""
    return sorted(
        p
        for p in ws.inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_SKIP_SUFFIXES)
    )


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """SHA-256 → file id of everything already in the ledger."""
    rows = warehouse.query(con, "ingest/known_files")
    return dict(zip(rows["sha256"].to_list(), rows["file_id"].to_list(), strict=True))


def stage(paths: list[Path], known: dict[str, int], *, consume: bool = True) -> list[StagedFile]:
    """Hash and parse each file; byte-identical repeats are marked, not parsed."""
    staged = []
    for path in paths:
        sha, size = files.sha256_file(path)
        base = StagedFile(path=path, name=path.name, sha256=sha, size=size, consume=consume)
        if sha in known:
            staged.append(replace(base, duplicate_of=known[sha]))
            continue
        try:
            parsed = parse_bytes(path.read_bytes(), path.name)
            staged.append(replace(base, kind=parsed.kind, frame=parsed.frame))
        except DataError as exc:
            staged.append(replace(base, error=str(exc)))
    return staged


def validate(staged: list[StagedFile]) -> list[StagedFile]:
    """Run each parsed file's GX suite; a failed suite turns into the file's error."""
    from ballast.validation import validate_frame

    out = []
    for s in staged:
        if s.frame is None or s.kind is None:
            out.append(s)
            continue
        outcome = validate_frame(s.kind.name, s.frame, s.name)
        error = None
        if not outcome.success:
            more = len(outcome.failures) - 1
            error = outcome.failures[0].message + (f" (and {more} more)" if more > 0 else "")
        out.append(replace(s, validation=outcome, error=error))
    return out


def _ledger_row(s: StagedFile, status: str, archive_path: Path) -> dict:
    frame = s.frame
    accounts: list[str] = []
    dates: list[dt.date] = []
    if frame is not None and "account_id" in frame.columns:
        accounts = sorted(frame["account_id"].drop_nulls().unique().to_list())
    elif frame is None:
        accounts = mentioned(s.path.read_bytes(), "account_id")
    if frame is not None and "as_of_date" in frame.columns:
        dates = sorted(frame["as_of_date"].drop_nulls().unique().to_list())
    return {
        "sha256": s.sha256,
        "original_name": s.name,
        "size_bytes": s.size,
        "kind": s.kind.name if s.kind else None,
        "rows": s.rows,
        "status": status,
        "reason": s.error,
        "accounts": accounts,
        "as_of_dates": dates,
        "archive_path": str(archive_path),
        "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }


def _commit_one(con: duckdb.DuckDBPyConnection, ws: Workspace, s: StagedFile) -> dict:
    status = "quarantined" if s.error else "loaded"
    archived = files.archive(s.path, s.sha256, ws.archive)
    con.execute("begin transaction")
    try:
        file_id = warehouse.scalar(con, "ingest/insert_ledger", _ledger_row(s, status, archived))
        if s.validation is not None:
            v = s.validation
            warehouse.execute(
                con,
                "ingest/insert_validation",
                {
                    "file_id": file_id,
                    "kind": v.kind,
                    "success": v.success,
                    "evaluated": v.evaluated,
                    "failures": [f.message for f in v.failures],
                    "result_json": _json(v.result),
                },
            )
        if status == "loaded":
            assert s.frame is not None and s.kind is not None
            warehouse.append(
                con, s.kind.name, s.frame.with_columns(pl.lit(file_id, pl.Int32).alias("file_id"))
            )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    entry = {
        "file": s.name,
        "file_id": file_id,
        "sha256": s.sha256,
        "kind": s.kind.name if s.kind else None,
        "rows": s.rows,
    }
    if status == "quarantined":
        dest = files.quarantine(s.path, file_id, s.error or "", ws.quarantine)
        entry |= {"reason": s.error, "quarantine_path": str(dest)}
    return entry


def _json(value: object) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def commit(con: duckdb.DuckDBPyConnection, ws: Workspace, staged: list[StagedFile]) -> IngestReport:
    """Load or quarantine each staged file; then take it out of the inbox."""
    report = IngestReport()
    for s in staged:
        if s.duplicate_of is not None:
            report.duplicates.append(
                {"file": s.name, "file_id": s.duplicate_of, "sha256": s.sha256}
            )
        else:
            entry = _commit_one(con, ws, s)
            (report.quarantined if s.error else report.loaded).append(entry)
        if s.consume:
            s.path.unlink(missing_ok=True)
    return report


def stage_workspace(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[StagedFile]:
    """Stage the security master (when it changed) and every inbox file."""
    known = known_files(con)
    staged = []
    if ws.securities.exists():
        ref = stage([ws.securities], known, consume=False)
        staged += [s for s in ref if s.duplicate_of is None]
        if staged and staged[0].kind is not None and staged[0].kind is not SECURITIES:
            staged[0] = replace(
                staged[0],
                frame=None,
                error=(
                    f"{ws.securities.name}: is not a security master (its header is "
                    f"{staged[0].kind.name})"
                ),
            )
    return staged + stage(inbox_files(ws), known)
