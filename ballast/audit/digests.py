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
from itertools import pairwise
from typing import Any

import duckdb
import polars as pl

from ballast.warehouse import db

FORMAT = 1
Records = dict[str, dict[str, Any]]  # table -> {"rows": n, "sha256": digest}
Range = tuple[str | None, str | None]  # portfolio ids [from, to), None: open
BATCH_ROWS = 10_000
"""Row texts hashed per batch: the memory of a digest is a batch's, however many rows. Every
digest of a 50,000-portfolio warehouse took as long with 10,000 as with 100,000 (3.9 s) and
peaked at 761 MiB instead of 972 MiB; a run's digests (the record stage) at 352 against
506 MiB."""


def _batches(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]
) -> Iterator[tuple[Any, Any, str, str, int, bytes]]:
    """Per batch of ``sql/<name>.sql``'s rows (two key columns, then ``body``, ordered by keys
    and body) and per group of the batch: (key, key, first body, last body, rows, the bodies
    joined by newlines as UTF-8)."""
    relation = con.sql(db.sql_text(name), params=params)
    with relation.to_arrow_reader(batch_size=BATCH_ROWS) as reader:
        for batch in reader:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            first, second = frame.columns[:2]
            groups = frame.group_by(first, second, maintain_order=True).agg(
                pl.col("body").first().alias("head"),
                pl.col("body").last().alias("tail"),
                pl.len(),
                pl.col("body").str.join("\n"),
            )
            for a, b, head, tail, n, text in groups.iter_rows():
                yield a, b, head, tail, n, text.encode("utf-8")


def _streamed(
    con: duckdb.DuckDBPyConnection, name: str, params: list[dict[str, Any]]
) -> Iterator[tuple[Any, Any, int, str]]:
    """(key, key, rows, sha256) per group of the rows of ``sql/<name>.sql`` run with each of
    ``params`` in turn, the runs' rows taken as one sequence sorted by keys and body: the
    SHA-256 of the group's texts joined by newlines, what ``sha256(string_agg(body, chr(10)
    order by body))`` gives, hashed batch by batch (``BATCH_ROWS``) as DuckDB streams them
    instead of aggregated in one string per group. A group is complete when the next begins."""
    key: tuple[Any, Any] | None = None
    sha = hashlib.sha256()
    rows = 0
    for p in params:
        for a, b, _, _, n, data in _batches(con, name, p):
            if (a, b) == key:  # the group goes on from the previous batch
                sha.update(b"\n" + data)
                rows += n
                continue
            if key is not None:
                yield (*key, rows, sha.hexdigest())
            key, sha, rows = (a, b), hashlib.sha256(data), n
    if key is not None:
        yield (*key, rows, sha.hexdigest())


class _OutOfOrder(Exception):
    """A group's rows came back out of body order across the runs of ``_interleaved``."""


def _interleaved(
    con: duckdb.DuckDBPyConnection, name: str, params: list[dict[str, Any]]
) -> Iterator[tuple[Any, Any, int, str]]:
    """As ``_streamed``, for groups each of whose rows come in body order across the runs of
    ``params`` but interleaved with other groups' (a run's digest per table, taken a range of
    portfolios at a time): every group is kept open until the end (few groups), and a group
    whose rows are not in order raises ``_OutOfOrder``."""
    open_groups: dict[tuple[Any, Any], tuple[Any, int, str]] = {}
    for p in params:
        for a, b, head, tail, n, data in _batches(con, name, p):
            known = open_groups.get((a, b))
            if known is None:
                open_groups[(a, b)] = (hashlib.sha256(data), n, tail)
                continue
            sha, rows, last = known
            if head < last:  # text order is DuckDB's: by code point, as UTF-8 bytes are
                raise _OutOfOrder(f"{a} {b}")
            sha.update(b"\n" + data)
            open_groups[(a, b)] = (sha, rows + n, tail)
    for (a, b), (sha, rows, _) in sorted(open_groups.items()):
        yield a, b, rows, sha.hexdigest()


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
        con, "audit/records/file_rows", [{"file_ids": file_ids}]
    ):
        out.setdefault(file_id, {})[table] = {"rows": rows, "sha256": sha}
    return out


_EVERY_ROW: dict[str, Any] = dict.fromkeys(
    ("keyed", "table", "role", "from_portfolio", "to_portfolio", "from_name", "to_name")
)
"""The bounds of ``sql/audit/records/run_rows.sql``: none, every row."""
CHUNK_PORTFOLIOS = 5_000
"""A run's digests are taken this many portfolios at a time (``run_payload``), so DuckDB
sorts one range's rows at a time, not the whole run's: a 50,000-portfolio run's digests
peaked at 257 MiB instead of 363 MiB, in 1.41 s instead of 1.05 s."""


def run_records(
    con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None
) -> dict[str, Records]:
    """Per run id: the digest of its rows in each run table that has any."""
    params = [{"run_ids": run_ids, **_EVERY_ROW}]
    return _by_run(_interleaved(con, "audit/records/run_rows", params))


def _by_run(digested: Iterator[tuple[str, str, int, str]]) -> dict[str, Records]:
    out: dict[str, Records] = {}
    for run_id, table, rows, sha in digested:
        out.setdefault(run_id, {})[table] = {"rows": rows, "sha256": sha}
    return out


def portfolio_records(
    con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None
) -> dict[str, dict[str, str]]:
    """Per run id, per portfolio id: the digest of its rows in the portfolio tables."""
    params = [{"run_ids": run_ids, "from_portfolio": None, "to_portfolio": None}]
    return _by_portfolio(_streamed(con, "audit/records/portfolio_rows", params))


def _by_portfolio(digested: Iterator[tuple[str, str, int, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for run_id, portfolio_id, _, sha in digested:
        out.setdefault(run_id, {})[portfolio_id] = sha
    return out


def _distinct(con: duckdb.DuckDBPyConnection, select: str, run_id: str) -> list[Any]:
    """The values of ``select`` (one column) over the run's rows, in order."""
    query = f"{select} where run_id = $run_id order by 1"
    return [r[0] for r in con.execute(query, {"run_id": run_id}).fetchall()]


def portfolio_ranges(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Range]:
    """The run's portfolios as ranges [from, to) of ``CHUNK_PORTFOLIOS`` each, in order; the
    first open below and the last above, so together they hold every row of the run."""
    ids = _distinct(con, "select distinct portfolio_id from run_portfolios", run_id)
    cuts: list[str | None] = [None, *ids[CHUNK_PORTFOLIOS::CHUNK_PORTFOLIOS], None]
    return list(pairwise(cuts))


def table_records(con: duckdb.DuckDBPyConnection, run_id: str, ranges: list[Range]) -> Records:
    """``run_records(con, [run_id])[run_id]``, every table read a range at a time, so no sort
    holds the whole run (DuckDB's sorts of a 100,000-portfolio run's inputs and outputs needed
    more than 32 MiB, and would need ten times that at a million): the portfolio tables by
    ``ranges`` of portfolio ids; ``run_inputs`` role by role and ``run_outputs``, by the same
    cuts on their file names (``<portfolio id>.yaml``, ``<portfolio id>.html``: about as many
    names a range). A row's text begins with its portfolio id (the portfolio tables), its role
    and name (``run_inputs``) or its name (``run_outputs``), so ranges in order give a table's
    rows in text order; ``_interleaved`` checks it, and the whole run is read at once if ever
    not."""
    run = {"run_ids": [run_id], **_EVERY_ROW}
    roles = _distinct(con, "select distinct role from run_inputs", run_id)
    unkeyed = [
        run | {"keyed": False, "table": "run_inputs", "role": role, "from_name": lo, "to_name": hi}
        for role in roles
        for lo, hi in ranges
    ]
    unkeyed += [
        run | {"keyed": False, "table": "run_outputs", "from_name": lo, "to_name": hi}
        for lo, hi in ranges
    ]
    keyed = [run | {"keyed": True, "from_portfolio": lo, "to_portfolio": hi} for lo, hi in ranges]
    try:
        found = _by_run(_interleaved(con, "audit/records/run_rows", [*unkeyed, *keyed]))
    except _OutOfOrder:
        found = run_records(con, [run_id])
    return found.get(run_id, {})


def file_payload(con: duckdb.DuckDBPyConnection, file_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a ``file_loaded``/``file_quarantined`` event adds about each file's records."""
    found = file_records(con, file_ids)
    return {fid: {"records": found.get(fid, {}), "records_format": FORMAT} for fid in file_ids}


def portfolio_digests(
    con: duckdb.DuckDBPyConnection, run_id: str, ranges: list[Range]
) -> Iterator[tuple[str, str]]:
    """(portfolio id, digest of its rows in the portfolio tables) of one run, in portfolio id
    order, streamed a range at a time."""
    by_range = [
        {"run_ids": [run_id], "from_portfolio": lo, "to_portfolio": hi} for lo, hi in ranges
    ]
    for _, portfolio_id, _, sha in _streamed(con, "audit/records/portfolio_rows", by_range):
        yield portfolio_id, sha


def run_payload(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """What a ``run_finished`` event adds about the run's records (read
    ``CHUNK_PORTFOLIOS`` portfolios at a time: the same digests as ``run_records`` and
    ``portfolio_records``). The record stage streams the same (``ballast.audit.run_finished``);
    this whole-map form is for a check against it."""
    ranges = portfolio_ranges(con, run_id)
    return {
        "records": table_records(con, run_id, ranges),
        "portfolio_records": dict(portfolio_digests(con, run_id, ranges)),
        "records_format": FORMAT,
    }
