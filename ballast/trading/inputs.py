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
from ballast.portfolio.valuation import RATE, fx_pairs
from ballast.trading import gains_budget, harvest, wash_sales
from ballast.warehouse.snapshot import Snapshot


@dataclass(frozen=True)
class TradingInputs:
    """Frames for every portfolio to trade (see the module docstring for which are narrowed).

    ``allocation``: ``drift.allocation`` per (portfolio, class). ``holdings``: valued positions
    (portfolio_id, account_id, security_id, asset_class, quantity, price, market_value,
    tax_status). ``settings``, ``accounts``, ``restrictions``, ``costs``: ``policy_frames``.
    ``candidates``: securities that may be bought, priced per base currency (base_currency,
    security_id, asset_class, price; see ``buy_candidates``).
    ``flows``: planned cash flows (portfolio_id, account_id, planned: net signed amount).
    ``lots``: tax lots, with the sale date ``as_of`` (none: lots play no part).
    ``transactions``, ``securities``, ``wash_settings``: what the wash-sale rules read.
    ``security_weights``: ``policy_frames.security_weights_frame``, the security-level weights
    within classes (a model's ``securities:``) that split a class's buys (none: no split).
    ``tax_budgets``: ``gains_budget.budget_settings`` (the IPS gains budget, state rate and loss
    carry-forward; none: no budget). The state rate is already in ``settings``' rates
    (``gains_budget.with_state_rates``, done by ``for_review``).
    ``harvest``: ``harvest.harvest_settings`` (tax-loss harvesting, IPS ``tax.harvest``; none or
    empty: no portfolio harvests).
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
    security_weights: pl.DataFrame | None = None
    tax_budgets: pl.DataFrame | None = None
    harvest: pl.DataFrame | None = None

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


def buy_candidates(snap: Snapshot, settings: pl.DataFrame) -> pl.DataFrame:
    """Securities of the master that have a price on or before the review date, priced in
    each base currency of the review: (base_currency, security_id, asset_class, price,
    currency, local_price, fx_rate).

    ``price`` is in the base currency: a price in another currency is converted with the
    latest custodian FX rate, rounded half-even to 6 dp, exactly as a held position's price
    (``valuation.holdings_frame``). A security with no rate to a base is not bought by that
    base's portfolios (its price in their currency is unknown)."""
    bases = settings.select("base_currency").unique()
    rate = (
        pl.when(pl.col("currency") == pl.col("base_currency"))
        .then(pl.lit(1).cast(RATE))
        .otherwise(pl.col("rate"))
    )
    return (
        snap.securities.select("security_id", "asset_class")
        .join(snap.prices.select("security_id", "price", "currency"), on="security_id")
        .join(bases, how="cross")
        .join(
            fx_pairs(snap.fx_rates),
            left_on=["currency", "base_currency"],
            right_on=["currency", "quote_currency"],
            how="left",
        )
        .with_columns(rate.alias("fx_rate"))
        .filter(pl.col("fx_rate").is_not_null())
        .select(
            "base_currency",
            "security_id",
            "asset_class",
            (pl.col("price") * pl.col("fx_rate")).cast(pl.Decimal(18, 6)).alias("price"),
            "currency",
            pl.col("price").alias("local_price"),
            "fx_rate",
        )
        .sort("base_currency", "security_id")
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
    snapshot's lots, transactions and prices and the policies' trading rules (rates federal +
    state, and the gains budgets)."""
    policies = pset.policies
    budgets = gains_budget.budget_settings(policies)
    flows = (
        planned_flows(snap, pset, accounts)
        .group_by("portfolio_id", "account_id")
        .agg(pl.col("amount").sum().alias("planned"))
    )
    return TradingInputs(
        allocation=allocation,
        holdings=holdings,
        settings=gains_budget.with_state_rates(settings, budgets),
        accounts=accounts,
        candidates=buy_candidates(snap, settings),
        restrictions=pf.restrictions_frame(policies),
        costs=pf.costs_frame(policies),
        flows=flows,
        lots=snap.lots,
        as_of=snap.as_of,
        transactions=snap.transactions,
        securities=snap.securities,
        wash_settings=wash_sales.wash_settings(policies),
        security_weights=pf.security_weights_frame(policies),
        tax_budgets=budgets,
        harvest=harvest.harvest_settings(policies),
    )
