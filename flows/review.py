"""The quarterly review and the daily drift monitor.

Large arguments (staged files, policies, results) are wrapped in ``quote``: otherwise Prefect
walks every element looking for futures, which cost more than the review itself at 10,000
portfolios.

stage inbox ─► validate (GX) ─► load / quarantine ─► load policies ─► compute (per shard)
                                                                    ─► render ─► record
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from ballast import faults, notify, recovery, runs
from ballast.review import PolicySet, merge
from ballast.workspace import Workspace
from tasks.compute import compute, load_policies
from tasks.ingest import load_files, stage_inbox
from tasks.record import finish_run, start_run
from tasks.render import render
from tasks.validate import validate_files


def _shards(pset: PolicySet, shard_size: int | None) -> list[PolicySet]:
    if not shard_size or len(pset.policies) <= shard_size:
        return [pset]
    return pset.split(shard_size)


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
    run = {
        "run_id": runs.new_run_id(),
        "as_of": as_of,
        "kind": kind,
        "trigger": trigger,
        "who": runs.who(),
        "reason": reason,
        "code_version": runs.code_version(),
        "started_at": dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None),
    }
    logger = get_run_logger()
    logger.info("run %s: %s as of %s", run["run_id"], kind, as_of)
    seconds: dict[str, float] = {}

    def timed(stage: str, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - t0
        return out

    recovery.recover(str(ws.root), run["run_id"])  # first: clean up after killed runs
    faults.arm()  # test hook: no-op unless BALLAST_TEST_CRASH_AT is set
    start_run(str(ws.root), {**run, "started_at": run["started_at"]})
    pset = rendered = ingest = None
    status = "failed"
    try:
        staged = timed("ingest", stage_inbox, str(ws.root))
        staged = timed("validate", validate_files, quote(staged))
        faults.crash_point("staged")
        ingest = timed("load", load_files, str(ws.root), quote(staged), run["run_id"])
        pset = timed("policies", load_policies, str(ws.root), portfolios)
        shards = _shards(pset, shard_size)
        t0 = time.perf_counter()
        futures = [compute.submit(str(ws.root), as_of, quote(s), kind != "monitor") for s in shards]
        computed = merge([f.result() for f in futures])
        seconds["compute"] = time.perf_counter() - t0
        run_meta = {**run, "started_at": run["started_at"].isoformat() + "Z"}
        rendered = timed("render", render, str(ws.root), run_meta, quote(computed), html, pdf)
        invalid = [e["portfolio_id"] for e in rendered["entries"] if e["status"] != "ok"]
        status = "completed_with_errors" if invalid else "completed"
    finally:
        timed("record", finish_run, str(ws.root), run, quote(pset), quote(rendered), ingest, status)
        recovery.release(str(ws.root))
    entries = rendered["entries"]
    result = {
        "run_id": run["run_id"],
        "as_of": as_of,
        "kind": kind,
        "status": status,
        "report_dir": rendered["folder"],
        "ingest": ingest,
        "invalid": invalid,
        "portfolios": len(entries),
        "breached": sum(e["breached"] for e in entries),
        "trades": sum(len(e["trades"]) for e in entries),
        "positions": computed.holdings.height,
        "stage_seconds": seconds,
    }
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
