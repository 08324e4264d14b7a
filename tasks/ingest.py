"""Ingest stages: read the inbox, then load or quarantine each file.

Both are safe to retry: staging only reads, and a file already in the ledger (committed by an
earlier attempt) is never committed again (``inbox.commit``).
"""

from __future__ import annotations

from pathlib import Path

from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.audit import chain as audit
from ballast.ingest import inbox
from ballast.ops import runs
from ballast.warehouse import db
from ballast.workspace import Workspace


@task(name="stage-inbox", cache_policy=NO_CACHE, **retrying.DEFAULT)
def stage_inbox(workspace: str) -> list[inbox.StagedFile]:
    """Hash and parse every new file in the inbox (and a changed security master); files
    still being written are deferred (``ingest.stable_seconds``)."""
    ws = Workspace(Path(workspace))
    with db.connect(ws.warehouse) as con:
        return inbox.stage_workspace(con, ws)


@task(name="load-files", cache_policy=NO_CACHE, **retrying.DEFAULT)
def load_files(
    workspace: str, staged: list[inbox.StagedFile], run_id: str | None = None
) -> inbox.IngestReport:
    """Load valid files into the warehouse; quarantine the others with their reasons; record
    every load, restatement and quarantine in the audit trail."""
    ws = Workspace(Path(workspace))
    with db.connect(ws.warehouse) as con:
        report = inbox.commit(con, ws, staged)
        audit.record_ingest(con, ws, report.as_dict(), actor=runs.who(), run_id=run_id)
        return report
