"""What the wash-sale check tells the reader: one message per washed sale, swap, drop or scaled
buy, with the loss disallowed and the replacement that caused it (pure Polars)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from ballast.portfolio import quantities
from ballast.portfolio.text import text
from ballast.trading.identical import match_key

FINDINGS_SCHEMA = pl.Schema({"portfolio_id": pl.String, "message": pl.String})


def _money(expr: pl.Expr) -> pl.Expr:
    return text("${}", expr.cast(pl.Decimal(38, 2)))


def _describe(matches: pl.DataFrame) -> pl.DataFrame:
    """Per sale trade: the replacements in one phrase, the loss and the disallowed amount."""
    one = text(
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
        .agg(text("{} in account {}", "security_id", "account_id").str.join(", ").alias("sold"))
    )
    frame = swaps.join(conflicts, on="trade_id").join(sold, on="trade_id").sort("trade_id")
    return _findings(
        frame,
        text(
            "wash sale avoided (wash_sale: block): the proposed buy of {} {} in account {} is "
            "replaced by {} at {} (asset class {}, not identical), because the household sells {} "
            "at a loss (or sold it in the last 30 days)",
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("new_security"),
            _money(pl.col("new_price")),
            pl.col("asset_class"),
            pl.col("sold"),
        ),
    )


def _lost_for_good() -> pl.Expr:
    """ ", $X of it lost for good (…)" where a replacement was bought in an IRA, else ""."""
    return (
        pl.when(pl.col("lost_for_good") > 0)
        .then(
            text(
                ", {} of it lost for good (bought in a tax-advantaged account)",
                _money(pl.col("lost_for_good")),
            )
        )
        .otherwise(pl.lit(""))
    )


def _sale_losses(sales: pl.DataFrame) -> pl.DataFrame:
    return sales.group_by("trade_id").agg(pl.col("loss").sum())


def warn_findings(matches: pl.DataFrame, frame: pl.DataFrame, sales: pl.DataFrame) -> pl.DataFrame:
    """One line per washed sale of a ``warn`` portfolio."""
    lost = _lost_for_good()
    rows = (
        _describe(matches)
        .join(frame, on="trade_id")
        .join(_sale_losses(sales), on="trade_id")
        .sort("trade_id")
    )
    return _findings(
        rows,
        text(
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


def _pool(sales: pl.DataFrame, repl: pl.DataFrame) -> pl.DataFrame:
    """Per sale trade: the purchases of its key in the window, in one phrase."""
    key = match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    return (
        sales.with_columns(key)
        .select("trade_id", "portfolio_id", "key")
        .unique()
        .join(repl.with_columns(key), on=["portfolio_id", "key"])
        .sort("trade_id", "trade_date", "replacement_id")
        .group_by("trade_id", maintain_order=True)
        .agg(
            text(
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


def block_findings(
    cut: pl.DataFrame, after: pl.DataFrame, sales: pl.DataFrame, repl: pl.DataFrame
) -> pl.DataFrame:
    """One line per sale cut or dropped because purchases would wash its loss lots (``cut``:
    the sale trades before the cut; ``after``: the trades kept)."""
    rows = (
        cut.join(_pool(sales, repl), on="trade_id")
        .join(_sale_losses(sales), on="trade_id")
        .join(after.select("trade_id", pl.col("quantity").alias("new")), on="trade_id", how="left")
        .with_columns(pl.col("new").fill_null(0))
        .sort("trade_id")
    )
    dropped = text(
        "wash sale (wash_sale: block): the sale of {} {} in account {} was dropped: its loss "
        "of {} would be washed by purchases within 30 days ({}); asset class {} could not be "
        "brought back without a wash sale",
        quantities.plain(pl.col("quantity")),
        pl.col("security_id"),
        pl.col("account_id"),
        _money(pl.col("loss")),
        pl.col("replacements"),
        pl.col("asset_class"),
    )
    partial = text(
        "wash sale avoided (wash_sale: block): the sale of {} {} in account {} is cut to {} "
        "shares: its loss lots ({} of loss) would be washed by purchases within 30 days ({}), "
        "so only lots that realise no loss are sold",
        quantities.plain(pl.col("quantity")),
        pl.col("security_id"),
        pl.col("account_id"),
        quantities.plain(pl.col("new")),
        _money(pl.col("loss")),
        pl.col("replacements"),
    )
    relotted = text(
        "wash sale avoided (wash_sale: block): the sale of {} {} in account {} relieves lots "
        "that realise no loss instead of its loss lots ({} of loss), which purchases within "
        "30 days would wash ({})",
        quantities.plain(pl.col("quantity")),
        pl.col("security_id"),
        pl.col("account_id"),
        _money(pl.col("loss")),
        pl.col("replacements"),
    )
    return _findings(
        rows,
        pl.when(pl.col("new") == pl.col("quantity"))
        .then(relotted)
        .when(pl.col("new") > 0)
        .then(partial)
        .otherwise(dropped),
    )


def relot_findings(trades: pl.DataFrame, relieved: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """One line per sale that clears a wash sale by relieving the recent purchases themselves."""
    start = as_of - dt.timedelta(days=30)
    recent = (
        relieved.filter(pl.col("acquired_date") >= start)
        .sort("trade_id", "acquired_date", "lot_id")
        .group_by("trade_id", maintain_order=True)
        .agg(
            text(
                "{} of lot {} bought {}",
                quantities.plain(pl.col("relieved")),
                "lot_id",
                "acquired_date",
            )
            .str.join(", ")
            .alias("recent")
        )
    )
    rows = trades.join(recent, on="trade_id").sort("trade_id")
    return _findings(
        rows,
        text(
            "wash sale avoided (wash_sale: block): the sale of {} {} in account {} relieves the "
            "shares bought in the last 30 days first ({}): sold with the loss lots, they replace "
            "nothing, so the loss is allowed",
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("recent"),
        ),
    )


def _sold(matches: pl.DataFrame) -> pl.DataFrame:
    """Per proposed buy: the loss sales of the last 30 days it replaces, in one phrase."""
    loss = (
        pl.when(pl.col("cost_known"))
        .then(text("a loss of {}", _money(pl.col("loss"))))
        .otherwise(pl.lit("a loss the transactions cannot price"))
    )
    return (
        matches.filter(pl.col("trade_id").is_null() & pl.col("trade_id_replacement").is_not_null())
        .sort("trade_id_replacement", "sale_date", "sale_id")
        .group_by(pl.col("trade_id_replacement").alias("trade_id"), maintain_order=True)
        .agg(
            text(
                "{} {} sold in account {} on {} ({})",
                quantities.plain(pl.col("quantity")),
                "security_id",
                "account_id",
                "sale_date",
                loss,
            )
            .unique(maintain_order=True)
            .str.join(", ")
            .alias("sold"),
            pl.col("disallowed").sum().alias("disallowed"),
            pl.col("disallowed").is_null().any().alias("unpriced"),
            pl.col("lost_for_good").sum().alias("lost_for_good"),
        )
    )


def recent_findings(
    matches: pl.DataFrame, kept: pl.DataFrame, dropped: pl.DataFrame, first: pl.DataFrame
) -> pl.DataFrame:
    """Proposed buys against loss sales of the last 30 days: one line per buy kept that washes
    one (``warn``) and per buy dropped (``block``, no substitute)."""
    lost = _lost_for_good()
    amount = (
        pl.when(pl.col("unpriced"))
        .then(pl.lit("the loss is disallowed (amount unknown)"))
        .otherwise(text("{} of the loss is disallowed{}", _money(pl.col("disallowed")), lost))
    )
    warned = kept.join(_sold(matches), on="trade_id").sort("trade_id")
    blocked = dropped.join(_sold(first), on="trade_id").sort("trade_id")
    return pl.concat(
        [
            _findings(
                warned,
                text(
                    "wash sale (wash_sale: warn): the proposed buy of {} {} in account {} "
                    "replaces {} within 30 days: {}",
                    quantities.plain(pl.col("quantity")),
                    pl.col("security_id"),
                    pl.col("account_id"),
                    pl.col("sold"),
                    amount,
                ),
            ),
            _findings(
                blocked,
                text(
                    "wash sale avoided (wash_sale: block): the proposed buy of {} {} in account "
                    "{} was dropped: it would replace {} within 30 days and no security of {} "
                    "outside its identical group can be bought instead; {} stays below its "
                    "destination",
                    quantities.plain(pl.col("quantity")),
                    pl.col("security_id"),
                    pl.col("account_id"),
                    pl.col("sold"),
                    pl.col("asset_class"),
                    pl.col("asset_class"),
                ),
            ),
        ]
    )


def scale_findings(before: pl.DataFrame, after: pl.DataFrame, lost: pl.DataFrame) -> pl.DataFrame:
    """One line per buy shrunk (or removed) because a cut or dropped sale no longer pays for it
    (``lost``: portfolio_id, account_id, _lost)."""
    rows = (
        before.filter(pl.col("side") == "buy")
        .join(
            lost.filter(pl.col("_lost") > 0).select("portfolio_id", "account_id").unique(),
            on=["portfolio_id", "account_id"],
        )
        .join(after.select("trade_id", pl.col("quantity").alias("new")), on="trade_id", how="left")
        .with_columns(pl.col("new").fill_null(0))
        .filter(pl.col("new") != pl.col("quantity"))
        .sort("trade_id")
    )
    return _findings(
        rows,
        text(
            "the buy of {} {} in account {} is cut to {} shares: a sale cut or dropped to avoid "
            "a wash sale no longer pays for it",
            quantities.plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            quantities.plain(pl.col("new")),
        ),
    )
