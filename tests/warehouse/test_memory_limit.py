"""``warehouse: review_memory_limit``: DuckDB's memory cap on a review's connections (snapshot
reads, the record stage), so the coordinator does not cache a large run's pages up to 80 %
of the machine; other connections keep DuckDB's default."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballast.errors import BallastError
from ballast.warehouse import db


def _limit(con) -> str:
    return con.execute("select current_setting('memory_limit')").fetchone()[0]


def test_the_review_limit_is_64_mib_unless_set(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BALLAST_LOCK_TIMEOUT", raising=False)
    warehouse = tmp_path / "warehouse.duckdb"
    assert db.review_memory_limit(warehouse) == "64MiB"
    (tmp_path / "ballast.yaml").write_text("warehouse:\n  review_memory_limit: 1GB\n")
    assert db.review_memory_limit(warehouse) == "1GB"
    monkeypatch.setenv("BALLAST_LOCK_TIMEOUT", "7")  # the lock's override keeps the limit
    assert db.review_memory_limit(warehouse) == "1GB"
    assert db.lock_timeout_for(warehouse) == 7
    (tmp_path / "ballast.yaml").write_text("warehouse:\n  review_memory_limit: null\n")
    assert db.review_memory_limit(warehouse) is None


@pytest.mark.parametrize("bad", ["lots", "256", "1 PB", "'; drop table x; --"])
def test_a_limit_that_is_not_a_size_is_refused(tmp_path: Path, bad: str) -> None:
    (tmp_path / "ballast.yaml").write_text(f'warehouse:\n  review_memory_limit: "{bad}"\n')
    with pytest.raises(BallastError, match="review_memory_limit"):
        db.review_memory_limit(tmp_path / "warehouse.duckdb")


def test_a_limited_connection_has_the_limit_and_the_next_database_does_not(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with db.connect(warehouse, lock_timeout=5, memory_limit="64MiB") as con:
        assert _limit(con) == "64.0 MiB"
    with db.connect(warehouse, lock_timeout=5) as con:  # a new database: DuckDB's default
        assert _limit(con) != "64.0 MiB"


def test_out_of_memory_is_one_line_naming_the_limit(tmp_path: Path) -> None:
    """A real DuckDB out-of-memory error: exit 71 and the setting to raise."""
    import duckdb

    from ballast.errors import EXIT_MEMORY
    from ballast.ops import failures

    warehouse = tmp_path / "warehouse.duckdb"
    with (
        db.connect(warehouse, lock_timeout=5, memory_limit="1MiB") as con,
        pytest.raises(duckdb.OutOfMemoryException) as caught,
    ):
        con.execute("select list(range) from range(3000000)")
    f = failures.describe(caught.value, ["ballast", "review", "-w", str(tmp_path)])
    assert f.exit_code == EXIT_MEMORY
    assert "warehouse.review_memory_limit" in f.line and "\n" not in f.line
    assert "Possible solutions" not in f.line  # DuckDB's own advice is about SET, not ballast


def test_a_review_over_its_limit_fails_in_one_line(tmp_path: Path) -> None:
    """The review's connections take the configured limit: at 1MiB, the run stops with the
    out-of-memory line and status, and no traceback."""
    from ballast.errors import EXIT_MEMORY
    from tests.conftest import copy_demo
    from tests.support.one_line import BALLAST, run

    ws = copy_demo(tmp_path / "ws")
    (ws.root / "ballast.yaml").write_text("warehouse:\n  review_memory_limit: 1MiB\n")
    cmd = [BALLAST, "review", "--as-of", "2026-09-30", "-w", str(ws.root)]
    proc, line = run(cmd, tmp_path)
    assert proc.returncode == EXIT_MEMORY, line
    assert line.startswith("error: the warehouse ran out of memory"), line
