"""Ingest only: read the inbox, validate, load or quarantine."""

from __future__ import annotations

from pathlib import Path

from ballast.tasks import retrying
from ballast.tasks.ingest import load_files, stage_inbox
from ballast.tasks.validate import validate_files
from prefect import flow
from prefect.utilities.annotations import quote

from ballast.ops import progress
from ballast.workspace import Workspace


@flow(name="ingest-inbox")
def ingest_inbox(workspace: str) -> dict:
    """Load every new file in the inbox; quarantine the bad ones with their reasons; leave
    files still being written for the next time."""
    ws = Workspace(Path(workspace)).check()
    root = str(ws.root)
    retry = retrying.for_workspace(ws.root)
    progress.stage("ingest")
    staged = retrying.configured(stage_inbox, retry)(root)
    progress.stage("validate", len(staged))
    staged = retrying.configured(validate_files, retry)(quote(staged))
    progress.stage("load", len(staged))
    return retrying.configured(load_files, retry)(root, quote(staged)).as_dict()
