"""Compute stage: the IPS files found, then per shard of portfolios their policies read and
checks, drift, breaches and trades computed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ballast.tasks import retrying
from ballast.tasks.handoff import Handoff
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast import config as ballast_config
from ballast import review
from ballast.portfolio import policy_set
from ballast.warehouse import db
from ballast.workspace import Workspace


@task(name="find-policies", cache_policy=NO_CACHE, **retrying.DEFAULT)
def find_policies(workspace: str, portfolios: list[str] | None) -> policy_set.PolicyFiles:
    """The IPS files of the portfolios under review (each shard reads its own)."""
    return policy_set.find_policies(Workspace(Path(workspace)), portfolios)


@task(name="compute", cache_policy=NO_CACHE, **retrying.DEFAULT)
def compute(
    workspace: str, as_of: str, files: policy_set.PolicyFiles, with_trades: bool
) -> Handoff[review.Computed]:
    """Read this shard's IPS files, snapshot the warehouse and compute the shard's review
    (handed off: freed once the flow has rendered it, see ``ballast.tasks.handoff``)."""
    ws = Workspace(Path(workspace))
    policies = policy_set.read_policies(ws, files)
    stale = ballast_config.load_checks(ws.root).stale_price_sessions
    with db.connect(ws.warehouse, memory_limit=db.review_memory_limit(ws.warehouse)) as con:
        computed = review.review(
            con, policies, dt.date.fromisoformat(as_of), with_trades=with_trades, stale_after=stale
        )
    return Handoff(computed)
