"""Compute stage: checks, drift, breaches and trades for one shard of portfolios."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast import config as ballast_config
from ballast import review
from ballast.portfolio import policy_set
from ballast.warehouse import db
from ballast.workspace import Workspace


@task(name="load-policies", cache_policy=NO_CACHE, **retrying.DEFAULT)
def load_policies(workspace: str, portfolios: list[str] | None) -> policy_set.PolicySet:
    """Read and validate the IPS files of the portfolios under review."""
    return policy_set.load_policies(Workspace(Path(workspace)), portfolios)


@task(name="compute", cache_policy=NO_CACHE, **retrying.DEFAULT)
def compute(
    workspace: str, as_of: str, policies: policy_set.PolicySet, with_trades: bool
) -> review.Computed:
    """Snapshot the warehouse and compute the review for this shard of portfolios."""
    ws = Workspace(Path(workspace))
    stale = ballast_config.load_checks(ws.root).stale_price_sessions
    with db.connect(ws.warehouse) as con:
        return review.review(
            con, policies, dt.date.fromisoformat(as_of), with_trades=with_trades, stale_after=stale
        )
