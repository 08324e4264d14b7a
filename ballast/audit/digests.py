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

from typing import Any

import duckdb

from ballast.warehouse import db

FORMAT = 1
Records = dict[str, dict[str, Any]]  # table -> {"rows": n, "sha256": digest}


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
    for r in db.query(con, "audit/records/file_rows", {"file_ids": file_ids}).iter_rows(named=True):
        out.setdefault(r["file_id"], {})[r["table_name"]] = {
            "rows": r["rows"],
            "sha256": r["sha256"],
        }
    return out


def run_records(
    con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None
) -> dict[str, Records]:
    """Per run id: the digest of its rows in each run table that has any."""
    out: dict[str, Records] = {}
    for r in db.query(con, "audit/records/run_rows", {"run_ids": run_ids}).iter_rows(named=True):
        out.setdefault(r["run_id"], {})[r["table_name"]] = {
            "rows": r["rows"],
            "sha256": r["sha256"],
        }
    return out


def portfolio_records(
    con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None
) -> dict[str, dict[str, str]]:
    """Per run id, per portfolio id: the digest of its rows in the portfolio tables."""
    out: dict[str, dict[str, str]] = {}
    for r in db.query(con, "audit/records/portfolio_rows", {"run_ids": run_ids}).iter_rows(
        named=True
    ):
        out.setdefault(r["run_id"], {})[r["portfolio_id"]] = r["sha256"]
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
