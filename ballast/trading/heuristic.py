"""Trade proposals for breached portfolios, all portfolios at once (pure Polars).

1. Destinations: each breached class goes to ``rebalance_to`` (target, band edge or halfway)
   of the investable base B = total − kept cash reserve − classes the IPS does not name. With
   ``trade_classes: all`` the other classes go to target; with ``breached`` they stay, apart from
   what they must absorb. Any residual is spread over the non-breached classes (first toward
   their targets, then in proportion to target).
2. Sells: from holdings of over-target classes, tax-exempt and tax-deferred accounts first, then
   the largest holdings; quantities rounded *up* to whole shares (never beyond the holding),
   unless rounding up would overshoot by more than the amount needed (a class must never end
   further from its target than it started), then down.
3. Buys: each account spends only its own idle cash above its reserve plus its own sell
   proceeds, net of estimated costs; the total is shared out in proportion to each account's
   funds; quantities rounded *down*, so no account is ever overdrawn.
4. Trades smaller than the IPS minimum (the greater of money and % of account) are dropped,
   with a warning.
Cash is never traded itself: it is what buys spend and sells raise.
"""

from __future__ import annotations

import polars as pl

from ballast.kinds import CASH_CLASS, CASH_SECURITY
from ballast.portfolio.policy_frames import FRACTION
from ballast.portfolio.text import text
from ballast.trading import lots, post_trade, wash_sales
from ballast.trading.destinations import cash_frame, destinations
from ballast.trading.inputs import TradingInputs
from ballast.trading.proposal import AMT, TAX_PREFERENCE, Proposal, pct, positive
from ballast.trading.sizing import cost_rates, min_trade_filter, priced, round_quantity


def _reason(side: str) -> pl.Expr:
    cls, w, t = pl.col("asset_class"), pct(pl.col("weight")), pct(pl.col("target"))
    dest = pct(pl.col("dest") / pl.col("total_after_flows"))
    over = side == "sell"
    breach = text(
        "{} at {} is {} its band ({} {}): {} toward {}",
        cls,
        w,
        pl.lit("above" if over else "below"),
        pl.lit("upper" if over else "lower"),
        pct(pl.col("upper" if over else "lower")),
        pl.lit(side),
        dest,
    )
    rule = (
        pl.when(pl.col("trade_classes") == "all")
        .then(pl.lit("all classes are rebalanced when one breaches (trade_classes: all)"))
        .otherwise(pl.lit("offsets the breached classes' trades (trade_classes: breached)"))
    )
    other = text(
        "{} at {} is {} target {}: {}", cls, w, pl.lit("above" if over else "below"), t, rule
    )
    where = (
        text("; {} account first", pl.col("tax_status").str.replace("_", "-"))
        if over
        else pl.lit("; paid from this account's own cash and sales")
    )
    return pl.concat_str(pl.when(pl.col("breached")).then(breach).otherwise(other), where)


def _pieces(holdings: pl.DataFrame, tiers: pl.DataFrame | None) -> pl.DataFrame:
    """Holdings split into what may be sold first (tier 0) and short-term gain lots kept as a
    last resort (tier 1); held-back lots (tier 2) are left out (``lots.sell_tiers``)."""
    held = holdings.filter((pl.col("security_id") != CASH_SECURITY) & (pl.col("quantity") > 0))
    keys = ["portfolio_id", "account_id", "security_id"]
    if tiers is None or tiers.is_empty():
        return held.with_columns(pl.lit(lots.TIER_FREE).alias("tier"))
    by_tier = tiers.group_by(keys).agg(
        pl.col("quantity").filter(pl.col("tier") == t).sum().alias(f"q{t}") for t in (1, 2)
    )
    frame = held.join(by_tier, on=keys, how="left").with_columns(
        pl.col("q1", "q2").fill_null(0).cast(pl.Decimal(38, 6))
    )
    whole = pl.col("whole_shares") & ((pl.col("q1") > 0) | (pl.col("q2") > 0))
    free = pl.col("quantity").cast(pl.Decimal(38, 6)) - pl.col("q1") - pl.col("q2")
    pieces = [
        frame.with_columns(
            pl.when(whole).then(free.floor()).otherwise(free).alias("quantity"),
            pl.lit(lots.TIER_FREE).alias("tier"),
        ),
        frame.with_columns(
            pl.when(pl.col("whole_shares"))
            .then(pl.col("q1").floor())
            .otherwise(pl.col("q1"))
            .alias("quantity"),
            pl.lit(lots.TIER_SHORT_TERM).alias("tier"),
        ),
    ]
    return (
        pl.concat(pieces)
        .filter(pl.col("quantity") > 0)
        .with_columns(
            (pl.col("quantity") * pl.col("price"))
            .cast(holdings.schema["market_value"])
            .alias("market_value")
        )
        .drop("q1", "q2")
    )


def _sells(
    dest: pl.DataFrame,
    holdings: pl.DataFrame,
    restrictions: pl.DataFrame,
    cash: pl.DataFrame,
    tiers: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sells, bound): the sells, and the classes whose sellable holdings (held-back lots
    left out) are worth less than they need to sell."""
    need = dest.filter((pl.col("class_trade") < 0) & (pl.col("asset_class") != CASH_CLASS))
    blocked = restrictions.filter(pl.col("rule") == "do_not_sell")
    sellable = holdings.join(blocked, on=["portfolio_id", "security_id"], how="anti").join(
        need.select("portfolio_id", "whole_shares").unique(), on="portfolio_id"
    )
    cands = (
        _pieces(sellable, tiers)
        .join(
            need.select(
                "portfolio_id",
                "asset_class",
                "class_trade",
                "weight",
                "upper",
                "lower",
                "target",
                "dest",
                "max_sell",
                "total_value",
                "total_after_flows",
                "breached",
                "trade_classes",
            ),
            on=["portfolio_id", "asset_class"],
            how="inner",
        )
        .join(
            cash.select("portfolio_id", "account_id", "idle_cash"),
            on=["portfolio_id", "account_id"],
            how="left",
        )
        .with_columns(
            pl.col("tax_status").replace_strict(TAX_PREFERENCE).alias("tax_rank"),
            # an account that must raise cash for a planned withdrawal sells first
            (pl.col("idle_cash").fill_null(0) >= 0).alias("has_cash"),
        )
        .sort(
            "portfolio_id",
            "asset_class",
            "has_cash",
            "tier",
            "tax_rank",
            "market_value",
            "account_id",
            "security_id",
            descending=[False, False, False, False, False, True, False, False],
        )
    )
    mv = pl.col("market_value").cast(AMT)
    before = (mv.cum_sum() - mv).over("portfolio_id", "asset_class")
    fill = pl.min_horizontal(positive(-pl.col("class_trade") - before), mv)
    units = fill / pl.col("price")
    up, down = round_quantity(units, up=True), round_quantity(units, up=False)
    room = pl.min_horizontal(2 * fill, pl.col("max_sell") - before)
    qty = pl.when(up * pl.col("price") <= room).then(up).otherwise(down)
    qty = pl.min_horizontal(qty, pl.col("quantity").cast(pl.Decimal(38, 6)))
    available = cands.group_by("portfolio_id", "asset_class").agg(mv.sum().alias("available"))
    bound = (
        need.join(available, on=["portfolio_id", "asset_class"], how="left")
        .filter(pl.col("available").fill_null(0) < -pl.col("class_trade"))
        .select("portfolio_id", "asset_class")
    )
    last_resort = pl.lit(
        "; short-term lots sold as a last resort (avoid_short_term_gains): "
        "nothing else raises enough"
    )
    sells = (
        cands.with_columns(qty.alias("quantity_traded"), _reason("sell").alias("reason"))
        .filter(pl.col("quantity_traded") > 0)
        .group_by("portfolio_id", "account_id", "security_id", "asset_class", maintain_order=True)
        .agg(
            pl.col("quantity_traded").sum().alias("quantity"),
            pl.col("price").first().cast(pl.Decimal(38, 6)),
            pl.col("reason").first(),
            (pl.col("tier") == lots.TIER_SHORT_TERM).any().alias("st"),
        )
        .select(
            "portfolio_id",
            "account_id",
            "security_id",
            "asset_class",
            pl.lit("sell").alias("side"),
            pl.col("quantity").cast(pl.Decimal(38, 6)),
            "price",
            pl.when(pl.col("st"))
            .then(pl.concat_str(pl.col("reason"), last_resort))
            .otherwise(pl.col("reason"))
            .alias("reason"),
        )
    )
    return sells, bound


def _within_funds(buys: pl.DataFrame) -> pl.DataFrame:
    """Trim the largest buy of any account whose buys (with costs) exceed its funds.

    Budgets are shared out with divisions rounded at 12 decimals, so an account can come out a
    fraction of a cent over; whole units are taken off its largest buy until it is not.
    """
    spend = pl.col("qty") * pl.col("price") * (1 + pl.col("cost_rate"))
    acct = ("portfolio_id", "account_id")
    frame = buys.with_columns(
        (spend.sum().over(acct) - pl.col("funds")).alias("over"),
        (spend == spend.max().over(acct)).alias("largest"),
    ).with_columns(pl.col("largest") & (pl.col("largest").cum_sum().over(acct) == 1))
    unit = pl.when(pl.col("whole_shares")).then(1).otherwise(pl.lit(0.000001)).cast(AMT)
    cut = (pl.col("over") / (pl.col("price") * (1 + pl.col("cost_rate"))) / unit).ceil() * unit
    trimmed = pl.when(pl.col("largest") & (pl.col("over") > 0)).then(pl.col("qty") - cut)
    return frame.with_columns(
        trimmed.otherwise(pl.col("qty")).cast(pl.Decimal(38, 6)).alias("qty")
    ).drop("over", "largest")


def split_vehicles(
    vehicles: pl.DataFrame,
    dest: pl.DataFrame,
    holdings: pl.DataFrame,
    candidates: pl.DataFrame,
    restrictions: pl.DataFrame,
    weights: pl.DataFrame | None,
) -> pl.DataFrame:
    """The securities bought per (portfolio, class), each with the ``share`` of the class's
    buys it takes (``security_weight``: its weight in the class, null for a plain vehicle).

    A class with security-level weights (``policy_frames.security_weights_frame``, from a
    model's ``securities:``) buys each of its securities that ``choose_vehicles`` would buy as
    a named vehicle (priced, not ``do_not_buy``), in proportion to their weights, renormalised
    over those; any other class, or one none of whose securities can be bought, buys its one
    vehicle (``vehicles``), share 1."""
    single = vehicles.with_columns(
        pl.lit(1).cast(FRACTION).alias("share"), pl.lit(None, FRACTION).alias("security_weight")
    )
    if weights is None or weights.is_empty():
        return single
    keys = ["portfolio_id", "asset_class"]
    wanted = dest.filter((pl.col("class_trade") > 0) & (pl.col("asset_class") != CASH_CLASS))
    # each weighted security as the named vehicle of its own slice of the class
    slices = wanted.join(weights.rename({"weight": "w"}), on=keys).with_columns(
        pl.concat_str("asset_class", pl.lit("\x00"), "security_id").alias("slice"),
        pl.col("security_id").alias("vehicle"),
    )
    named = choose_vehicles(
        slices.drop("asset_class", "security_id").rename({"slice": "asset_class"}),
        holdings,
        candidates,
        restrictions,
    ).rename({"asset_class": "slice"})
    weighted = (
        slices.select(*keys, "slice", pl.col("w").cast(FRACTION).alias("security_weight"))
        .join(named, on=["portfolio_id", "slice"])
        .with_columns(
            (pl.col("security_weight") / pl.col("security_weight").sum().over(keys))
            .cast(FRACTION)
            .alias("share")
        )
        .select(*vehicles.columns, "share", "security_weight")
    )
    return pl.concat([single.join(weighted, on=keys, how="anti"), weighted]).sort(
        *keys, "security_id"
    )


def choose_vehicles(
    dest: pl.DataFrame, holdings: pl.DataFrame, candidates: pl.DataFrame, restrictions: pl.DataFrame
) -> pl.DataFrame:
    """The security bought for each (portfolio, class): the IPS vehicle, else the largest
    holding, else the first security of the class in the master that has a price; at the
    holding's price, else the candidate's price in the portfolio's base currency (``dest``
    carries each portfolio's ``base_currency``, ``candidates`` are ``inputs.buy_candidates``)."""
    blocked = restrictions.filter(pl.col("rule") == "do_not_buy")
    wanted = dest.filter((pl.col("class_trade") > 0) & (pl.col("asset_class") != CASH_CLASS))
    held = (
        holdings.filter((pl.col("security_id") != CASH_SECURITY) & (pl.col("quantity") > 0))
        .group_by("portfolio_id", "asset_class", "security_id")
        .agg(pl.col("market_value").sum(), pl.col("price").max())
        .with_columns(pl.lit(1).alias("pref"))
    )
    named = wanted.filter(pl.col("vehicle").is_not_null()).select(
        "portfolio_id",
        "asset_class",
        pl.col("vehicle").alias("security_id"),
        pl.lit(0).alias("pref"),
    )
    master = (
        wanted.select("portfolio_id", "asset_class", "base_currency")
        .join(
            candidates.select("base_currency", "asset_class", "security_id"),
            on=["base_currency", "asset_class"],
        )
        .drop("base_currency")
        .with_columns(pl.lit(2).alias("pref"))
    )
    prices = (
        pl.concat(
            [
                held.select("portfolio_id", "security_id", "price"),
                wanted.select("portfolio_id", "base_currency")
                .unique()
                .join(
                    candidates.select("base_currency", "security_id", "price"), on="base_currency"
                )
                .drop("base_currency"),
            ]
        )
        .group_by("portfolio_id", "security_id")
        .agg(pl.col("price").first())
    )
    options = (
        pl.concat(
            [
                named,
                held.select("portfolio_id", "asset_class", "security_id", "pref", "market_value"),
                master,
            ],
            how="diagonal_relaxed",
        )
        .join(
            wanted.select("portfolio_id", "asset_class"),
            on=["portfolio_id", "asset_class"],
            how="semi",
        )
        .join(blocked, on=["portfolio_id", "security_id"], how="anti")
        .join(prices, on=["portfolio_id", "security_id"], how="inner")
        .sort(
            "portfolio_id",
            "asset_class",
            "pref",
            "market_value",
            "security_id",
            descending=[False, False, False, True, False],
            nulls_last=True,
        )
    )
    return (
        options.group_by("portfolio_id", "asset_class", maintain_order=True)
        .first()
        .select(
            "portfolio_id", "asset_class", "security_id", pl.col("price").cast(pl.Decimal(38, 6))
        )
    )


def propose(
    inputs: TradingInputs, *, check_bands: bool = True, flows_only: bool = False
) -> Proposal:
    """Trades that bring every breached portfolio back inside its policy, and invest or raise
    planned cash flows (``inputs.flows``).

    ``candidates`` may be bought when a class holds nothing. With the tax lots
    (``inputs.lots``) and the sale date ``inputs.as_of``, short-term gain lots are sold last and
    those about to turn long-term are held back (``lots.sell_tiers``), and so are loss lots a
    household purchase of the last 30 days would wash under ``wash_sale: block``
    (``wash_sales.blocking``). ``check_bands=False``
    leaves out the warnings for classes still outside their bands (for a caller that changes the
    trades afterwards and checks then). ``flows_only``: only the trades the cash flows make
    (see ``destinations``).
    """
    alloc, holdings, settings = inputs.allocation, inputs.holdings, inputs.settings
    candidates, restrictions, costs = inputs.candidates, inputs.restrictions, inputs.costs
    tiers = None
    if inputs.lots is not None and inputs.as_of is not None:
        tiers = lots.sell_tiers(
            holdings, inputs.lots, settings, inputs.as_of, wash_sales.blocking(inputs)
        )
    cash = cash_frame(inputs.accounts, holdings, settings, inputs.flows)
    dest = destinations(alloc, settings, cash, flows_only=flows_only)
    account_values = holdings.group_by("portfolio_id", "account_id").agg(
        pl.col("market_value").sum().cast(AMT).alias("account_value")
    )
    cost_rate = cost_rates(costs)
    sold, bound = _sells(dest, holdings, restrictions, cash, tiers)
    sells, small_sells = min_trade_filter(priced(sold, costs, settings), account_values)
    proceeds = sells.group_by("portfolio_id", "account_id").agg(
        (pl.col("amount") - pl.col("estimated_cost")).sum().alias("proceeds")
    )
    funds = (
        cash.join(proceeds, on=["portfolio_id", "account_id"], how="left")
        .with_columns(
            (pl.col("idle_cash") + pl.col("proceeds").fill_null(0)).cast(AMT).alias("funds")
        )
        .filter(pl.col("funds") > 0)
        .with_columns(pl.col("funds").sum().over("portfolio_id").alias("funds_total"))
    )
    wanted = dest.filter((pl.col("class_trade") > 0) & (pl.col("asset_class") != CASH_CLASS))
    vehicles = choose_vehicles(dest, holdings, candidates, restrictions)
    bought = split_vehicles(
        vehicles, dest, holdings, candidates, restrictions, inputs.security_weights
    )
    need_total = wanted.group_by("portfolio_id").agg(pl.col("class_trade").sum().alias("need"))
    buys = (
        wanted.join(bought, on=["portfolio_id", "asset_class"], how="inner")
        .join(need_total, on="portfolio_id")
        .join(
            funds.select("portfolio_id", "account_id", "tax_status", "funds", "funds_total"),
            on="portfolio_id",
            how="inner",
        )
        .join(cost_rate, on=["portfolio_id", "asset_class"], how="left")
        .with_columns(pl.col("cost_rate").fill_null(0))
        .with_columns(
            (
                pl.min_horizontal(pl.lit(1).cast(AMT), pl.col("funds_total") / pl.col("need"))
                * pl.col("class_trade")
                * pl.col("funds")
                / pl.col("funds_total")
                / (1 + pl.col("cost_rate"))
                * pl.col("share")
            )
            .cast(AMT)
            .alias("budget")
        )
        .with_columns(round_quantity(pl.col("budget") / pl.col("price"), up=False).alias("qty"))
        .pipe(_within_funds)
        .filter(pl.col("qty") > 0)
        .select(
            "portfolio_id",
            "account_id",
            "security_id",
            "asset_class",
            pl.lit("buy").alias("side"),
            pl.col("qty").alias("quantity"),
            "price",
            pl.concat_str(
                _reason("buy"),
                pl.when(pl.col("security_weight").is_not_null())
                .then(
                    text(
                        "; {} of the class's buys (security weight {} in {})",
                        pct(pl.col("share")),
                        pct(pl.col("security_weight")),
                        pl.col("asset_class"),
                    )
                )
                .otherwise(pl.lit("")),
            ).alias("reason"),
        )
    )
    buys, small_buys = min_trade_filter(priced(buys, costs, settings), account_values)
    trades = (
        pl.concat([sells, buys])
        .with_columns(pl.col("side").replace_strict({"sell": 0, "buy": 1}).alias("side_order"))
        .sort("portfolio_id", "side_order", "account_id", "security_id")
        .drop("side_order", "cost_rate", "min_trade", "min_trade_pct")
    )
    classes = post_trade.post_trade(alloc, dest, trades, cash)
    warnings = pl.concat(
        [
            small_sells,
            small_buys,
            unfunded(wanted, vehicles),
            post_trade.outside_bands(classes) if check_bands else small_sells.clear(),
            post_trade.short_accounts(cash, trades),
            lots.held_back_warnings(tiers, bound) if tiers is not None else small_sells.clear(),
        ]
    )
    return Proposal(trades=trades, classes=classes, warnings=warnings)


def unfunded(wanted: pl.DataFrame, vehicles: pl.DataFrame) -> pl.DataFrame:
    return wanted.join(vehicles, on=["portfolio_id", "asset_class"], how="anti").select(
        "portfolio_id",
        text(
            "no security to buy for {}: name a vehicle in the IPS or give it a price",
            pl.col("asset_class"),
        ).alias("message"),
    )
