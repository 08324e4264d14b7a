"""Positions valued in each portfolio's base currency (pure Polars, all portfolios at once)."""

from __future__ import annotations

import polars as pl

from ballast.kinds import CASH_CLASS, CASH_SECURITY
from ballast.warehouse.snapshot import Snapshot

RATE = pl.Decimal(38, 12)


def fx_pairs(fx_rates: pl.DataFrame) -> pl.DataFrame:
    """currency → quote_currency rates, with each pair's inverse where only one way is given."""
    rate = pl.col("rate").cast(RATE)
    direct = fx_rates.select("currency", "quote_currency", rate)
    inverse = fx_rates.select(
        pl.col("quote_currency").alias("currency"),
        pl.col("currency").alias("quote_currency"),
        (pl.lit(1).cast(RATE) / rate).alias("rate"),
    )
    return pl.concat([direct, inverse]).unique(
        ["currency", "quote_currency"], keep="first", maintain_order=True
    )


def holdings_frame(snap: Snapshot, accounts: pl.DataFrame, settings: pl.DataFrame) -> pl.DataFrame:
    """Positions with their portfolio, tax status and asset class, valued in base currency.

    A position in another currency is converted with the latest custodian FX rate on or before
    the review date (``fx_rate`` is null when none is known: the checks then refuse it).
    Converted prices and values are rounded half-even to their stored scales (6 and 4 dp).
    """
    classes = snap.securities.select("security_id", "asset_class")
    frame = (
        snap.positions.join(accounts, on="account_id", how="inner")
        .join(classes, on="security_id", how="left")
        .with_columns(
            pl.when(pl.col("security_id") == CASH_SECURITY)
            .then(pl.lit(CASH_CLASS))
            .otherwise(pl.col("asset_class"))
            .alias("asset_class")
        )
        .join(settings.select("portfolio_id", "base_currency"), on="portfolio_id")
        .join(
            fx_pairs(snap.fx_rates),
            left_on=["currency", "base_currency"],
            right_on=["currency", "quote_currency"],
            how="left",
        )
    )
    rate = (
        pl.when(pl.col("currency") == pl.col("base_currency"))
        .then(pl.lit(1).cast(RATE))
        .otherwise(pl.col("rate"))
    )
    return (
        frame.with_columns(rate.alias("fx_rate"))
        .with_columns(
            pl.col("market_value").alias("local_market_value"),
            pl.col("price").alias("local_price"),
            (pl.col("market_value") * pl.col("fx_rate"))
            .cast(pl.Decimal(18, 4))
            .alias("market_value"),
            (pl.col("price") * pl.col("fx_rate")).cast(pl.Decimal(18, 6)).alias("price"),
        )
        .drop("rate")
    )
