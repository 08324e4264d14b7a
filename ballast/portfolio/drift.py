"""Allocation, drift and band breaches for all portfolios at once (pure Polars).

Weights are exact decimal fractions of the portfolio total (cash included). A class is breached
when its market value is strictly outside ``[lower × total, upper × total]``: the test multiplies
instead of dividing, so a weight exactly on a band edge is inside, with no rounding involved.
"""

from __future__ import annotations

import polars as pl

from ballast.kinds import CASH_CLASS

WEIGHT = pl.Decimal(38, 12)
BP_PER_UNIT = 10_000


def class_values(holdings: pl.DataFrame) -> pl.DataFrame:
    """Market value per (portfolio, asset class) from holdings rows."""
    return holdings.group_by("portfolio_id", "asset_class").agg(
        pl.col("market_value").sum().cast(pl.Decimal(38, 4))
    )


def allocation(holdings: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """Per (portfolio, class): value, weight, target, bounds, drift in bp and breach flag.

    Classes in the IPS with no holdings appear with value 0; held classes the IPS does not name
    (cash, unless it has a target) appear with no target and are never breached.
    """
    values = class_values(holdings)
    portfolios = targets.select("portfolio_id").unique()
    values = values.join(portfolios, on="portfolio_id", how="semi")
    frame = (
        targets.join(values, on=["portfolio_id", "asset_class"], how="full", coalesce=True)
        .with_columns(
            pl.col("market_value").fill_null(0).cast(pl.Decimal(38, 4)),
            pl.col("class_order").fill_null(pl.len().over("portfolio_id") + 1000),
            pl.col("target").is_not_null().alias("has_target"),
        )
        .with_columns(pl.col("market_value").sum().over("portfolio_id").alias("total_value"))
    )
    total = pl.col("total_value")
    mv = pl.col("market_value")
    return (
        frame.with_columns(
            pl.when(total > 0).then(mv.cast(WEIGHT) / total).alias("weight"),
        )
        .with_columns(
            ((pl.col("weight") - pl.col("target").cast(WEIGHT)) * BP_PER_UNIT).alias("drift"),
            (
                pl.col("has_target")
                & (
                    (mv.cast(WEIGHT) > pl.col("upper") * total)
                    | (mv.cast(WEIGHT) < pl.col("lower") * total)
                )
            )
            .fill_null(False)
            .alias("breached"),
        )
        .with_columns(
            pl.col("breached").any().over("portfolio_id").alias("portfolio_breached"),
            (~pl.col("has_target") & (pl.col("asset_class") != CASH_CLASS) & (mv != 0)).alias(
                "unplanned_class"
            ),
        )
        .sort("portfolio_id", "class_order", "asset_class")
    )
