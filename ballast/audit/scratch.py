"""A scratch warehouse rebuilt from the archive, so a re-created review rests on the custodian's
bytes and not on the warehouse's tables.

Every ledger file up to a file id (a run's high-water mark) is taken in file id order, as ingest
committed it: its archived copy (``archive/<sha256><ext>``) is hashed and compared with the hash
recorded at ingest (the ``file_loaded``/``file_quarantined`` event of the chain, else the
ledger's), and a loaded file is parsed again by ingest's own adapters and canonical reader
(``ballast.ingest.inbox.parse_file``), an adapter mapping securities through the master as it
stood when the file was loaded. The rows go into a temporary DuckDB file with the warehouse's
schema and a copy of its ledger rows (file ids kept), so every snapshot query reads it as it
reads the warehouse. A file whose archived copy is gone (purged under retention, or deleted) is
taken from the warehouse's rows as they are (``rerun`` refuses a run whose own recorded inputs
were purged, and names a copy deleted without a purge).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ballast.audit import digests, evidence
from ballast.errors import DataError
from ballast.ingest import adapters, files, inbox
from ballast.ingest.reader import ParsedFile
from ballast.kinds import ALL_KINDS, SECURITIES
from ballast.warehouse import db
from ballast.warehouse.snapshot import LATEST
from ballast.workspace import Workspace

MASTER_COLUMNS = ("security_id", "symbol", "isin", "cusip", "asset_class")


@dataclass(frozen=True)
class ArchivedFile:
    """One ledger file and its archived copy as found now."""

    file_id: int
    name: str  # the name it arrived with
    kind: str | None
    status: str  # loaded | quarantined
    recorded: str  # sha256 recorded at ingest: the chain's, else the ledger's
    ledger: str  # sha256 in file_ledger now
    path: Path | None  # the archived copy; None when it is gone
    actual: str | None  # sha256 of the archived copy now
    purged: bool = False  # removed by a retention purge

    @property
    def label(self) -> str:
        return f"{self.name} (file #{self.file_id})"

    @property
    def edited(self) -> bool:
        """The archived copy is there but is not the bytes that were ingested."""
        return self.actual is not None and self.actual != self.recorded


def _archived_copy(ws: Workspace, archive_path: str, sha256: str) -> Path | None:
    """The archived copy in this workspace (the ledger's path may name another checkout)."""
    named = ws.archive / Path(archive_path).name
    candidates = [named, *sorted(ws.archive.glob(f"{sha256}*"))]
    return next((p for p in candidates if p.is_file()), None)


def archived_files(
    con: duckdb.DuckDBPyConnection, ws: Workspace, max_file_id: int
) -> list[ArchivedFile]:
    """Every ledger file up to ``max_file_id`` with its recorded and actual hashes."""
    chain = evidence.ingested(con)
    gone = evidence.purged(con)
    out = []
    for r in db.query(con, "audit/rerun/ledger", {"max_file_id": max_file_id}).iter_rows(
        named=True
    ):
        recorded = chain.get(r["file_id"], r["sha256"])
        path = _archived_copy(ws, r["archive_path"], recorded)
        out.append(
            ArchivedFile(
                file_id=r["file_id"],
                name=r["original_name"],
                kind=r["kind"],
                status=r["status"],
                recorded=recorded,
                ledger=r["sha256"],
                path=path,
                actual=files.sha256_file(path)[0] if path is not None else None,
                purged=path is None and recorded in gone,
            )
        )
    return out


@dataclass
class Scratch:
    """The scratch warehouse and how each file got into it."""

    con: duckdb.DuckDBPyConnection
    files: list[ArchivedFile]
    unparsed: dict[int, str] = field(default_factory=dict)  # file id → why it did not parse
    from_warehouse: set[int] = field(default_factory=set)  # rows copied: no archived copy

    def file(self, file_id: int) -> ArchivedFile | None:
        return next((f for f in self.files if f.file_id == file_id), None)


def _master(scratch: duckdb.DuckDBPyConnection) -> adapters.Context:
    """What ingest maps securities against: the latest master loaded so far."""
    frame = db.query(scratch, "snapshot/securities", {"max_file_id": LATEST})
    return adapters.Context(frame.select(*MASTER_COLUMNS))


def _parse(f: ArchivedFile, ctx: adapters.Context) -> list[ParsedFile]:
    """The file's canonical parts, parsed again from its archived bytes as ingest parsed them."""
    assert f.path is not None
    if f.path.stat().st_size > inbox.max_file_bytes():
        raise DataError(f.name, "its archived copy is larger than the ingest limit")
    data = f.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != f.actual:
        raise DataError(f.name, "its archived copy changed while it was read")
    if f.kind == SECURITIES.name:
        ctx = adapters.Context(pl.DataFrame())  # as ingest stages the reference master
    return inbox.parse_file(data, f.name, ctx)[1]


def _load(scratch: duckdb.DuckDBPyConnection, f: ArchivedFile, ctx: adapters.Context) -> bool:
    """Append the file's rows as ingest committed them; True when it held a master."""
    parts = _parse(f, ctx)
    for p in parts:
        rows = p.frame.with_columns(pl.lit(f.file_id, pl.Int32).alias("file_id"))
        db.append(scratch, p.kind.name, rows)
    return any(p.kind is SECURITIES for p in parts)


def _copy_rows(
    con: duckdb.DuckDBPyConnection, scratch: duckdb.DuckDBPyConnection, file_ids: set[int]
) -> None:
    """The warehouse's rows of these files, as they are (their archived copies are gone)."""
    bound = max(file_ids)
    for table in ALL_KINDS:
        rows = db.query(con, "audit/rerun/table_rows", {"table": table, "max_file_id": bound})
        db.append(scratch, table, rows.filter(pl.col("file_id").is_in(sorted(file_ids))))


def _copy_ledger(
    con: duckdb.DuckDBPyConnection, scratch: duckdb.DuckDBPyConnection, max_file_id: int
) -> None:
    ledger = db.query(con, "audit/rerun/ledger", {"max_file_id": max_file_id})
    scratch.register("scratch_ledger", ledger.to_arrow())
    try:
        db.execute(scratch, "audit/rerun/insert_ledger")
    finally:
        scratch.unregister("scratch_ledger")


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, DataError) else f"{type(exc).__name__}: {text}"


def _fill(con: duckdb.DuckDBPyConnection, built: Scratch, max_file_id: int) -> None:
    _copy_ledger(con, built.con, max_file_id)
    ctx = _master(built.con)
    for f in built.files:
        if f.status != "loaded":
            continue
        if f.path is None:
            built.from_warehouse.add(f.file_id)
            continue
        built.con.execute("begin transaction")
        try:
            master = _load(built.con, f, ctx)
        except Exception as exc:  # hostile bytes in an edited copy: said, never raised
            built.con.execute("rollback")
            built.unparsed[f.file_id] = _one_line(exc)
            continue
        built.con.execute("commit")
        if master:
            ctx = _master(built.con)
    if built.from_warehouse:
        _copy_rows(con, built.con, built.from_warehouse)


def _canonical(records: dict[str, dict[str, object]]) -> dict[str, object]:
    """Table -> digest, over the canonical tables only (not the ledger or validation rows)."""
    return {t: r.get("sha256") for t, r in records.items() if t in ALL_KINDS}


def parsed_differently(con: duckdb.DuckDBPyConnection, built: Scratch) -> dict[int, str]:
    """File id -> label of each intact archived file whose bytes now parse into rows other than
    those recorded at ingest while the warehouse still holds the recorded rows: the code
    changed since, nothing was edited (digests: ``ballast.audit.digests``)."""
    ids = [
        f.file_id
        for f in built.files
        if f.status == "loaded" and f.path and not f.edited and f.file_id not in built.unparsed
    ]
    if not ids:
        return {}
    at_ingest: dict[int, dict[str, object]] = {}
    for file_id, text in db.query(con, "audit/rerun/ingested_records").rows():
        at_ingest.setdefault(int(file_id), _canonical(json.loads(text)))
    live, again = digests.file_records(con, ids), digests.file_records(built.con, ids)
    out = {}
    for f in built.files:
        want = at_ingest.get(f.file_id)
        if f.file_id not in ids or want is None:
            continue
        if _canonical(live.get(f.file_id, {})) == want != _canonical(again.get(f.file_id, {})):
            out[f.file_id] = f.label
    return out


@contextmanager
def warehouse(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    max_file_id: int,
    found: list[ArchivedFile] | None = None,
) -> Iterator[Scratch]:
    """The scratch warehouse of every file up to ``max_file_id`` (``found``: their
    ``archived_files``, when already listed), removed on exit."""
    if found is None:
        found = archived_files(con, ws, max_file_id)
    with (
        tempfile.TemporaryDirectory(prefix="ballast-rerun-") as tmp,
        db.connect(Path(tmp) / "scratch.duckdb", lock_timeout=0) as scratch,
    ):
        built = Scratch(scratch, found)
        _fill(con, built, max_file_id)
        yield built
