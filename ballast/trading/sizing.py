"""Trade sizes: whole-share rounding, the IPS minimum trade, and estimated costs (pure Polars)."""

from __future__ import annotations

import polars as pl

from ballast.portfolio import quantities
from ballast.portfolio.text import text
from ballast.trading.proposal import AMT


def round_quantity(expr: pl.Expr, up: bool) -> pl.Expr:
    """Whole shares (or 6 decimals with fractional trading), up for sells, down for buys."""
    scaled = pl.when(pl.col("whole_shares")).then(expr).otherwise(expr * 1_000_000)
    rounded = scaled.ceil() if up else scaled.floor()
    return (
        pl.when(pl.col("whole_shares"))
        .then(rounded)
        .otherwise(rounded / 1_000_000)
        .cast(pl.Decimal(38, 6))
    )


def min_trade_filter(
    trades: pl.DataFrame, account_values: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop trades below the IPS minimum; return (kept, warnings)."""
    trades = trades.join(
        account_values, on=["portfolio_id", "account_id"], how="left"
    ).with_columns(
        pl.max_horizontal(
            pl.col("min_trade"), (pl.col("min_trade_pct") * pl.col("account_value")).cast(AMT)
        ).alias("minimum")
    )
    small = (pl.col("amount") < pl.col("minimum")) | (pl.col("quantity") <= 0)
    dropped = trades.filter(small & (pl.col("quantity") > 0)).select(
        "portfolio_id",
        text(
            "{} {} {} in account {} ({}) is below the minimum trade ({}) and was dropped",
            pl.col("side"),
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("amount").cast(pl.Decimal(38, 2)),
            pl.col("minimum").cast(pl.Decimal(38, 2)),
        ).alias("message"),
    )
    return trades.filter(~small).drop("account_value", "minimum"), dropped


def cost_rates(costs: pl.DataFrame) -> pl.DataFrame:
    return costs.select(
        "portfolio_id", "asset_class", (pl.col("cost_bp") / 10_000).alias("cost_rate")
    )


def priced(trades: pl.DataFrame, costs: pl.DataFrame, settings: pl.DataFrame) -> pl.DataFrame:
    """Trades with amount, cost rate and estimated cost (``costs``: ``costs_frame``), and the
    IPS minimums ``min_trade_filter`` needs."""
    return (
        trades.with_columns(pl.col("price").cast(pl.Decimal(38, 6)))
        .join(cost_rates(costs), on=["portfolio_id", "asset_class"], how="left")
        .with_columns(
            (pl.col("quantity") * pl.col("price")).cast(AMT).alias("amount"),
            pl.col("cost_rate").fill_null(0),
        )
        .with_columns((pl.col("amount") * pl.col("cost_rate")).cast(AMT).alias("estimated_cost"))
        .join(settings.select("portfolio_id", "min_trade", "min_trade_pct"), on="portfolio_id")
    )
