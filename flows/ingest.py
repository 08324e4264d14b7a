"""Ingest only: read the inbox, validate, load or quarantine."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.utilities.annotations import quote

from ballast.workspace import Workspace
from tasks.ingest import load_files, stage_inbox
from tasks.validate import validate_files


@flow(name="ingest-inbox")
def ingest_inbox(workspace: str) -> dict:
    """Load every new file in the inbox; quarantine the bad ones with their reasons."""
    ws = Workspace(Path(workspace)).check()
    staged = stage_inbox(str(ws.root))
    return load_files(str(ws.root), quote(validate_files(quote(staged))))
