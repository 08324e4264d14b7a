"""Record stage: the run's row, inputs, results and outputs in the warehouse, and the
hash-chained audit trail (appended only after each record has been committed); then the run
folder is published.

Both tasks are idempotent, so a retry after a transient failure never records twice: a step
already in the warehouse (the run's row, its final status, its audit events) is skipped.
"""

from __future__ import annotations

from pathlib import Path

from ballast.tasks import retrying
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ballast.audit import anchoring, records, run_finished
from ballast.audit import chain as audit
from ballast.errors import BallastError
from ballast.ingest.inbox import IngestReport
from ballast.ops.runs import RunIdentity
from ballast.portfolio.policy_set import PolicySet
from ballast.reporting import outputs
from ballast.reporting.outputs import RenderResult
from ballast.warehouse import db, result_files
from ballast.workspace import Workspace

FINISHED = ("completed", "completed_with_errors")


@task(name="start-run", cache_policy=NO_CACHE, **retrying.DEFAULT)
def start_run(workspace: str, run: RunIdentity) -> None:
    """Record that the run has started (so a crash leaves a trace)."""
    ws = Workspace(Path(workspace))
    with db.connect(ws.warehouse) as con:
        if records.run_status(con, run.run_id) is None:
            records.start(con, run, ws)  # with its run_started event, in one transaction
        if "run_started" not in records.audit_events(con, run.run_id):
            audit.record_run_started(con, ws, run.as_dict())


@task(name="finish-run", cache_policy=NO_CACHE, **retrying.DEFAULT)
def finish_run(
    workspace: str,
    run: RunIdentity,
    policies: PolicySet | None,
    rendered: RenderResult | None,
    ingest: IngestReport | None,
    status: str,
) -> None:
    """Record the run's inputs, results, outputs and final status (one transaction), then
    publish its folder: a reader never sees the folder of a run not recorded as finished."""
    ws = Workspace(Path(workspace))
    run_id = run.run_id
    with db.connect(ws.warehouse, memory_limit=db.review_memory_limit(ws.warehouse)) as con:
        if records.run_status(con, run_id) == "running":
            records.finish(con, ws, run, policies, rendered, ingest, status)
        if "run_finished" not in records.audit_events(con, run_id):
            run_finished.record(con, ws, run_id)
    result_files.remove(ws, run_id)  # recorded: the rows are in the warehouse
    if rendered is not None and status in FINISHED:
        outputs.publish(rendered.folder)
    try:  # the chain's head to the witness, when ballast.yaml asks for it after each run
        anchoring.after_run(ws)
    except (BallastError, OSError) as exc:  # the run is recorded; the next anchor covers it
        get_run_logger().warning("witness not anchored: %s", exc)
