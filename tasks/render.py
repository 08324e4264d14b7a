"""Render stage, one shard at a time: the results entries of the shard's portfolios, the
contexts of their reports and the result tables to record. The flow hands them to the run's
``RunFolder``, which writes them; this task writes nothing, so a retry is always safe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.audit import records
from ballast.ops.memory import collector_paused
from ballast.ops.runs import RunIdentity
from ballast.reporting import drift_history, outputs, results
from ballast.review import Computed, used_files
from ballast.warehouse import db
from ballast.workspace import Workspace


@dataclass(frozen=True)
class ShardResults:
    """What one shard's review gives the run folder and the record stage."""

    entries: list[dict[str, Any]]
    contexts: list[dict[str, Any]]
    frames: dict[str, pl.DataFrame]
    file_ids: list[int]
    positions: int


@task(name="render", cache_policy=NO_CACHE, **retrying.DEFAULT)
def render(workspace: str, run: RunIdentity, computed: Computed, html: bool = True) -> ShardResults:
    """The shard's results entries and, for ``html``, the contexts of its reports."""
    ws = Workspace(Path(workspace))
    meta = run.meta()  # the run as results.json and the reports show it
    with collector_paused():  # many dicts, no garbage cycles
        entries = results.portfolio_entries(computed, kind=run.kind)
        file_ids = used_files(computed)["file_id"].unique().sort().to_list()
        contexts = []
        if html:
            with db.connect(ws.warehouse) as con:
                info = records.file_info(con, file_ids)
                history = drift_history.fetch(con, meta, [e["portfolio_id"] for e in entries])
            contexts = outputs.report_contexts(meta, computed, entries, info, history)
        frames = records.result_frames(run.run_id, entries)
    return ShardResults(entries, contexts, frames, file_ids, computed.holdings.height)
