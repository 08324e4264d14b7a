"""Render stage: results.json, trades.csv and the HTML reports of a run, written under the run
folder's staging name (the record stage publishes it)."""

from __future__ import annotations

from pathlib import Path

from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.audit import records
from ballast.ops import progress
from ballast.ops.memory import collector_paused
from ballast.ops.runs import RunIdentity
from ballast.reporting import drift_history, outputs, results
from ballast.reporting.pdf import PdfChoice
from ballast.review import Computed, used_files
from ballast.warehouse import db
from ballast.workspace import Workspace


@task(name="render", cache_policy=NO_CACHE, **retrying.DEFAULT)
def render(
    workspace: str, run: RunIdentity, computed: Computed, html: bool = True, pdf: str = "none"
) -> outputs.RenderResult:
    """Write the run folder (PDFs too where ``pdf`` asks) under its staging name; returns its
    final path, output hashes and the results entries."""
    ws = Workspace(Path(workspace))
    meta = run.meta()  # the run as results.json and the reports show it
    with collector_paused():  # many dicts, no garbage cycles
        entries = results.portfolio_entries(computed, kind=run.kind)
        file_ids = used_files(computed)["file_id"].unique().sort().to_list()
        with db.connect(ws.warehouse) as con:
            info = records.file_info(con, file_ids)
            history = drift_history.fetch(con, meta, [e["portfolio_id"] for e in entries])
        contexts = outputs.report_contexts(meta, computed, entries, info, history) if html else []
    if html:
        progress.stage("render", total=len(contexts))  # reports written / reports to write
    folder, hashes = outputs.write_run(
        ws.reports, meta, entries, contexts, html=html, pdf=PdfChoice(pdf)
    )
    return outputs.RenderResult(folder=folder, outputs=hashes, entries=entries, file_ids=file_ids)
