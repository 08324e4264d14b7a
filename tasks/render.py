"""Render stage, one shard at a time: the results entries of the shard's portfolios, the
contexts of their reports and the result tables to record (``ballast.cluster.shard_results``).
The flow hands them to the run's ``RunFolder``, which writes them; this task writes nothing, so
a retry is always safe."""

from __future__ import annotations

from pathlib import Path

from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.audit import records
from ballast.cluster.shard_results import ShardResults, shard_results
from ballast.ops.runs import RunIdentity
from ballast.reporting import drift_history, performance
from ballast.review import Computed, used_files
from ballast.warehouse import db
from ballast.workspace import Workspace

__all__ = ["ShardResults", "render"]


@task(name="render", cache_policy=NO_CACHE, **retrying.DEFAULT)
def render(workspace: str, run: RunIdentity, computed: Computed, html: bool = True) -> ShardResults:
    """The shard's results entries and, for ``html``, the contexts of its reports."""
    info = history = earlier = None
    if html or run.kind == "quarterly_review":
        file_ids = used_files(computed)["file_id"].unique().sort().to_list()
        warehouse = Workspace(Path(workspace)).warehouse
        with db.connect(warehouse, memory_limit=db.review_memory_limit(warehouse)) as con:
            earlier = performance.fetch_for(con, run.meta(), computed.policies.ids)
            if html:
                info = records.file_info(con, file_ids)
                history = drift_history.fetch(con, run.meta(), computed.policies.ids)
    return shard_results(run, computed, info, history, earlier)
