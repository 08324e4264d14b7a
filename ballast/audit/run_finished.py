"""The ``run_finished`` event of a recorded run, its detail built in the warehouse: the record
stage holds no map with an entry per IPS file, output or portfolio.

The event is the one ``chain.split_detail`` makes of the whole payload (``chain.run_summary``
and ``digests.run_payload``), byte for byte: the same chained payload and the same
``audit_detail`` rows under the same digest. Here the entries are staged in a temporary table
with their canonical JSON texts made in SQL (``sql/audit/detail/``: ``json_text`` writes a
string as ``json.dumps`` does), the portfolio digests a range of portfolios at a time as
``digests`` streams them; then the staged entries are read back in canonical order, a batch at
a time, and hashed as the canonical JSON of ``{part: {key: value}}``; then they go to
``audit_detail`` under that digest. (One connection cannot write while it streams a result,
and only it sees the run's rows before the commit: hence staging first, hashing after.)
At 50,000 portfolios the whole-payload path held about 80 MiB of Python objects at its peak.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from ballast.audit import chain, digests
from ballast.warehouse import db
from ballast.workspace import Workspace

BATCH_ROWS = 10_000
"""Staged entries read back and hashed at a time."""


@dataclass(frozen=True)
class StagedDetail:
    """A run's detail, staged in this connection's temporary table: its digest and entries;
    ``insert`` moves it to ``audit_detail`` (inside the transaction that chains the event)."""

    sha256: str
    entries: int

    @property
    def reference(self) -> dict[str, Any]:
        return {"entries": self.entries, "sha256": self.sha256}

    def insert(self, con: duckdb.DuckDBPyConnection) -> None:
        db.execute(con, "audit/detail/insert_staged", {"digest": self.sha256})
        db.execute(con, "audit/detail/drop_staging")


def _stage(con: duckdb.DuckDBPyConnection, run_id: str, ranges: list[digests.Range]) -> None:
    """Every entry of the run's detail into the staging table (``ranges``: the run's
    portfolios, ``digests.portfolio_ranges``)."""
    db.execute(con, "audit/detail/json_text_macro")
    db.execute(con, "audit/detail/create_staging")
    db.execute(con, "audit/detail/stage_maps", {"run_id": run_id})
    for one in ranges:
        pairs = list(digests.portfolio_digests(con, run_id, [one]))  # one range's
        if pairs:
            frame = pl.DataFrame(pairs, schema={"key": pl.String, "raw": pl.String}, orient="row")
            staged_rows = frame.to_arrow()  # noqa: F841 - named in the SQL
            con.execute(db.sql_text("audit/detail/stage_records"))


def _ranges(con: duckdb.DuckDBPyConnection, ranges: list[digests.Range]) -> Iterator[Any]:
    """The staged entries in canonical order, part by part and, in each part, a range of keys
    at a time (``ranges``: the run's portfolio ids, cutting IPS and output names as well), so
    no sort holds every entry of the run: an Arrow record batch at a time."""
    present = con.execute("select distinct part from run_detail_staging order by 1").fetchall()
    for (part,) in present:
        for lo, hi in ranges:
            bounds = {"part": part, "from_key": lo, "to_key": hi}
            relation = con.sql(db.sql_text("audit/detail/staged_entries"), params=bounds)
            with relation.to_arrow_reader(batch_size=BATCH_ROWS) as reader:
                yield from reader


def _digest(
    con: duckdb.DuckDBPyConnection, ranges: list[digests.Range]
) -> tuple[str, int, set[str]]:
    """(SHA-256 of the staged detail's canonical JSON, its entries, the parts it has)."""
    sha, entries = hashlib.sha256(b"{"), 0
    parts: list[str] = []
    for batch in _ranges(con, ranges):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        for part, texts in (
            frame.group_by("part", maintain_order=True)
            .agg(pl.col("entry").str.join(","))
            .iter_rows()
        ):
            if parts and parts[-1] == part:
                lead = ","
            else:
                lead = ("}," if parts else "") + json.dumps(part) + ":{"
                parts.append(part)
            sha.update((lead + texts).encode("utf-8"))
        entries += frame.height
    sha.update(b"}}" if parts else b"}")
    return sha.hexdigest(), entries, set(parts)


def event(
    con: duckdb.DuckDBPyConnection, run_id: str
) -> tuple[dict[str, Any], StagedDetail | None]:
    """The run's ``run_finished`` payload as chained (its non-empty maps replaced by the
    detail's reference; an empty one kept as ``{}``) and its staged detail (None: no entries,
    nothing staged). Inside a transaction: the detail waits on ``con`` for its ``insert``."""
    payload = chain.run_head(con, run_id)
    ranges = digests.portfolio_ranges(con, run_id)
    payload["records"] = digests.table_records(con, run_id, ranges)
    payload["records_format"] = digests.FORMAT
    _stage(con, run_id, ranges)
    sha, entries, parts = _digest(con, ranges)
    payload |= {part: {} for part in chain.DETAIL_PARTS if part not in parts}
    if not entries:
        db.execute(con, "audit/detail/drop_staging")
        return payload, None
    detail = StagedDetail(sha, entries)
    return payload | {"detail": detail.reference}, detail


def record(con: duckdb.DuckDBPyConnection, ws: Workspace, run_id: str) -> str:
    """Append ``run_finished`` for a run recorded in the warehouse without it (``records.finish``
    appends it with the records themselves)."""
    with chain.transaction(con, ws) as t:
        payload, detail = event(con, run_id)
        return t.append(
            "run_finished", actor=payload["who"], run_id=run_id, payload=payload, detail=detail
        )
