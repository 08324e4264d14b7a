"""The currency a proposed trade is dealt in, beside its price in the portfolio's base currency.

Engines size and value every trade in the portfolio's base currency (``price``, ``amount``). A
desk deals a security in its own currency: a EUR portfolio's sale of a USD share is a USD
order. This adds, per trade, ``currency`` (the currency of the security's price: the position's,
else the price file's) and ``local_price`` (its price in that currency, as supplied, before
conversion), from the same rows the engines priced the trade with. Pure Polars, all portfolios
at once.
"""

from __future__ import annotations

import polars as pl

BOOK_KEYS = ["portfolio_id", "security_id"]


def price_book(
    trades: pl.DataFrame,
    holdings: pl.DataFrame,
    candidates: pl.DataFrame,
    settings: pl.DataFrame,
) -> pl.DataFrame:
    """(portfolio_id, security_id, currency, local_price) for each traded security: as held
    (the highest local price where accounts differ, as the engines take the highest base
    price), else as a buy candidate in the portfolio's base currency."""
    traded = trades.select(BOOK_KEYS).unique()
    held = (
        holdings.join(traded, on=BOOK_KEYS, how="semi")
        .group_by(BOOK_KEYS)
        .agg(pl.col("currency").first(), pl.col("local_price").max())
    )
    bought = (
        traded.join(held, on=BOOK_KEYS, how="anti")
        .join(settings.select("portfolio_id", "base_currency"), on="portfolio_id")
        .join(
            candidates.select("base_currency", "security_id", "currency", "local_price"),
            on=["base_currency", "security_id"],
        )
        .drop("base_currency")
    )
    return pl.concat([held, bought.select(held.columns)], how="vertical_relaxed").with_columns(
        pl.col("local_price").cast(pl.Decimal(18, 6))
    )


def with_trading_currency(
    trades: pl.DataFrame,
    holdings: pl.DataFrame,
    candidates: pl.DataFrame,
    settings: pl.DataFrame,
) -> pl.DataFrame:
    """``trades`` with ``currency`` and ``local_price`` (null when neither source knows the
    security), in their order."""
    book = price_book(trades, holdings, candidates, settings)
    return trades.join(book, on=BOOK_KEYS, how="left", maintain_order="left")
