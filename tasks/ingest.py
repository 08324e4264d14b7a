"""Ingest stages: read the inbox, then load or quarantine each file."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast import warehouse
from ballast.ingest import inbox
from ballast.workspace import Workspace


@task(name="stage-inbox", cache_policy=NO_CACHE)
def stage_inbox(workspace: str) -> list[inbox.StagedFile]:
    """Hash and parse every new file in the inbox (and a changed security master)."""
    ws = Workspace(Path(workspace))
    with warehouse.connect(ws.warehouse) as con:
        return inbox.stage_workspace(con, ws)


@task(name="load-files", cache_policy=NO_CACHE)
def load_files(workspace: str, staged: list[inbox.StagedFile]) -> dict:
    """Load valid files into the warehouse; quarantine the others with their reasons."""
    ws = Workspace(Path(workspace))
    with warehouse.connect(ws.warehouse) as con:
        return inbox.commit(con, ws, staged).as_dict()
