"""Reconciliation: does the custodian data add up before any trade is proposed? (pure Polars)

Each check returns failures as (portfolio_id, check, message) rows; a portfolio with any failure
is ``data_invalid`` and gets no trades, while the others go on. ``duplicate_transactions`` only
warns (see there). ``outcomes`` turns failures into
one row per (portfolio, check) with status passed, failed or not_checked, for the report.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import numpy as np
import polars as pl

from ballast import calendar
from ballast.kinds import CASH_SECURITY, DERIVED_TRANSACTION_ID
from ballast.portfolio.quantities import plain
from ballast.portfolio.text import text

STALE_AFTER_SESSIONS = 5  # a price older than this many NYSE sessions is stale
CHECKS = ("lots_match_positions", "roll_forward", "stale_prices", "duplicate_transactions")
FAILURE_SCHEMA = {"portfolio_id": pl.String, "check": pl.String, "message": pl.String}
QTY = pl.Decimal(38, 6)


def _owned(frame: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    return frame.join(accounts.select("portfolio_id", "account_id"), on="account_id")


def lots_vs_positions(
    positions: pl.DataFrame, lots: pl.DataFrame, accounts: pl.DataFrame
) -> pl.DataFrame:
    """Where an account sent lots, they must add up exactly to each non-cash position."""
    with_lots = lots.select("account_id").unique()
    held = (
        positions.filter(pl.col("security_id") != CASH_SECURITY)
        .join(with_lots, on="account_id", how="semi")
        .select("account_id", "security_id", "quantity")
    )
    lot_sums = lots.group_by("account_id", "security_id").agg(
        pl.col("quantity").sum().cast(QTY).alias("lot_quantity")
    )
    both = held.join(lot_sums, on=["account_id", "security_id"], how="full", coalesce=True)
    bad = both.filter(
        pl.col("quantity").fill_null(0).cast(QTY) != pl.col("lot_quantity").fill_null(0)
    )
    return _owned(bad, accounts).select(
        "portfolio_id",
        pl.lit("lots_match_positions").alias("check"),
        text(
            "lots of {} in account {} add up to {}, the position is {}",
            pl.col("security_id"),
            pl.col("account_id"),
            plain(pl.col("lot_quantity").fill_null(0)),
            plain(pl.col("quantity").fill_null(0)),
        ).alias("message"),
    )


def _signed_quantity() -> pl.Expr:
    q = pl.col("quantity").fill_null(0).cast(QTY).abs()
    return (
        pl.when(pl.col("type").is_in(["BUY", "REINVEST"]))
        .then(q)
        .when(pl.col("type") == "SELL")
        .then(-q)
        .otherwise(pl.lit(0).cast(QTY))
    )


def roll_forward(
    previous: pl.DataFrame,
    positions: pl.DataFrame,
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
) -> pl.DataFrame:
    """Previous quantity + transactions since = today's quantity (cash: + every amount).

    Checked for accounts that have an earlier positions file and send transactions; the others
    are reported as not checked.
    """
    starts = previous.group_by("account_id").agg(pl.col("as_of_date").first().alias("since"))
    txns = transactions.join(starts, on="account_id").filter(pl.col("trade_date") > pl.col("since"))
    checked = starts.join(transactions.select("account_id").unique(), on="account_id", how="semi")
    moves = (
        pl.concat(
            [
                txns.filter(
                    pl.col("security_id").is_not_null() & (pl.col("security_id") != CASH_SECURITY)
                ).select("account_id", "security_id", _signed_quantity().alias("change")),
                txns.select(
                    "account_id",
                    pl.lit(CASH_SECURITY).alias("security_id"),
                    pl.col("amount").cast(QTY).alias("change"),
                ),
            ]
        )
        .group_by("account_id", "security_id")
        .agg(pl.col("change").sum())
    )
    keys = ["account_id", "security_id"]
    frame = (
        previous.select(*keys, pl.col("quantity").cast(QTY).alias("before"))
        .join(
            positions.select(*keys, pl.col("quantity").cast(QTY).alias("after")),
            on=keys,
            how="full",
            coalesce=True,
        )
        .join(moves, on=keys, how="full", coalesce=True)
        .join(checked.select("account_id"), on="account_id", how="semi")
        .with_columns(pl.col("before", "after", "change").fill_null(0))
    )
    bad = frame.filter(pl.col("before") + pl.col("change") != pl.col("after"))
    return _owned(bad, accounts).select(
        "portfolio_id",
        pl.lit("roll_forward").alias("check"),
        text(
            "{} in account {} does not roll forward: {} before + {} from transactions "
            "= {}, but the custodian reports {}",
            pl.col("security_id"),
            pl.col("account_id"),
            plain(pl.col("before")),
            plain(pl.col("change")),
            plain(pl.col("before") + pl.col("change")),
            plain(pl.col("after")),
        ).alias("message"),
    )


def sessions_between(earlier: pl.Expr, as_of: dt.date, first: dt.date) -> pl.Expr:
    """NYSE sessions after ``earlier`` up to and including ``as_of`` (vectorised lookup)."""
    days = np.array(calendar.sessions(first, as_of), dtype="datetime64[D]")
    total = len(days)
    return earlier.map_batches(
        lambda s: pl.Series(
            total - np.searchsorted(days, s.to_numpy().astype("datetime64[D]"), side="right")
        ),
        return_dtype=pl.Int64,
    )


def stale_prices(
    holdings: pl.DataFrame, prices: pl.DataFrame, as_of: dt.date, max_sessions: int
) -> pl.DataFrame:
    """Held securities whose latest price file entry is more than ``max_sessions`` old."""
    held = (
        holdings.filter(pl.col("security_id") != CASH_SECURITY)
        .select("portfolio_id", "security_id")
        .unique()
    )
    priced = held.join(prices.select("security_id", "price_date"), on="security_id")
    if priced.is_empty():
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    first = min(cast(dt.date, priced["price_date"].min()), as_of)
    age = priced.with_columns(sessions_between(pl.col("price_date"), as_of, first).alias("age"))
    return age.filter(pl.col("age") > max_sessions).select(
        "portfolio_id",
        pl.lit("stale_prices").alias("check"),
        text(
            "the latest price of {} is from {}, {} business days before the review "
            "(at most {} allowed)",
            pl.col("security_id"),
            pl.col("price_date"),
            pl.col("age"),
            pl.lit(max_sessions),
        ).alias("message"),
    )


def duplicate_transactions(transactions: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Suspected duplicates, as *warnings* (portfolio_id, check, message): rows alike in account,
    date, security, type, quantity and amount of which at least one has no custodian id.

    The custodian's transaction ids decide what is one transaction: rows with distinct ids of
    their own (IBKR's ``transactionID``, a canonical file's ``transaction_id``) are distinct,
    such as two executions of one order at the same quantity and price; the same id twice is
    one transaction already (the snapshot keeps the latest file's copy). Only where ballast had
    to derive an id from the row's content (``DERIVED_TRANSACTION_ID``) can two alike rows be
    one posting twice, and nothing in the file can tell: a warning, never a block.
    """
    keys = ["account_id", "trade_date", "security_id", "type", "quantity", "amount"]
    derived = pl.col("transaction_id").str.contains(DERIVED_TRANSACTION_ID)
    dup = (
        transactions.filter((pl.len().over(keys) > 1) & derived.any().over(keys))
        .group_by(keys, maintain_order=True)
        .agg(pl.col("transaction_id").sort().str.join(", ").alias("ids"))
    )
    return _owned(dup, accounts).select(
        "portfolio_id",
        pl.lit("duplicate_transactions").alias("check"),
        text(
            "transactions {} in account {} look like one {} posted more than once ({} {} on {}); "
            "the file gives no custodian transaction ids to tell them apart: check with the "
            "custodian",
            pl.col("ids"),
            pl.col("account_id"),
            pl.col("type"),
            pl.col("security_id").fill_null("cash"),
            plain(pl.col("quantity").fill_null(0)),
            pl.col("trade_date"),
        ).alias("message"),
    )


def outcomes(
    portfolios: pl.DataFrame, failures: pl.DataFrame, not_checked: pl.DataFrame
) -> pl.DataFrame:
    """One row per (portfolio, check): passed, failed (with messages) or not_checked."""
    grid = portfolios.join(pl.DataFrame({"check": list(CHECKS)}), how="cross")
    failed = failures.group_by("portfolio_id", "check").agg(pl.col("message"))
    return (
        grid.join(failed, on=["portfolio_id", "check"], how="left")
        .join(
            not_checked.with_columns(pl.lit(True).alias("skipped")),
            on=["portfolio_id", "check"],
            how="left",
        )
        .with_columns(
            pl.when(pl.col("message").is_not_null())
            .then(pl.lit("failed"))
            .when(pl.col("skipped").fill_null(False))
            .then(pl.lit("not_checked"))
            .otherwise(pl.lit("passed"))
            .alias("status"),
            pl.col("message").fill_null([]),
        )
        .select("portfolio_id", "check", "status", pl.col("message").alias("messages"))
        .sort("portfolio_id")
    )
