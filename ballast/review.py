"""A review as plain functions: load policies, check data, compute drift and trades.

Everything here works on all the portfolios given at once; a caller may pass one shard of
portfolios, and shards can run in parallel (the run folder joins their outputs in id order).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from ballast.kinds import CASH_SECURITY
from ballast.portfolio import checks, quantities, reconcile
from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from ballast.portfolio.policy_set import PolicySet, accounts_of
from ballast.portfolio.text import text
from ballast.portfolio.valuation import holdings_frame
from ballast.trading.inputs import for_review
from ballast.trading.pipeline import propose_trades
from ballast.trading.proposal import Proposal
from ballast.trading.trade_currency import with_trading_currency
from ballast.warehouse import snapshot


@dataclass(frozen=True)
class Computed:
    """The outcome of the review maths for a set of portfolios."""

    as_of: dt.date
    policies: PolicySet
    allocation: pl.DataFrame
    proposal: Proposal | None
    errors: pl.DataFrame  # portfolio_id, message
    warnings: pl.DataFrame  # portfolio_id, message
    holdings: pl.DataFrame
    snapshot: snapshot.Snapshot
    checks: pl.DataFrame  # portfolio_id, check, status, messages (reconciliation outcomes)


def reconciliation(
    snap: snapshot.Snapshot,
    accounts: pl.DataFrame,
    holdings: pl.DataFrame,
    portfolios: pl.DataFrame,
    stale_after: int,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(failures, outcomes, warnings) of the reconciliation checks for every portfolio."""
    failures = pl.concat(
        [
            reconcile.lots_vs_positions(snap.positions, snap.lots, accounts),
            reconcile.roll_forward(
                snap.previous_positions, snap.positions, snap.transactions, accounts
            ),
            reconcile.stale_prices(holdings, snap.prices, snap.as_of, stale_after),
        ]
    )
    suspects = reconcile.duplicate_transactions(snap.transactions, accounts)
    with_lots = accounts.join(snap.lots.select("account_id").unique(), on="account_id", how="semi")
    rolled = accounts.join(
        snap.previous_positions.select("account_id").unique(), on="account_id", how="semi"
    ).join(snap.transactions.select("account_id").unique(), on="account_id", how="semi")
    securities = holdings.filter(pl.col("security_id") != CASH_SECURITY).select("portfolio_id")
    skipped = pl.concat(
        [
            portfolios.join(with_lots, on="portfolio_id", how="anti").with_columns(
                pl.lit("lots_match_positions").alias("check")
            ),
            portfolios.join(securities.unique(), on="portfolio_id", how="anti").with_columns(
                pl.lit("stale_prices").alias("check")  # nothing but cash: no price to check
            ),
            portfolios.join(rolled, on="portfolio_id", how="anti").with_columns(
                pl.lit("roll_forward").alias("check")
            ),
            portfolios.join(
                snap.transactions.join(accounts, on="account_id").select("portfolio_id").unique(),
                on="portfolio_id",
                how="anti",
            ).with_columns(pl.lit("duplicate_transactions").alias("check")),
        ]
    )
    outcomes = reconcile.outcomes(portfolios, failures, skipped)
    return failures, outcomes, suspects.select("portfolio_id", "message")


def compute(
    snap: snapshot.Snapshot,
    pset: PolicySet,
    *,
    with_trades: bool = True,
    stale_after: int = reconcile.STALE_AFTER_SESSIONS,
) -> Computed:
    """Checks, allocation, drift, breaches and (optionally) trades for every portfolio."""
    policies = pset.policies
    accounts = pf.accounts_frame(policies)
    settings = pf.settings_frame(policies)
    holdings = holdings_frame(snap, accounts, settings)
    portfolios = settings.select("portfolio_id")
    as_of = snap.as_of.isoformat()
    no_master = snap.securities.is_empty()
    failures, outcomes, suspects = reconciliation(snap, accounts, holdings, portfolios, stale_after)
    errors = pl.concat(
        [
            pl.DataFrame(
                {"portfolio_id": list(pset.errors), "message": list(pset.errors.values())},
                schema=checks.ERRORS_SCHEMA,
            ),
            checks.duplicate_accounts(accounts),
            checks.missing_accounts(
                accounts, snap.positions, snap.quarantined, as_of, snap.previous_positions
            ),
            portfolios.with_columns(
                pl.lit("no valid security master (reference/securities.csv)").alias("message")
            )
            if no_master
            else checks.unknown_securities(holdings),
            checks.foreign_currency(holdings),
            checks.bad_cash(holdings),
            checks.empty_portfolios(holdings, portfolios),
            checks.refused_restatements(snap.positions, snap.quarantined, accounts),
            failures.select("portfolio_id", "message"),
        ]
    ).unique(maintain_order=True)
    valid = portfolios.join(errors, on="portfolio_id", how="anti")
    holdings_ok = holdings.join(valid, on="portfolio_id", how="semi")
    targets = pf.targets_frame(policies).join(valid, on="portfolio_id", how="semi")
    alloc = allocation(holdings_ok, targets)
    warnings = alloc.filter(pl.col("unplanned_class")).select(
        "portfolio_id",
        text(
            "holdings in asset class {} are not in the IPS: counted in the total, never traded",
            pl.col("asset_class"),
        ).alias("message"),
    )
    restated = snap.restatements.join(
        accounts.select("portfolio_id", "account_id"), on="account_id"
    ).select(
        "portfolio_id",
        text(
            "{} of account {} as of {} come from the restated file {} (file #{}), which "
            "replaces {}",
            pl.col("kind"),
            pl.col("account_id"),
            pl.lit(as_of),
            pl.col("used_file"),
            pl.col("used_file_id"),
            pl.col("replaced"),
        ).alias("message"),
    )
    shorts = holdings_ok.filter(
        (pl.col("quantity") < 0) & (pl.col("security_id") != CASH_SECURITY)
    ).select(
        "portfolio_id",
        text(
            "short position of {} {} in account {} ({}) is held as declared: counted in {}, "
            "never sold, covered or bought by the proposal",
            quantities.plain(-pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("market_value").cast(pl.Decimal(38, 2)),
            pl.col("asset_class"),
        ).alias("message"),
    )
    warnings = pl.concat([warnings, restated, shorts, suspects])
    proposal = None
    if with_trades:
        inputs = for_review(snap, pset, alloc, holdings_ok, settings, accounts)
        proposal, trade_warnings = propose_trades(inputs)
        proposal = replace(
            proposal,
            trades=with_trading_currency(proposal.trades, holdings_ok, inputs.candidates, settings),
        )
        warnings = pl.concat([warnings, trade_warnings])
    return Computed(snap.as_of, pset, alloc, proposal, errors, warnings, holdings, snap, outcomes)


def used_files(c: Computed) -> pl.DataFrame:
    """(portfolio_id, file_id) of every custodian file a portfolio's review read."""
    positions = c.holdings.select("portfolio_id", "file_id")
    owners = c.holdings.select("portfolio_id", "account_id").unique()
    lot_files = c.snapshot.lots.select("account_id", "file_id").join(owners, on="account_id")
    return (
        pl.concat([positions, lot_files.select("portfolio_id", "file_id")])
        .unique()
        .sort("portfolio_id", "file_id")
    )


def review(
    con: duckdb.DuckDBPyConnection,
    pset: PolicySet,
    as_of: dt.date,
    *,
    with_trades: bool = True,
    stale_after: int = reconcile.STALE_AFTER_SESSIONS,
) -> Computed:
    """Snapshot the warehouse for these policies and compute the review."""
    snap = snapshot.take(con, as_of, accounts_of(pset))
    return compute(snap, pset, with_trades=with_trades, stale_after=stale_after)
