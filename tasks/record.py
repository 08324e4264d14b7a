"""Record stage: the run's row, inputs, results and outputs in the warehouse, and the
hash-chained audit trail (appended only after each record has been committed); then the run
folder is published.

Both tasks are idempotent, so a retry after a transient failure never records twice: a step
already in the warehouse (the run's row, its final status, its audit events) is skipped.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.audit import chain as audit
from ballast.portfolio.policy_set import PolicySet
from ballast.reporting import outputs
from ballast.warehouse import db, records
from ballast.workspace import Workspace

FINISHED = ("completed", "completed_with_errors")


def _status(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """The run's recorded status, or None before its row exists."""
    rows = db.query(con, "audit/run", {"run_id": run_id})
    return None if rows.is_empty() else rows["status"][0]


def _events(con: duckdb.DuckDBPyConnection, run_id: str) -> set[str]:
    """The audit events already appended for the run itself (not for its re-creations)."""
    rows = db.query(con, "audit/run_events", {"run_id": run_id})
    return set(rows.filter(pl.col("run_id") == run_id)["event"])


@task(name="start-run", cache_policy=NO_CACHE, **retrying.DEFAULT)
def start_run(workspace: str, run: dict) -> None:
    """Record that the run has started (so a crash leaves a trace)."""
    ws = Workspace(Path(workspace))
    with db.connect(ws.warehouse) as con:
        if _status(con, run["run_id"]) is None:
            records.start(con, run)
        if "run_started" not in _events(con, run["run_id"]):
            audit.record_run_started(con, ws, run)


@task(name="finish-run", cache_policy=NO_CACHE, **retrying.DEFAULT)
def finish_run(
    workspace: str,
    run: dict,
    policies: PolicySet | None,
    rendered: dict | None,
    ingest: dict | None,
    status: str,
) -> None:
    """Record the run's inputs, results, outputs and final status (one transaction), then
    publish its folder: a reader never sees the folder of a run not recorded as finished."""
    ws = Workspace(Path(workspace))
    run_id = run["run_id"]
    with db.connect(ws.warehouse) as con:
        if _status(con, run_id) == "running":
            records.finish(con, ws, run, policies, rendered, ingest, status)
        if "run_finished" not in _events(con, run_id):
            audit.record_run_finished(con, ws, run_id)
    if rendered is not None and status in FINISHED:
        outputs.publish(Path(rendered["folder"]))
