"""After the wash-sale check: each trade's realised gains, estimated tax net of the loss the
wash-sale rule disallows, and its lot-level detail (pure Polars; both engines).

- ``realized_gain_short_term`` / ``realized_gain_long_term``: the gain realised on the lots a
  taxable sale relieves (proceeds at the trade price less the lot's cost pro rata), split by
  holding period; 0 for buys and tax-advantaged accounts; null when the lots do not cover the
  sale (as ``lots.annotate_trades``).
- ``estimated_tax`` = short_term_rate × (short-term gain + short-term loss disallowed)
  + long_term_rate × (long-term gain + long-term loss disallowed): a disallowed loss saves no
  tax now (it moves to the replacement shares' basis, or is lost for good in an IRA).
- ``lots``: per sale, the lots relieved (lot_id, acquired_date, quantity, cost_basis, term,
  gain, wash_sale_disallowed), oldest first.
- ``wash_sale_replacements``: per washed sale (or, for a proposed buy, per loss sale of the last
  30 days it replaces): the replacement shares matched, their adjusted basis and the acquired
  date their holding period counts from (Pub. 550: the sold shares' holding period is added).
"""

from __future__ import annotations

import polars as pl

from ballast.trading.lots import GAIN, account_rates

LOT_FIELDS: dict[str, pl.DataType] = {
    "lot_id": pl.String(),
    "acquired_date": pl.Date(),
    "quantity": pl.Decimal(38, 6),
    "cost_basis": GAIN,
    "term": pl.String(),
    "gain": GAIN,
    "wash_sale_disallowed": GAIN,
}
REPLACEMENT_FIELDS: dict[str, pl.DataType] = {
    "sold_lot_id": pl.String(),
    "sold_account_id": pl.String(),
    "sold_security_id": pl.String(),
    "sale_date": pl.Date(),
    "account_id": pl.String(),
    "security_id": pl.String(),
    "trade_date": pl.Date(),
    "source": pl.String(),
    "quantity": pl.Decimal(38, 6),
    "disallowed": GAIN,
    "basis_adjustment": GAIN,
    "adjusted_basis": GAIN,
    "adjusted_acquired_date": pl.Date(),
    "lost_for_good": GAIN,
}


def _term(long_term: pl.Expr) -> pl.Expr:
    return pl.when(long_term).then(pl.lit("long")).otherwise(pl.lit("short"))


def lot_rows(trades: pl.DataFrame, relieved: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    """One row per (trade, lot relieved): trade_id (row of ``trades``) and ``LOT_FIELDS``."""
    washed = (
        matches.filter(pl.col("trade_id").is_not_null())
        .group_by("trade_id", "lot_id")
        .agg(pl.col("disallowed").sum().alias("wash_sale_disallowed"))
    )
    price = trades.with_row_index("trade_id").select("trade_id", pl.col("price").alias("_px"))
    return (
        relieved.select("trade_id", "lot_id", "acquired_date", "long_term", "relieved", "gain")
        .join(price, on="trade_id")
        .join(washed, on=["trade_id", "lot_id"], how="left")
        .select(
            pl.col("trade_id").cast(pl.UInt32),
            "lot_id",
            "acquired_date",
            pl.col("relieved").cast(LOT_FIELDS["quantity"]).alias("quantity"),
            (pl.col("relieved").cast(GAIN) * pl.col("_px") - pl.col("gain"))
            .cast(GAIN)
            .alias("cost_basis"),
            _term(pl.col("long_term")).alias("term"),
            pl.col("gain").cast(GAIN),
            pl.col("wash_sale_disallowed").fill_null(0).cast(GAIN),
        )
        .sort("trade_id", "acquired_date", "lot_id")
    )


def replacement_rows(matches: pl.DataFrame) -> pl.DataFrame:
    """One row per (trade, replacement matched): trade_id and ``REPLACEMENT_FIELDS``. A
    proposal's sale lists the purchases that wash it; a proposed buy the past sales it washes."""
    fields: list[pl.Expr | str] = [
        pl.col("lot_id").alias("sold_lot_id"),
        pl.col("account_id").alias("sold_account_id"),
        pl.col("security_id").alias("sold_security_id"),
        "sale_date",
        pl.col("account_id_replacement").alias("account_id"),
        pl.col("security_id_replacement").alias("security_id"),
        "trade_date",
        pl.col("what").alias("source"),
        pl.col("matched").alias("quantity"),
        "disallowed",
        "basis_adjustment",
        "adjusted_basis",
        "adjusted_acquired_date",
        "lost_for_good",
    ]
    on_sale = matches.filter(pl.col("trade_id").is_not_null()).select("trade_id", *fields)
    on_buy = matches.filter(
        pl.col("trade_id").is_null() & pl.col("trade_id_replacement").is_not_null()
    ).select(pl.col("trade_id_replacement").alias("trade_id"), *fields)
    return (
        pl.concat([on_sale, on_buy])
        .with_columns(pl.col("trade_id").cast(pl.UInt32))
        .cast(pl.Schema({"trade_id": pl.UInt32(), **REPLACEMENT_FIELDS}))
        .sort("trade_id", "sold_lot_id", "trade_date", "account_id", "security_id", nulls_last=True)
    )


def _nested(rows: pl.DataFrame, name: str, fields: dict[str, pl.DataType]) -> pl.DataFrame:
    return rows.group_by("trade_id", maintain_order=True).agg(pl.struct(*fields).alias(name))


def finish(
    trades: pl.DataFrame,
    relieved: pl.DataFrame,
    matches: pl.DataFrame,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
) -> pl.DataFrame:
    """``trades`` (after ``wash_sales.check_proposal``; ``relieved`` and ``matches`` are its
    ``WashCheck`` frames) with realised gains, estimated tax net of the disallowed loss, and
    the ``lots`` and ``wash_sale_replacements`` lists (see the module docstring)."""
    zero = pl.lit(0).cast(GAIN)
    frame = (
        trades.with_row_index("trade_id")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
            how="left",
        )
        .join(
            account_rates(settings, accounts),
            on=["portfolio_id", "account_id"],
            how="left",
        )
    )
    gains = relieved.group_by("trade_id").agg(
        pl.col("gain").filter(~pl.col("long_term")).sum().cast(GAIN).alias("_st"),
        pl.col("gain").filter(pl.col("long_term")).sum().cast(GAIN).alias("_lt"),
        pl.col("relieved").filter(pl.col("lot_id").is_not_null()).sum().alias("_covered"),
    )
    on_sales = matches.filter(pl.col("trade_id").is_not_null())
    washed = on_sales.group_by("trade_id").agg(
        pl.col("disallowed").filter(~pl.col("long_term")).sum().cast(GAIN).alias("_dst"),
        pl.col("disallowed").filter(pl.col("long_term")).sum().cast(GAIN).alias("_dlt"),
    )
    taxable_sell = (pl.col("side") == "sell") & (pl.col("tax_status") == "taxable")
    covered = pl.col("_covered").fill_null(0) >= pl.col("quantity")
    st = pl.when(taxable_sell).then(pl.when(covered).then(pl.col("_st").fill_null(zero)))
    lt = pl.when(taxable_sell).then(pl.when(covered).then(pl.col("_lt").fill_null(zero)))
    frame = (
        frame.join(gains, on="trade_id", how="left")
        .join(washed, on="trade_id", how="left")
        .with_columns(
            st.otherwise(zero).cast(GAIN).alias("realized_gain_short_term"),
            lt.otherwise(zero).cast(GAIN).alias("realized_gain_long_term"),
        )
        .with_columns(
            (
                (pl.col("realized_gain_short_term") + pl.col("_dst").fill_null(zero))
                * pl.col("short_term_rate")
                + (pl.col("realized_gain_long_term") + pl.col("_dlt").fill_null(zero))
                * pl.col("long_term_rate")
            )
            .cast(GAIN)
            .alias("estimated_tax")
        )
    )
    lots = _nested(lot_rows(trades, relieved, matches), "lots", LOT_FIELDS)
    repl = _nested(replacement_rows(matches), "wash_sale_replacements", REPLACEMENT_FIELDS)
    keep = [c for c in trades.columns if c not in ("lots", "wash_sale_replacements")]
    for c in ("realized_gain_short_term", "realized_gain_long_term", "estimated_tax"):
        if c not in keep:
            keep.append(c)
    return (
        frame.join(lots, on="trade_id", how="left")
        .join(repl, on="trade_id", how="left")
        .sort("trade_id")
        .select(*keep, "lots", "wash_sale_replacements")
    )
