"""Tax lots: holding periods, the order lots are relieved in, and realised gains (pure Polars).

Holding period (IRS Publication 550): a lot is long-term when sold *after* the first
anniversary of its acquisition, trade dates counted; bought 2023-03-01 and sold 2024-03-01 is
still short-term. A lot bought on the last day of a month has its anniversary on the last day of
that month a year later (bought 2024-02-29: long-term from 2025-03-01).

Avoiding short-term gains (IPS ``tax.avoid_short_term_gains``, the default): in a taxable account
a lot that would realise a short-term *gain* is a last resort, relieved after every other lot
whatever the method (tier 1); one within ``tax.short_term_wait_days`` of turning long-term is
held back and never sold by the proposal (tier 2): waiting costs a few days of drift and saves
the difference between the two rates. Every other lot is tier 0.

Relief order per IPS ``lot_method`` (within a tier):
- ``fifo``: oldest first;
- ``hifo``: highest cost per share first;
- ``min_tax``: least tax per share first: the lot's gain per share times the IPS rate of its
  holding period (``short_term_rate`` or ``long_term_rate``), ascending. Tax is linear in the
  shares sold, so this order gives the least estimated tax for the quantity sold (a greedy
  fractional knapsack is exact). Ties (e.g. zero-gain lots) go short-term losses, long-term
  losses, zero gain, long-term gains, short-term gains, then oldest first. A fixed category
  order (all short-term losses first) was not the minimum: a $2/share short-term loss at 37%
  saves $0.74 a share, a $4/share long-term loss at 23.8% saves $0.952.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ballast.portfolio.quantities import plain
from ballast.portfolio.text import text

GAIN = pl.Decimal(38, 12)
RELIEF_SETTINGS = ("lot_method", "avoid_short_term_gains", "short_term_wait_days")
"""The IPS settings (``policy_frames.settings_frame`` columns) that decide the relief order
(``min_tax`` also reads ``RATES``)."""
RATES = ("short_term_rate", "long_term_rate")
DEFAULT_RATES = {"short_term_rate": 0.37, "long_term_rate": 0.238}
_OWN_RATES = ("account_short_term_rate", "account_long_term_rate")


def account_rates(settings: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """One row per (portfolio_id, account_id) of ``accounts`` with ``RATES``: the account's
    own rates where it has them (``policy_frames.accounts_frame``), else its portfolio's in
    ``settings`` (the IPS's, federal + state)."""
    own = [c for c in _OWN_RATES if c in accounts.columns]
    frame = accounts.select("portfolio_id", "account_id", *own).join(
        settings.select("portfolio_id", *RATES), on="portfolio_id"
    )
    if len(own) == len(_OWN_RATES):
        frame = frame.with_columns(
            pl.coalesce(pl.col(o).cast(frame.schema[r]), pl.col(r)).alias(r)
            for o, r in zip(_OWN_RATES, RATES, strict=True)
        )
    return frame.select("portfolio_id", "account_id", *RATES)


"""The IPS defaults (``TaxPolicy``), for a ``relieve`` caller that gives no rates."""
LOT_SCHEMA = pl.Schema(
    {
        "account_id": pl.String(),
        "security_id": pl.String(),
        "lot_id": pl.String(),
        "acquired_date": pl.Date(),
        "quantity": pl.Decimal(18, 6),
        "cost_basis": pl.Decimal(18, 4),
    }
)
"""The tax lots the proposal reads (the snapshot's ``lots`` columns)."""
MIN_TAX_CATEGORY = {"st_loss": 0, "lt_loss": 1, "zero": 2, "lt_gain": 3, "st_gain": 4}


def anniversary(acquired: pl.Expr) -> pl.Expr:
    """The first anniversary; a month-end acquisition's is the month end a year later."""
    year_on = acquired.dt.offset_by("1y")
    return (
        pl.when(acquired == acquired.dt.month_end()).then(year_on.dt.month_end()).otherwise(year_on)
    )


def is_long_term(acquired: pl.Expr, sold: pl.Expr) -> pl.Expr:
    """True when a lot acquired on ``acquired`` and sold on ``sold`` is held long-term."""
    return sold > anniversary(acquired)


def turns_long_term(acquired: pl.Expr) -> pl.Expr:
    """The first sale date on which a lot acquired on ``acquired`` is long-term."""
    return anniversary(acquired) + pl.duration(days=1)


TIER_FREE, TIER_SHORT_TERM, TIER_HELD = 0, 1, 2


def tier(
    avoid: pl.Expr, wait_days: pl.Expr, acquired: pl.Expr, gain: pl.Expr, sold: pl.Expr
) -> pl.Expr:
    """A taxable lot's selling tier (see the module docstring); ``gain`` may be per share."""
    short_gain = avoid.fill_null(False) & ~is_long_term(acquired, sold) & (gain > 0)
    days_left = (turns_long_term(acquired) - sold).dt.total_days()
    return (
        pl.when(short_gain & (days_left <= wait_days.fill_null(0)))
        .then(TIER_HELD)
        .when(short_gain)
        .then(TIER_SHORT_TERM)
        .otherwise(TIER_FREE)
    )


def sell_tiers(
    holdings: pl.DataFrame,
    lot_frame: pl.DataFrame,
    settings: pl.DataFrame,
    sale_date: dt.date,
    washing: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every taxable lot of ``holdings`` with its tier at the holding's price on ``sale_date``.

    ``holdings``: portfolio_id, account_id, security_id, asset_class, price, tax_status;
    ``settings``: portfolio_id, avoid_short_term_gains, short_term_wait_days. ``washing``
    (portfolio_id, security_id: ``wash_sales.recent_purchases`` of ``wash_sale: block``
    portfolios): their loss lots are held back too (a sale would be a wash sale). Returns one
    row per lot: portfolio_id, account_id, security_id, asset_class, lot_id, acquired_date,
    quantity, gain (unrealised, at the price), long_term_on, tier and held (why a tier-2 lot is
    held back: ``short_term_wait`` or ``wash_sale``).
    """
    keys = ["account_id", "security_id"]
    frame = (
        holdings.filter(pl.col("tax_status") == "taxable")
        .select("portfolio_id", *keys, "asset_class", "price")
        .join(lot_frame, on=keys)
        .join(
            settings.select("portfolio_id", "avoid_short_term_gains", "short_term_wait_days"),
            on="portfolio_id",
        )
        .with_columns(
            (
                pl.col("quantity").cast(GAIN) * pl.col("price").cast(GAIN)
                - pl.col("cost_basis").cast(GAIN)
            ).alias("gain"),
            turns_long_term(pl.col("acquired_date")).alias("long_term_on"),
        )
    )
    if washing is None:
        washing = pl.DataFrame(schema={"portfolio_id": pl.String, "security_id": pl.String})
    frame = frame.join(
        washing.select("portfolio_id", "security_id", pl.lit(True).alias("_washing")).unique(),
        on=["portfolio_id", "security_id"],
        how="left",
    ).with_columns(
        tier(
            pl.col("avoid_short_term_gains"),
            pl.col("short_term_wait_days"),
            pl.col("acquired_date"),
            pl.col("gain"),
            pl.lit(sale_date),
        ).alias("tier")
    )
    wash_held = pl.col("_washing").fill_null(False) & (pl.col("gain") < 0)
    return frame.with_columns(
        pl.when(pl.col("tier") == TIER_HELD)
        .then(pl.lit("short_term_wait"))
        .when(wash_held)
        .then(pl.lit("wash_sale"))
        .alias("held"),
        pl.when(wash_held).then(TIER_HELD).otherwise(pl.col("tier")).alias("tier"),
    ).select(
        "portfolio_id",
        *keys,
        "asset_class",
        "lot_id",
        "acquired_date",
        pl.col("quantity").cast(pl.Decimal(38, 6)),
        "gain",
        "long_term_on",
        "tier",
        "held",
    )


def held_back_warnings(held: pl.DataFrame, bound: pl.DataFrame) -> pl.DataFrame:
    """One line per held-back lot (``sell_tiers`` rows of tier 2) of a class in ``bound``
    (portfolio_id, asset_class: the classes that could not sell what they needed without them)."""
    if "held" not in held.columns:
        held = held.with_columns(pl.lit("short_term_wait").alias("held"))
    rows = (
        held.filter(pl.col("tier") == TIER_HELD)
        .join(bound, on=["portfolio_id", "asset_class"], how="semi")
        .sort("portfolio_id", "account_id", "security_id", "acquired_date", "lot_id")
    )
    waiting = text(
        "lot {} of {} in account {} ({} shares, gain ${}) turns long-term on {}: held back "
        "(avoid_short_term_gains, within short_term_wait_days), so {} sells less than it needs",
        pl.col("lot_id"),
        pl.col("security_id"),
        pl.col("account_id"),
        plain(pl.col("quantity")),
        pl.col("gain").cast(pl.Decimal(38, 2)),
        pl.col("long_term_on"),
        pl.col("asset_class"),
    )
    washed = text(
        "lot {} of {} in account {} (loss ${}) is not sold: the household bought {} (or an "
        "identical security) in the last 30 days, so the loss would be a wash sale "
        "(wash_sale: block); {} sells less than it needs",
        pl.col("lot_id"),
        pl.col("security_id"),
        pl.col("account_id"),
        (-pl.col("gain")).cast(pl.Decimal(38, 2)),
        pl.col("security_id"),
        pl.col("asset_class"),
    )
    return rows.select(
        "portfolio_id",
        pl.when(pl.col("held") == "wash_sale").then(washed).otherwise(waiting).alias("message"),
    )


def _order_key(
    method: pl.Expr,
    per_share_gain: pl.Expr,
    long_term: pl.Expr,
    per_share_cost: pl.Expr,
    rate: pl.Expr,
) -> list[pl.Expr]:
    """Sort keys that put lots in relief order for each row's method (``rate``: the IPS rate of
    the lot's holding period; ``min_tax`` sorts by tax per share, then by category)."""
    category = (
        pl.when(per_share_gain < 0)
        .then(pl.when(long_term).then(1).otherwise(0))
        .when(per_share_gain == 0)
        .then(2)
        .otherwise(pl.when(long_term).then(3).otherwise(4))
    )
    first = (
        pl.when(method == "min_tax")
        .then((per_share_gain * rate).cast(GAIN))
        .otherwise(pl.lit(0).cast(GAIN))
    )
    second = (
        pl.when(method == "min_tax")
        .then(category)
        .when(method == "hifo")
        .then(0)
        .otherwise(0)
        .cast(pl.Int64)
    )
    third = (
        pl.when(method == "min_tax")
        .then(per_share_gain)
        .when(method == "hifo")
        .then(-per_share_cost)
        .otherwise(0)
        .cast(GAIN)
    )
    return [first, second, third]


def relieve(
    sells: pl.DataFrame,
    lots: pl.DataFrame,
    sale_date: dt.date,
    first: pl.Expr | None = None,
) -> pl.DataFrame:
    """Which lots each sell relieves, in its method's order, and the gain on each.

    ``sells``: trade_id, account_id, security_id, quantity, price, lot_method, and optionally
    avoid_short_term_gains and short_term_wait_days (tiers first, then the method's order) and
    short_term_rate and long_term_rate (``min_tax``; the IPS defaults when absent).
    ``lots``: account_id, security_id, lot_id, acquired_date, quantity, cost_basis.
    ``first``: an integer expression over the joined rows (lot columns, ``gain_per_share``,
    ``tier``) sorted on before everything else (the wash-sale check's lot preferences).
    Returns one row per (sell, lot relieved) with relieved quantity, gain, long_term and tier.
    """
    sold = pl.lit(sale_date)
    defaults: dict[str, object] = {
        "avoid_short_term_gains": False,
        "short_term_wait_days": 0,
        **DEFAULT_RATES,
    }
    for name, default in defaults.items():
        if name not in sells.columns:
            sells = sells.with_columns(pl.lit(default).alias(name))
    frame = (
        sells.join(lots.rename({"quantity": "lot_quantity"}), on=["account_id", "security_id"])
        .with_columns(
            (pl.col("cost_basis").cast(GAIN) / pl.col("lot_quantity")).alias("cost_per_share"),
            is_long_term(pl.col("acquired_date"), sold).alias("long_term"),
        )
        .with_columns(
            (pl.col("price").cast(GAIN) - pl.col("cost_per_share")).alias("gain_per_share")
        )
        .with_columns(
            tier(
                pl.col("avoid_short_term_gains"),
                pl.col("short_term_wait_days"),
                pl.col("acquired_date"),
                pl.col("gain_per_share"),
                sold,
            ).alias("tier")
        )
    )
    rate = (
        pl.when(pl.col("long_term"))
        .then(pl.col("long_term_rate"))
        .otherwise(pl.col("short_term_rate"))
        .cast(GAIN)
    )
    keys = _order_key(
        pl.col("lot_method"),
        pl.col("gain_per_share"),
        pl.col("long_term"),
        pl.col("cost_per_share"),
        rate,
    )
    frame = frame.with_columns(
        (pl.lit(0) if first is None else first).cast(pl.Int64).alias("_k0"),
        *(k.alias(f"_k{i + 1}") for i, k in enumerate(keys)),
    ).sort("trade_id", "_k0", "tier", "_k1", "_k2", "_k3", "acquired_date", "lot_id")
    q = pl.col("lot_quantity").cast(GAIN)
    before = (q.cum_sum() - q).over("trade_id")
    relieved = pl.min_horizontal(
        q, pl.max_horizontal(pl.col("quantity").cast(GAIN) - before, pl.lit(0).cast(GAIN))
    )
    return (
        frame.with_columns(relieved.alias("relieved"))
        .filter(pl.col("relieved") > 0)
        .with_columns(
            # cost relieved pro rata to the lot's total cost, proceeds at the trade price
            (
                pl.col("relieved") * pl.col("price")
                - pl.col("cost_basis").cast(GAIN) * pl.col("relieved") / q
            ).alias("gain")
        )
        .drop("_k0", "_k1", "_k2", "_k3")
    )


def taxable_sells(
    trades: pl.DataFrame, settings: pl.DataFrame, accounts: pl.DataFrame
) -> pl.DataFrame:
    """The sells of ``trades`` in taxable accounts, with what ``relieve`` needs (trade_id = the
    trade's row index in ``trades``)."""
    return (
        trades.with_row_index("trade_id")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
        )
        .join(settings.select("portfolio_id", *RELIEF_SETTINGS), on="portfolio_id")
        .join(account_rates(settings, accounts), on=["portfolio_id", "account_id"])
        .filter((pl.col("side") == "sell") & (pl.col("tax_status") == "taxable"))
        .select(
            "trade_id",
            "account_id",
            "security_id",
            "quantity",
            "price",
            *RELIEF_SETTINGS,
            *RATES,
        )
    )


def realized_gains(
    sells: pl.DataFrame,
    lots: pl.DataFrame,
    sale_date: dt.date,
    relieved: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per sell: short- and long-term realised gain, and how many shares the lots covered
    (from ``relieved``, ``relieve``'s answer for these sells, when the caller has it)."""
    if relieved is None:
        relieved = relieve(sells, lots, sale_date)
    zero = pl.lit(0).cast(GAIN)
    totals = relieved.group_by("trade_id").agg(
        pl.when(~pl.col("long_term"))
        .then(pl.col("gain"))
        .otherwise(zero)
        .sum()
        .alias("realized_gain_short_term"),
        pl.when(pl.col("long_term"))
        .then(pl.col("gain"))
        .otherwise(zero)
        .sum()
        .alias("realized_gain_long_term"),
        pl.col("relieved").sum().alias("covered"),
    )
    return (
        sells.select("trade_id", "quantity")
        .join(totals, on="trade_id", how="left")
        .with_columns(pl.col("covered").fill_null(zero))
    )


def uncovered_warnings(sells: pl.DataFrame) -> pl.DataFrame:
    """One line per taxable sale whose lots do not cover it (portfolio_id, account_id,
    security_id, quantity, covered)."""
    return sells.select(
        "portfolio_id",
        text(
            "lots for {} in account {} cover {} of the {} shares sold: realised gain not estimated",
            pl.col("security_id"),
            pl.col("account_id"),
            plain(pl.col("covered").fill_null(0)),
            plain(pl.col("quantity")),
        ).alias("message"),
    )


def annotate_trades(
    trades: pl.DataFrame,
    lots: pl.DataFrame,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
    sale_date: dt.date,
    relieved: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add realised gains and estimated tax to trades; warn where lots cannot tell.

    Sells in tax-exempt or tax-deferred accounts realise no taxable gain (0). A taxable sale
    whose lots do not cover it gets no estimate (null) and a warning. Buys realise nothing.
    ``relieved``: ``relieve`` over ``taxable_sells(trades, …)``, when already computed.
    """
    zero = pl.lit(0).cast(GAIN)
    frame = (
        trades.with_row_index("trade_id")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
            how="left",
        )
        .join(settings.select("portfolio_id", *RELIEF_SETTINGS), on="portfolio_id", how="left")
        .join(account_rates(settings, accounts), on=["portfolio_id", "account_id"], how="left")
    )
    gains = realized_gains(taxable_sells(trades, settings, accounts), lots, sale_date, relieved)
    frame = frame.join(gains.drop("quantity"), on="trade_id", how="left")
    covered = pl.col("covered").fill_null(zero) >= pl.col("quantity")
    estimable = (pl.col("side") == "buy") | (pl.col("tax_status") != "taxable") | covered
    st, lt = pl.col("realized_gain_short_term"), pl.col("realized_gain_long_term")
    frame = (
        frame.with_columns(
            pl.when(pl.col("tax_status") == "taxable")
            .then(st)
            .otherwise(zero)
            .alias("realized_gain_short_term"),
            pl.when(pl.col("tax_status") == "taxable")
            .then(lt)
            .otherwise(zero)
            .alias("realized_gain_long_term"),
        )
        .with_columns(
            pl.when(estimable & (pl.col("side") == "sell"))
            .then(pl.col(c).fill_null(zero))
            .when(pl.col("side") == "buy")
            .then(zero)
            .alias(c)
            for c in ("realized_gain_short_term", "realized_gain_long_term")
        )
        .with_columns(
            (
                pl.col("realized_gain_short_term") * pl.col("short_term_rate")
                + pl.col("realized_gain_long_term") * pl.col("long_term_rate")
            )
            .cast(GAIN)
            .alias("estimated_tax"),
        )
    )
    warnings = uncovered_warnings(frame.filter(~estimable))
    last_resort = frame.filter(
        pl.col("avoid_short_term_gains").fill_null(False)
        & (pl.col("side") == "sell")
        & (pl.col("realized_gain_short_term").fill_null(zero) > 0)
    ).select(
        "portfolio_id",
        text(
            "the sale of {} {} in account {} realises a short-term gain of ${}: "
            "avoid_short_term_gains could not be honoured, no other lot could raise enough",
            plain(pl.col("quantity")),
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("realized_gain_short_term").cast(pl.Decimal(38, 2)),
        ).alias("message"),
    )
    keep = [*trades.columns, "realized_gain_short_term", "realized_gain_long_term", "estimated_tax"]
    return frame.sort("trade_id").select(keep), pl.concat([warnings, last_resort])
