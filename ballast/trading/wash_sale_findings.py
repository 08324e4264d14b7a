"""What the wash-sale check tells the reader: one message per washed sale, swap, drop or scaled
buy, with the loss disallowed and the replacement that caused it (pure Polars)."""

from __future__ import annotations

import polars as pl

from ballast.portfolio import quantities
from ballast.trading.identical import match_key

FINDINGS_SCHEMA = pl.Schema({"portfolio_id": pl.String, "message": pl.String})


def _money(expr: pl.Expr) -> pl.Expr:
    return pl.format("${}", expr.cast(pl.Decimal(38, 2)))


def _describe(matches: pl.DataFrame) -> pl.DataFrame:
    """Per sale trade: the replacements in one phrase, the loss and the disallowed amount."""
    one = pl.format(
        "{} {} in account {} on {} ({})",
        quantities.plain(pl.col("matched")),
        pl.col("security_id_replacement"),
        pl.col("account_id_replacement"),
        pl.col("trade_date"),
        pl.col("what"),
    )
    per_replacement = matches.group_by(
        "trade_id",
        "replacement_id",
        "security_id_replacement",
        "account_id_replacement",
        "trade_date",
        "what",
    ).agg(pl.col("matched").sum(), pl.col("disallowed").sum(), pl.col("lost_for_good").sum())
    return (
        per_replacement.sort("trade_id", "trade_date", "replacement_id")
        .group_by("trade_id", maintain_order=True)
        .agg(
            one.str.join(", ").alias("replacements"),
            pl.col("disallowed").sum(),
            pl.col("lost_for_good").sum(),
        )
    )


def _findings(frame: pl.DataFrame, message: pl.Expr) -> pl.DataFrame:
    return frame.select("portfolio_id", message.alias("message")).cast(FINDINGS_SCHEMA)


def swap_findings(
    swaps: pl.DataFrame, conflicts: pl.DataFrame, first: pl.DataFrame
) -> pl.DataFrame:
    """One line per proposed buy swapped to a substitute."""
    sold = (
        first.select(pl.col("trade_id_replacement").alias("trade_id"), "security_id", "account_id")
        .unique()
        .sort("security_id", "account_id")
        .group_by("trade_id")
        .agg(
            pl.format("{} in account {}", "security_id", "account_id").str.join(", ").alias("sold")
        )
    )
    frame = swaps.join(conflicts, on="trade_id").join(sold, on="trade_id").sort("trade_id")
    return _findings(
        frame,
        pl.format(
            "wash sale avoided (wash_sale: block): the proposed buy of {} {} in account {} is "
            "replaced by {} at {} (asset class {}, not identical), because the household sells {} "
            "at a loss",
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("new_security"),
            _money(pl.col("new_price")),
            pl.col("asset_class"),
            pl.col("sold"),
        ),
    )


def _sale_losses(sales: pl.DataFrame) -> pl.DataFrame:
    return sales.group_by("trade_id").agg(pl.col("loss").sum())


def warn_findings(matches: pl.DataFrame, frame: pl.DataFrame, sales: pl.DataFrame) -> pl.DataFrame:
    """One line per washed sale of a ``warn`` portfolio."""
    lost = (
        pl.when(pl.col("lost_for_good") > 0)
        .then(
            pl.format(
                ", {} of it lost for good (bought in a tax-advantaged account)",
                _money(pl.col("lost_for_good")),
            )
        )
        .otherwise(pl.lit(""))
    )
    rows = (
        _describe(matches)
        .join(frame, on="trade_id")
        .join(_sale_losses(sales), on="trade_id")
        .sort("trade_id")
    )
    return _findings(
        rows,
        pl.format(
            "wash sale (wash_sale: warn): the sale of {} {} in account {} realises a loss of {} on "
            "lots replaced within 30 days by {}: {} of the loss is disallowed{}",
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            _money(pl.col("loss")),
            pl.col("replacements"),
            _money(pl.col("disallowed")),
            lost,
        ),
    )


def block_findings(dropped: pl.DataFrame, sales: pl.DataFrame, repl: pl.DataFrame) -> pl.DataFrame:
    """One line per sale dropped because a past purchase washes it."""
    key = match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    pool = (
        sales.with_columns(key)
        .select("trade_id", "portfolio_id", "key")
        .unique()
        .join(repl.with_columns(key), on=["portfolio_id", "key"])
        .sort("trade_id", "trade_date", "replacement_id")
        .group_by("trade_id", maintain_order=True)
        .agg(
            pl.format(
                "{} {} in account {} on {} ({})",
                quantities.plain(pl.col("quantity")),
                "security_id",
                "account_id",
                "trade_date",
                "what",
            )
            .unique(maintain_order=True)
            .str.join(", ")
            .alias("replacements")
        )
    )
    rows = (
        dropped.join(pool, on="trade_id").join(_sale_losses(sales), on="trade_id").sort("trade_id")
    )
    return _findings(
        rows,
        pl.format(
            "wash sale (wash_sale: block): the sale of {} {} in account {} was dropped: its loss "
            "of {} would be washed by purchases within 30 days ({}); asset class {} could not be "
            "brought back without a wash sale",
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            _money(pl.col("loss")),
            pl.col("replacements"),
            pl.col("asset_class"),
        ),
    )


def scale_findings(
    before: pl.DataFrame, after: pl.DataFrame, dropped: pl.DataFrame
) -> pl.DataFrame:
    """One line per buy shrunk (or removed) because a dropped sale no longer pays for it."""
    rows = (
        before.filter(pl.col("side") == "buy")
        .join(
            dropped.select("portfolio_id", "account_id").unique(), on=["portfolio_id", "account_id"]
        )
        .join(after.select("trade_id", pl.col("quantity").alias("new")), on="trade_id", how="left")
        .with_columns(pl.col("new").fill_null(0))
        .filter(pl.col("new") != pl.col("quantity"))
        .sort("trade_id")
    )
    return _findings(
        rows,
        pl.format(
            "the buy of {} {} in account {} is cut to {} shares: a sale dropped to avoid a wash "
            "sale no longer pays for it",
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            quantities.plain(pl.col("new")),
        ),
    )
