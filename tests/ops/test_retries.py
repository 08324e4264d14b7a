"""Task retries for transient failures only (issue 6): a locked warehouse is retried with
backoff inside a real flow on the Prefect test harness; a bug or a data error is not."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from ballast.config import RetryConfig
from ballast.errors import BallastError, DataError
from ballast.ops import transient
from ballast.warehouse import db
from ballast.workspace import Workspace

LOCKED = (
    'IO Error: Could not set lock on file "/ws/warehouse.duckdb": Conflicting lock is held in '
    "/usr/bin/python3.11 (PID 4242). See also https://duckdb.org/docs/stable/connect/concurrency"
)
SECURITIES = "security_id,symbol,name,asset_class,identical_group\nGEQ,GEQ,Equity,eq,\n"
POSITIONS = (
    "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
    "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n"
)


def _translated(inner: BaseException, outer: BaseException, *, explicit: bool) -> BaseException:
    """``outer`` raised while handling ``inner``: ``from None`` when explicit, else by accident."""
    try:
        try:
            raise inner
        except type(inner):
            if explicit:
                raise outer from None
            raise outer  # noqa: B904 - the accident under test
    except type(outer) as exc:
        return exc


def test_which_failures_are_transient() -> None:
    assert transient.is_transient(duckdb.IOException(LOCKED))
    assert transient.is_transient(transient.FileInFlux("a.csv: disappeared"))
    # db.connect's one-line error after its own wait translates the lock error
    waited = _translated(duckdb.IOException(LOCKED), BallastError("in use"), explicit=True)
    assert transient.is_transient(waited)
    assert not transient.is_transient(duckdb.IOException("IO Error: No space left on device"))
    assert not transient.is_transient(DataError("a.csv", "'12O' is not a number", 3, "quantity"))
    assert not transient.is_transient(ValueError("a bug"))
    assert not transient.is_transient(None)
    # a bug while handling a lock error is a bug
    accident = _translated(duckdb.IOException(LOCKED), KeyError("bug"), explicit=False)
    assert not transient.is_transient(accident)


def test_a_real_lock_conflict_is_transient(tmp_path: Path) -> None:
    """DuckDB's own message for a file another process holds, as ``db.connect`` raises
    it once its wait is over."""
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(path)!r}); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BallastError) as caught, db.connect(path, lock_timeout=0):
            pass
    finally:
        holder.communicate("", timeout=30)
    assert "in use by another ballast run" in str(caught.value)
    assert transient.is_transient(caught.value)


def test_backoff_is_exponential() -> None:
    from ballast.tasks import retrying
    from ballast.tasks.ingest import stage_inbox

    task = retrying.configured(stage_inbox, RetryConfig(attempts=3, delay_seconds=2))
    assert task.retries == 3 and task.retry_delay_seconds == [2, 4, 8]
    assert task.retry_condition_fn is retrying.transient_only
    assert retrying.configured(stage_inbox, RetryConfig(attempts=0)).retries == 0


def flaky_connect(monkeypatch, error: BaseException, failures: int) -> list[Path]:
    """``db.connect`` raising ``error`` on its first ``failures`` calls."""
    real, calls = db.connect, []

    @contextmanager
    def connect(path, **kw):
        calls.append(path)
        if len(calls) <= failures:
            raise error
        with real(path, **kw) as con:
            yield con

    monkeypatch.setattr(db, "connect", connect)
    return calls


@pytest.fixture
def one_file(empty_ws: Workspace) -> Workspace:
    """A workspace with a master and one positions file, retrying twice without delay."""
    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    (empty_ws.inbox / "pos.csv").write_text(POSITIONS, encoding="utf-8")
    (empty_ws.root / "ballast.yaml").write_text("retries: {attempts: 2, delay_seconds: 0}\n")
    return empty_ws


@pytest.mark.usefixtures("prefect_harness")
def test_locked_warehouse_is_retried_in_a_flow(one_file: Workspace, monkeypatch) -> None:
    from ballast.flows.ingest import ingest_inbox

    calls = flaky_connect(monkeypatch, duckdb.IOException(LOCKED), failures=1)
    report = ingest_inbox(workspace=str(one_file.root))
    assert [e["file"] for e in report["loaded"]] == ["securities.csv", "pos.csv"]
    assert len(calls) == 3  # stage-inbox failed once, then succeeded; load-files once
    assert not (one_file.inbox / "pos.csv").exists()


@pytest.mark.usefixtures("prefect_harness")
def test_retries_are_bounded(one_file: Workspace, monkeypatch) -> None:
    from ballast.flows.ingest import ingest_inbox

    calls = flaky_connect(monkeypatch, duckdb.IOException(LOCKED), failures=10)
    with pytest.raises(duckdb.IOException):
        ingest_inbox(workspace=str(one_file.root))
    assert len(calls) == 3  # the first attempt and the two retries ballast.yaml allows


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    "error", [ValueError("a bug"), DataError("pos.csv", "bad"), duckdb.IOException("disk")]
)
def test_other_failures_are_not_retried(one_file: Workspace, monkeypatch, error) -> None:
    from ballast.flows.ingest import ingest_inbox

    calls = flaky_connect(monkeypatch, error, failures=1)
    with pytest.raises(type(error)):
        ingest_inbox(workspace=str(one_file.root))
    assert len(calls) == 1
    assert (one_file.inbox / "pos.csv").exists()
