"""The quarterly review and the daily drift monitor.

Large arguments (staged files, policies, results) are wrapped in ``quote``: otherwise Prefect
walks every element looking for futures, which cost more than the review itself at 10,000
portfolios.

stage inbox ─► validate (GX) ─► load / quarantine ─► load policies ─► compute (per shard)
                                                                    ─► render ─► record, publish

Around the stages: each one is announced through ``ballast.ops.progress`` (the command line shows
it) and logged with its duration and counts; every log line of the run carries the run id and
goes to ``<workspace>/logs/ballast.jsonl`` (``ballast.ops.runlog``); tasks retry transient failures
as ``ballast.yaml`` says (``ballast.tasks.retrying``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ballast.tasks import retrying
from ballast.tasks.compute import compute, load_policies
from ballast.tasks.ingest import load_files, stage_inbox
from ballast.tasks.record import finish_run, start_run
from ballast.tasks.render import render
from ballast.tasks.validate import validate_files
from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from ballast.audit import recovery
from ballast.ops import notify, progress, runlog, runs
from ballast.portfolio.policy_set import PolicySet
from ballast.reporting import summary
from ballast.review import merge
from ballast.workspace import Workspace


def _shards(pset: PolicySet, shard_size: int | None) -> list[PolicySet]:
    if not shard_size or len(pset.policies) <= shard_size:
        return [pset]
    return pset.split(shard_size)


def _counts(stage: str, out: Any) -> dict[str, int]:
    """The numbers logged with a finished stage."""
    if out is None:
        return {}
    if stage in ("ingest", "validate"):
        return {
            "files": len(out),
            "deferred": sum(1 for s in out if s.deferred),
            "rows": sum(s.rows or 0 for s in out),
        }
    if stage == "load":
        return {k: len(files) for k, files in out.as_dict().items()}
    if stage == "policies":
        return {"portfolios": len(out.policies) + len(out.errors), "refused": len(out.errors)}
    if stage == "compute":
        return {"portfolios": len(out.policies.ids), "positions": out.holdings.height}
    if stage == "render":
        return {"portfolios": len(out.entries), "files": len(out.outputs)}
    return {}


def _tasks(workspace: Path) -> SimpleNamespace:
    """The run's tasks, with the retries the workspace's ``ballast.yaml`` asks for."""
    retry = retrying.for_workspace(workspace)
    tasks = (
        start_run,
        stage_inbox,
        validate_files,
        load_files,
        load_policies,
        compute,
        render,
        finish_run,
    )
    return SimpleNamespace(**{t.fn.__name__: retrying.configured(t, retry) for t in tasks})


def _compute_all(
    task: Any, root: str, run: runs.RunIdentity, pset: PolicySet, shard_size: int | None
) -> Any:
    """One ``compute`` task per shard, submitted together; their results merged."""
    with_trades = run.kind != "monitor"
    shards = _shards(pset, shard_size)
    futures = [task.submit(root, run.as_of, quote(s), with_trades) for s in shards]
    return merge([f.result() for f in futures])


def run_review(
    workspace: str,
    as_of: str,
    portfolios: list[str] | None = None,
    reason: str | None = None,
    trigger: str = "manual",
    kind: str = "quarterly_review",
    html: bool = True,
    shard_size: int | None = None,
    pdf: str = "none",
) -> dict[str, Any]:
    """The body shared by both flows: ingest, compute, render and record one run."""
    ws = Workspace(Path(workspace)).check()
    dt.date.fromisoformat(as_of)
    run = runs.RunIdentity.begin(as_of, kind, trigger, reason)
    with runlog.bound(ws.root, run.run_id):
        return _run(ws, run, portfolios, html, shard_size, pdf)


def _run(
    ws: Workspace,
    run: runs.RunIdentity,
    portfolios: list[str] | None,
    html: bool,
    shard_size: int | None,
    pdf: str,
) -> dict[str, Any]:
    root, as_of, kind = str(ws.root), run.as_of, run.kind
    logger = get_run_logger()
    logger.info("run %s: %s as of %s", run.run_id, kind, as_of)
    seconds: dict[str, float] = {}
    t = _tasks(ws.root)

    def timed(stage: str, fn: Callable[..., Any], *args: Any, total: int | None = None) -> Any:
        progress.stage(stage, total)
        t0 = time.perf_counter()
        out = fn(*args)
        took = time.perf_counter() - t0
        seconds[stage] = seconds.get(stage, 0.0) + took
        numbers = {"seconds": round(took, 3), **_counts(stage, out)}
        logger.info("%s done in %.2f s", stage, took, extra=numbers)
        return out

    t_run = time.perf_counter()
    progress.stage("start")
    found = recovery.recover(root, run.run_id)  # first: clean up after killed runs
    if found:
        logger.info("recovered after killed runs: %s", found.describe())
    t.start_run(root, run)
    pset = rendered = ingest = None
    status = "failed"
    try:
        staged = timed("ingest", t.stage_inbox, root)
        staged = timed("validate", t.validate_files, quote(staged), total=len(staged))
        for s in staged:
            if s.deferred:
                logger.info("still being written: %s (%s)", s.name, s.deferred)
        ingest = timed("load", t.load_files, root, quote(staged), run.run_id, total=len(staged))
        pset = timed("policies", t.load_policies, root, portfolios)
        computed = timed("compute", _compute_all, t.compute, root, run, pset, shard_size)
        rendered = timed("render", t.render, root, run, quote(computed), html, pdf)
        invalid = [e["portfolio_id"] for e in rendered.entries if e["status"] != "ok"]
        status = "completed_with_errors" if invalid else "completed"
    finally:
        timed("record", t.finish_run, root, run, quote(pset), quote(rendered), ingest, status)
        recovery.release(root)
    entries = rendered.entries
    result = {
        "run_id": run.run_id,
        "as_of": as_of,
        "kind": kind,
        "status": status,
        "report_dir": str(rendered.folder),
        "ingest": ingest.as_dict(),
        "invalid": invalid,
        "portfolios": len(entries),
        "breached": sum(e["breached"] for e in entries),
        "trades": sum(len(e["trades"]) for e in entries),
        "rows": [summary.terminal_row(e) for e in entries],
        "positions": computed.holdings.height,
        "stage_seconds": seconds,
    }
    numbers = {k: result[k] for k in ("portfolios", "breached", "trades", "positions")}
    took = time.perf_counter() - t_run
    logger.info("run %s in %.2f s", status, took, extra={"seconds": round(took, 3), **numbers})
    notify.send(ws.root, result, logger)
    return result


@flow(name="quarterly-review")
def quarterly_review(
    workspace: str,
    as_of: str,
    portfolios: list[str] | None = None,
    reason: str | None = None,
    trigger: str = "manual",
    html: bool = True,
    shard_size: int | None = None,
    pdf: str = "none",
) -> dict[str, Any]:
    """Ingest, validate, compute drift, breaches and trades, and render the reports (PDF copies
    for ``pdf``: none, action (portfolios to rebalance or with invalid data) or all)."""
    return run_review(
        workspace, as_of, portfolios, reason, trigger, "quarterly_review", html, shard_size, pdf
    )


@flow(name="daily-monitor")
def monitor(
    workspace: str,
    as_of: str,
    portfolios: list[str] | None = None,
    reason: str | None = None,
    trigger: str = "manual",
) -> dict[str, Any]:
    """The daily drift check: ingest and report breaches, propose no trades."""
    return run_review(workspace, as_of, portfolios, reason, trigger, "monitor", True, None)
