"""Waiting for late custodian files before a scheduled review (issue 6 item 2).

Every account named by a valid IPS should have positions dated the review's as-of date, either
loaded already or in a file waiting in the inbox. ``await_custodian_files`` looks every
``schedule.poll_seconds`` until they all do or ``schedule.wait_for_files_minutes`` have passed
(``ballast.yaml``), then lets the review go ahead: the accounts still missing are reported
``data_invalid``. Plain functions; ``ballast.flows.scheduled`` calls the wait before the review.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from ballast import config as ballast_config
from ballast.workspace import Workspace

Logger = logging.Logger | logging.LoggerAdapter


def expected_accounts(ws: Workspace) -> set[str]:
    """Every account named by a valid IPS in ``ips/``."""
    from ballast.portfolio.policy_set import load_policies

    return {a.id for p in load_policies(ws).policies for a in p.accounts}


def accounts_with_positions(ws: Workspace, as_of: dt.date) -> set[str]:
    """Accounts with positions dated ``as_of``: loaded already, or in a file in the inbox."""
    from ballast.ingest import inbox
    from ballast.kinds import POSITIONS
    from ballast.warehouse import db

    with db.connect(ws.warehouse) as con:
        found = set(
            db.query(con, "snapshot/accounts_with_positions", {"as_of": as_of})[
                "account_id"
            ].to_list()
        )
        staged = inbox.stage_workspace(con, ws)
    for s in staged:
        for part in s.parts:
            if part.kind is POSITIONS:
                dated = part.frame.filter(pl.col("as_of_date") == as_of)
                found |= set(dated["account_id"].unique().to_list())
    return found


def await_custodian_files(
    workspace: str,
    as_of: dt.date,
    *,
    logger: Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> set[str]:
    """Wait for positions dated ``as_of`` for every IPS account.

    Looks every ``schedule.poll_seconds`` until every account is covered or
    ``schedule.wait_for_files_minutes`` have passed (``ballast.yaml``), then returns the accounts
    still missing; the review goes ahead and reports their portfolios ``data_invalid``. Logs to
    ``logger`` (a flow passes its run logger), else to the ``ballast.schedule`` logger.
    """
    ws = Workspace(Path(workspace))
    config = ballast_config.load(ws.root)
    deadline = clock() + config.wait_for_files_minutes * 60
    expected = expected_accounts(ws)
    logger = logger or logging.getLogger("ballast.schedule")
    while True:
        missing = expected - accounts_with_positions(ws, as_of)
        if not missing:
            return set()
        left = deadline - clock()
        if left <= 0:
            logger.warning(
                "no positions as of %s for %s after waiting %s min: reviewing the others",
                as_of,
                ", ".join(sorted(missing)),
                config.wait_for_files_minutes,
            )
            return missing
        logger.info("waiting for positions as of %s: %d accounts missing", as_of, len(missing))
        sleep(min(config.poll_seconds, left))
