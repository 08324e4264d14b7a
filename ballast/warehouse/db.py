"""DuckDB access: open the warehouse, apply the schema, run the queries kept in ``sql/``.

SQL text lives in ``sql/`` (one query per file); values are always bound parameters, and the
only identifiers spliced into SQL are canonical table names from ``ballast.kinds``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ballast.errors import BallastError
from ballast.kinds import ALL_KINDS
from ballast.resources import resource_dir


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql``: ``name`` is the path under ``sql/`` (``"audit/run"``)."""
    path = resource_dir("sql") / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no query {name!r}: {path} does not exist")
    return path.read_text(encoding="utf-8")


def _schema_files() -> list[Path]:
    return sorted((resource_dir("sql") / "schema").glob("*.sql"))


def _connect_with_retry(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                if "lock" in str(exc).lower():
                    raise BallastError(
                        f"{path}: the warehouse is in use by another ballast run "
                        f"(waited {timeout:.0f} s); try again when it has finished"
                    ) from None
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def lock_timeout_for(path: Path) -> float:
    """Seconds to wait for the lock: ``$BALLAST_LOCK_TIMEOUT``, else ``warehouse:
    lock_timeout_seconds`` in the workspace's ``ballast.yaml``, else 60."""
    from ballast import config as ballast_config

    return ballast_config.load_warehouse(Path(path).parent).lock_timeout_seconds


def review_memory_limit(path: Path) -> str | None:
    """DuckDB's memory limit for a review's snapshot reads and record stage: ``warehouse:
    review_memory_limit`` in the workspace's ``ballast.yaml`` (64MiB unless set)."""
    from ballast import config as ballast_config

    return ballast_config.load_warehouse(Path(path).parent).review_memory_limit


@contextmanager
def connect(
    path: Path, *, lock_timeout: float | None = None, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse file, creating the schema if needed; waits while another run holds it
    (``lock_timeout`` seconds, by default the configured ``lock_timeout_for(path)``).

    ``memory_limit`` (a size DuckDB reads, ``64MiB``) caps the memory of the file's database
    in this process while it is open. DuckDB keeps the pages it reads cached up to its limit,
    by default 80 % of the machine's: without a cap, a process that reads or writes a large
    run holds memory in proportion to it. (The limit is the database's, shared by this
    process's other connections to the file; it ends when the last one closes.)"""
    timeout = lock_timeout_for(path) if lock_timeout is None else lock_timeout
    con = _connect_with_retry(path, timeout)
    try:
        if memory_limit is not None:  # a size the configuration has checked: no quote in it
            con.execute(f"set memory_limit = '{memory_limit}'")
        for f in _schema_files():
            con.execute(f.read_text(encoding="utf-8"))
        yield con
    finally:
        con.close()


def query(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Run ``sql/<name>.sql`` with bound parameters and return a Polars frame."""
    return con.sql(sql_text(name), params=params or None).pl()


def scalar(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None) -> Any:
    """Run ``sql/<name>.sql`` (e.g. an insert ... returning) and return the first value."""
    rows = con.execute(sql_text(name), params or {}).fetchall()  # drain: frees the connection
    return rows[0][0] if rows else None


def execute(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> None:
    con.execute(sql_text(name), params or {})


def append(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a frame to a canonical or run table (columns matched by name)."""
    if table not in _ALLOWED_TABLES:
        raise ValueError(f"not a ballast table: {table}")
    if frame.is_empty():
        return
    arrow = frame.to_arrow()  # noqa: F841 - referenced by name in the SQL below
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(f"insert into {table} ({cols}) select {cols} from arrow")


def append_parquet(con: duckdb.DuckDBPyConnection, table: str, files: list[Path]) -> None:
    """Append the rows of Parquet files to a canonical or run table (columns matched by
    name), in one statement: DuckDB reads them as it inserts."""
    if table not in _ALLOWED_TABLES:
        raise ValueError(f"not a ballast table: {table}")
    if files:
        paths = [str(f) for f in files]
        con.execute(
            f"insert into {table} by name select * from read_parquet($files)", {"files": paths}
        )


_ALLOWED_TABLES = frozenset(
    {
        *ALL_KINDS,
        "validation_results",
        "run_inputs",
        "run_portfolios",
        "run_allocations",
        "run_trades",
        "run_outputs",
        "policy_accounts",
    }
)
