"""One shard's computed review as the run folder and the record stage take it: results entries,
report contexts and the result tables. Pure: what it reads from the warehouse (the files' facts,
the drift history and the earlier review points) is passed in, so it runs as well on a Dask
worker as in the flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from ballast.audit import records
from ballast.ops.memory import collector_paused
from ballast.ops.runs import RunIdentity
from ballast.reporting import outputs, performance, results
from ballast.review import Computed, used_files


@dataclass(frozen=True)
class ShardResults:
    """What one shard's review gives the run folder and the record stage."""

    entries: list[dict[str, Any]]
    contexts: list[dict[str, Any]]
    frames: dict[str, pl.DataFrame]
    file_ids: list[int]
    positions: int


def shard_results(
    run: RunIdentity,
    computed: Computed,
    info: pl.DataFrame | None,
    history: dict[str, list[dict[str, Any]]] | None,
    earlier: pl.DataFrame | None = None,
) -> ShardResults:
    """The shard's results entries and, given the files' facts (``info``: HTML reports wanted),
    the contexts of its reports; ``earlier``: the earlier review points of the performance
    section (``performance.fetch``)."""
    meta = run.meta()  # the run as results.json and the reports show it
    with collector_paused():  # many dicts, no garbage cycles
        perf = performance.compute(computed, earlier, kind=run.kind)
        entries = results.portfolio_entries(computed, kind=run.kind, performance=perf)
        file_ids = used_files(computed)["file_id"].unique().sort().to_list()
        contexts = []
        if info is not None:
            contexts = outputs.report_contexts(meta, computed, entries, info, history)
        frames = records.result_frames(run.run_id, entries)
    return ShardResults(entries, contexts, frames, file_ids, computed.holdings.height)
