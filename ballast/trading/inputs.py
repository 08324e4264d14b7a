"""What a trade engine reads: one typed bundle of Polars frames for all portfolios at once.

Both engines (``heuristic.propose`` and ``optimizer.optimise``) and the pipeline around them
take a ``TradingInputs`` instead of a dozen positional frames. The portfolios an engine trades
are those of ``allocation`` and ``holdings``; ``only``/``without`` narrow exactly those two, while
accounts, settings and planned flows stay those of the whole review (the engines join them to
the traded portfolios).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

import polars as pl

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.policy_set import PolicySet
from ballast.trading import wash_sales
from ballast.warehouse.snapshot import Snapshot


@dataclass(frozen=True)
class TradingInputs:
    """Frames for every portfolio to trade (see the module docstring for which are narrowed).

    ``allocation``: ``drift.allocation`` per (portfolio, class). ``holdings``: valued positions
    (portfolio_id, account_id, security_id, asset_class, quantity, price, market_value,
    tax_status). ``settings``, ``accounts``, ``restrictions``, ``costs``: ``policy_frames``.
    ``candidates``: securities that may be bought (security_id, asset_class, price).
    ``flows``: planned cash flows (portfolio_id, account_id, planned: net signed amount).
    ``lots``: tax lots, with the sale date ``as_of`` (none: lots play no part).
    ``transactions``, ``securities``, ``wash_settings``: what the wash-sale rules read.
    """

    allocation: pl.DataFrame
    holdings: pl.DataFrame
    settings: pl.DataFrame
    accounts: pl.DataFrame
    candidates: pl.DataFrame
    restrictions: pl.DataFrame
    costs: pl.DataFrame
    flows: pl.DataFrame | None = None
    lots: pl.DataFrame | None = None
    as_of: dt.date | None = None
    transactions: pl.DataFrame | None = None
    securities: pl.DataFrame | None = None
    wash_settings: pl.DataFrame | None = None

    def only(self, portfolios: pl.DataFrame) -> TradingInputs:
        """These inputs for the portfolios listed (a frame with ``portfolio_id``) alone."""
        return self._narrowed(portfolios, "semi")

    def without(self, portfolios: pl.DataFrame) -> TradingInputs:
        """These inputs for every portfolio but those listed."""
        return self._narrowed(portfolios, "anti")

    def _narrowed(self, portfolios: pl.DataFrame, how: Literal["semi", "anti"]) -> TradingInputs:
        keys = portfolios.select("portfolio_id")
        return replace(
            self,
            allocation=self.allocation.join(keys, on="portfolio_id", how=how),
            holdings=self.holdings.join(keys, on="portfolio_id", how=how),
        )


def buy_candidates(snap: Snapshot) -> pl.DataFrame:
    """Securities of the master that have a price on or before the review date."""
    return snap.securities.join(snap.prices, on="security_id", how="inner").select(
        "security_id", "asset_class", "price"
    )


def planned_flows(snap: Snapshot, pset: PolicySet, accounts: pl.DataFrame) -> pl.DataFrame:
    """Planned flows inside each IPS's planning horizon: one row per flow, with its portfolio."""
    horizon = pl.DataFrame(
        [(p.id, p.cash.planning_days) for p in pset.policies],
        orient="row",
        schema={"portfolio_id": pl.String, "planning_days": pl.Int64},
    )
    return (
        snap.cash_flows.join(accounts.select("portfolio_id", "account_id"), on="account_id")
        .join(horizon, on="portfolio_id")
        .filter(
            pl.col("effective_date")
            <= pl.lit(snap.as_of) + pl.duration(days=pl.col("planning_days"))
        )
        .drop("planning_days")
    )


def for_review(
    snap: Snapshot,
    pset: PolicySet,
    allocation: pl.DataFrame,
    holdings: pl.DataFrame,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
) -> TradingInputs:
    """The inputs of a review: its valid portfolios' allocation and holdings, with the
    snapshot's lots, transactions and prices and the policies' trading rules."""
    policies = pset.policies
    flows = (
        planned_flows(snap, pset, accounts)
        .group_by("portfolio_id", "account_id")
        .agg(pl.col("amount").sum().alias("planned"))
    )
    return TradingInputs(
        allocation=allocation,
        holdings=holdings,
        settings=settings,
        accounts=accounts,
        candidates=buy_candidates(snap),
        restrictions=pf.restrictions_frame(policies),
        costs=pf.costs_frame(policies),
        flows=flows,
        lots=snap.lots,
        as_of=snap.as_of,
        transactions=snap.transactions,
        securities=snap.securities,
        wash_settings=wash_sales.wash_settings(policies),
    )
