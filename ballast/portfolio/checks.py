"""Per-portfolio data checks before any trade is proposed (vectorised over all portfolios).

A portfolio with any error here gets status ``data_invalid`` and no trades; the others go on.
"""

from __future__ import annotations

import polars as pl

from ballast.kinds import CASH_SECURITY
from ballast.portfolio.text import text

ERRORS_SCHEMA = {"portfolio_id": pl.String, "message": pl.String}


def _file_ref() -> pl.Expr:
    return text("file #{} row {}", pl.col("file_id"), pl.col("line"))


def missing_accounts(
    accounts: pl.DataFrame,
    positions: pl.DataFrame,
    quarantined: pl.DataFrame,
    as_of: str,
    previous: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Accounts with no positions on the review date: why (a quarantined file that names them)
    or what there is instead (the latest earlier date with positions)."""
    missing = accounts.join(positions.select("account_id").unique(), on="account_id", how="anti")
    why = quarantined.group_by("account_id").agg(pl.col("reason").last().alias("why"))
    if previous is not None and not previous.is_empty():
        latest = previous.group_by("account_id").agg(pl.col("as_of_date").max().alias("latest"))
        missing = missing.join(latest, on="account_id", how="left")
    else:
        missing = missing.with_columns(pl.lit(None, pl.Date).alias("latest"))
    head = text("account {}: no positions as of {}", pl.col("account_id"), pl.lit(as_of))
    return missing.join(why, on="account_id", how="left").select(
        "portfolio_id",
        pl.when(pl.col("why").is_not_null())
        .then(text("{}; quarantined: {}", head, pl.col("why")))
        .when(pl.col("latest").is_not_null())
        .then(
            text(
                "{} (the latest are as of {}: is the file for {} missing?)",
                head,
                pl.col("latest"),
                pl.lit(as_of),
            )
        )
        .otherwise(head)
        .alias("message"),
    )


def unknown_securities(holdings: pl.DataFrame) -> pl.DataFrame:
    """Positions whose security is not in the security master."""
    return holdings.filter(pl.col("asset_class").is_null()).select(
        "portfolio_id",
        text(
            "security {} (account {}, {}) is not in reference/securities.csv",
            pl.col("security_id"),
            pl.col("account_id"),
            _file_ref(),
        ).alias("message"),
    )


def foreign_currency(holdings: pl.DataFrame) -> pl.DataFrame:
    """Positions in another currency for which no FX rate to the base currency is known."""
    return holdings.filter(pl.col("fx_rate").is_null()).select(
        "portfolio_id",
        text(
            "security {} (account {}, {}) is in {}, not the base currency {}, and no "
            "FX rate is available",
            pl.col("security_id"),
            pl.col("account_id"),
            _file_ref(),
            pl.col("currency"),
            pl.col("base_currency"),
        ).alias("message"),
    )


def bad_cash(holdings: pl.DataFrame) -> pl.DataFrame:
    """Cash positions whose market value differs from their quantity (price must be 1)."""
    return holdings.filter(
        (pl.col("security_id") == CASH_SECURITY)
        & (pl.col("local_market_value") != pl.col("quantity"))
    ).select(
        "portfolio_id",
        text(
            "cash in account {} ({}) has market value {} but quantity {}",
            pl.col("account_id"),
            _file_ref(),
            pl.col("market_value"),
            pl.col("quantity"),
        ).alias("message"),
    )


def empty_portfolios(holdings: pl.DataFrame, portfolios: pl.DataFrame) -> pl.DataFrame:
    """Portfolios that have positions but whose total value is not positive."""
    totals = holdings.group_by("portfolio_id").agg(pl.col("market_value").sum().alias("total"))
    return (
        portfolios.join(totals, on="portfolio_id", how="inner")
        .filter(pl.col("total") <= 0)
        .select(
            "portfolio_id", pl.lit("the portfolio's total value is not positive").alias("message")
        )
    )


def duplicate_accounts(accounts: pl.DataFrame) -> pl.DataFrame:
    """Accounts claimed by more than one IPS."""
    dup = accounts.filter(pl.len().over("account_id") > 1)
    return dup.select(
        "portfolio_id",
        text("account {} is also listed in another IPS", pl.col("account_id")).alias("message"),
    )


def refused_restatements(
    positions: pl.DataFrame, quarantined: pl.DataFrame, accounts: pl.DataFrame
) -> pl.DataFrame:
    """A newer file for an account and date was quarantined: the loaded data may be stale."""
    used = positions.group_by("account_id").agg(pl.col("file_id").max().alias("used"))
    newer = quarantined.join(used, on="account_id").filter(pl.col("file_id") > pl.col("used"))
    return newer.join(accounts.select("portfolio_id", "account_id"), on="account_id").select(
        "portfolio_id",
        text(
            "account {}: a newer file for this date was quarantined, so the loaded data "
            "may be out of date: {}",
            pl.col("account_id"),
            pl.col("reason"),
        ).alias("message"),
    )
