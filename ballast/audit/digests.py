"""Digests of warehouse rows, computed in DuckDB (``sql/audit/records/``), that the audit trail
keeps so ``verify`` can tell when a row was added, removed or changed.

Format 1 (``FORMAT``): a row's text is the JSON array of its columns cast to text (null stays
null); a table's digest is the SHA-256 of its rows' texts, sorted and joined by newlines, with
the row count beside it. Per file: its ``file_ledger`` row and its rows in every canonical table
and in ``validation_results``. Per run: its rows in ``run_inputs``, ``run_outputs``,
``run_portfolios``, ``run_allocations`` and ``run_trades``, and per portfolio its rows in the
last three (so a change names the portfolio).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import duckdb
import polars as pl

from ballast.warehouse import db

FORMAT = 1
Records = dict[str, dict[str, Any]]  # table -> {"rows": n, "sha256": digest}
BATCH_ROWS = 10_000
"""Row texts hashed per batch: the memory of a digest is a batch's, however many rows. Every
digest of a 50,000-portfolio warehouse took as long with 10,000 as with 100,000 (3.9 s) and
peaked at 761 MiB instead of 972 MiB; a run's digests (the record stage) at 352 against
506 MiB."""


def _streamed(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]
) -> Iterator[tuple[Any, Any, int, str]]:
    """(key, key, rows, sha256) per group of ``sql/<name>.sql``'s rows (two key columns, then
    ``body``, ordered by keys and body): the SHA-256 of the group's texts joined by newlines,
    what ``sha256(string_agg(body, chr(10) order by body))`` gives, hashed batch by batch
    (``BATCH_ROWS``) as DuckDB streams them instead of aggregated in one string per group."""
    key: tuple[Any, Any] | None = None
    sha = hashlib.sha256()
    rows = 0
    relation = con.sql(db.sql_text(name), params=params)
    with relation.to_arrow_reader(batch_size=BATCH_ROWS) as reader:
        for batch in reader:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            first, second = frame.columns[:2]
            groups = frame.group_by(first, second, maintain_order=True).agg(
                pl.col("body").str.join("\n"), pl.len()
            )
            for a, b, text, n in groups.iter_rows():
                data = text.encode("utf-8")
                if (a, b) == key:  # the group goes on from the previous batch
                    sha.update(b"\n" + data)
                    rows += n
                    continue
                if key is not None:
                    yield (*key, rows, sha.hexdigest())
                key, sha, rows = (a, b), hashlib.sha256(data), n
    if key is not None:
        yield (*key, rows, sha.hexdigest())


def file_records(
    con: duckdb.DuckDBPyConnection, file_ids: list[int] | None = None
) -> dict[int, Records]:
    """Per file id: its ledger row's digest and its rows' digest in every table that has any
    (every file when ``file_ids`` is None; a file of the ledger with no rows still appears)."""
    out: dict[int, Records] = {}
    for r in db.query(con, "audit/records/file_ledger", {"file_ids": file_ids}).iter_rows(
        named=True
    ):
        out[r["file_id"]] = {"file_ledger": {"rows": 1, "sha256": r["ledger_sha256"]}}
    for file_id, table, rows, sha in _streamed(
        con, "audit/records/file_rows", {"file_ids": file_ids}
    ):
        out.setdefault(file_id, {})[table] = {"rows": rows, "sha256": sha}
    return out


def run_records(
    con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None
) -> dict[str, Records]:
    """Per run id: the digest of its rows in each run table that has any."""
    out: dict[str, Records] = {}
    for run_id, table, rows, sha in _streamed(con, "audit/records/run_rows", {"run_ids": run_ids}):
        out.setdefault(run_id, {})[table] = {"rows": rows, "sha256": sha}
    return out


def portfolio_records(
    con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None
) -> dict[str, dict[str, str]]:
    """Per run id, per portfolio id: the digest of its rows in the portfolio tables."""
    out: dict[str, dict[str, str]] = {}
    params = {"run_ids": run_ids}
    for run_id, portfolio_id, _, sha in _streamed(con, "audit/records/portfolio_rows", params):
        out.setdefault(run_id, {})[portfolio_id] = sha
    return out


def file_payload(con: duckdb.DuckDBPyConnection, file_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a ``file_loaded``/``file_quarantined`` event adds about each file's records."""
    found = file_records(con, file_ids)
    return {fid: {"records": found.get(fid, {}), "records_format": FORMAT} for fid in file_ids}


def run_payload(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """What a ``run_finished`` event adds about the run's records."""
    return {
        "records": run_records(con, [run_id]).get(run_id, {}),
        "portfolio_records": portfolio_records(con, [run_id]).get(run_id, {}),
        "records_format": FORMAT,
    }
