"""Policies as Polars frames, so every portfolio's maths runs in one vectorised pass."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from ballast.portfolio.policy import Account, Policy

FRACTION = pl.Decimal(38, 10)
MONEY = pl.Decimal(38, 4)


def targets_frame(policies: list[Policy]) -> pl.DataFrame:
    """One row per (portfolio, asset class): target, band text and bounds, IPS order."""
    rows = []
    for p in policies:
        for order, (name, cls) in enumerate(p.asset_classes.items()):
            band = p.band_for(name)
            lower, upper = band.bounds(cls.target)
            vehicle = cls.vehicle or _heaviest(cls.securities)
            rows.append((p.id, name, order, cls.target, lower, upper, str(band), vehicle))
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "portfolio_id": pl.String,
            "asset_class": pl.String,
            "class_order": pl.Int32,
            "target": FRACTION,
            "lower": FRACTION,
            "upper": FRACTION,
            "band": pl.String,
            "vehicle": pl.String,
        },
    )


def _heaviest(securities: dict[str, Decimal] | None) -> str | None:
    """A class's security of largest weight (ties: the first id): its vehicle for whatever buys
    one security per class (the optimiser; see ``security_weights_frame``)."""
    if not securities:
        return None
    return min(securities.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def security_weights_frame(policies: list[Policy]) -> pl.DataFrame:
    """One row per (portfolio, class, security) for classes with security-level weights
    (``securities:``, from a model or inline): the weight within the class, a fraction."""
    rows = [
        (p.id, name, sec, weight)
        for p in policies
        for name, cls in p.asset_classes.items()
        for sec, weight in (cls.securities or {}).items()
    ]
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "portfolio_id": pl.String,
            "asset_class": pl.String,
            "security_id": pl.String,
            "weight": FRACTION,
        },
    )


def accounts_frame(policies: list[Policy]) -> pl.DataFrame:
    """One row per (portfolio, account) with its tax status and IPS order, and, for an account
    with rates of its own, its short- and long-term rates, federal + state, each the account's
    or else its IPS's (``account_short_term_rate``, ``account_long_term_rate``; null for an
    account without: the IPS's rates apply, see ``trading.lots.account_rates``)."""
    rows = [
        (p.id, a.id, i, a.tax_status.value, *_own_rates(p, a))
        for p in policies
        for i, a in enumerate(p.accounts)
    ]
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "portfolio_id": pl.String,
            "account_id": pl.String,
            "account_order": pl.Int32,
            "tax_status": pl.String,
            "account_short_term_rate": FRACTION,
            "account_long_term_rate": FRACTION,
        },
    )


def _own_rates(p: Policy, a: Account) -> tuple[Decimal | None, Decimal | None]:
    if not a.has_own_rates:
        return None, None
    state = a.state_rate if a.state_rate is not None else (p.tax.state_rate or Decimal(0))
    st = a.short_term_rate if a.short_term_rate is not None else p.tax.short_term_rate
    lt = a.long_term_rate if a.long_term_rate is not None else p.tax.long_term_rate
    return st + state, lt + state


def settings_frame(policies: list[Policy]) -> pl.DataFrame:
    """One row per portfolio: the settings the trade proposal needs."""
    rows = [
        (
            p.id,
            p.base_currency,
            p.rebalance_to.value,
            p.trade_classes.value,
            p.cash_has_target,
            p.cash.reserve,
            p.trading.whole_shares,
            p.trading.min_trade,
            p.trading.min_trade_pct,
            p.tax.lot_method.value,
            p.tax.short_term_rate,
            p.tax.long_term_rate,
            p.trading.engine,
            p.tax.avoid_short_term_gains,
            p.tax.short_term_wait_days,
            p.tax.wash_sale.value,
        )
        for p in policies
    ]
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "portfolio_id": pl.String,
            "base_currency": pl.String,
            "rebalance_to": pl.String,
            "trade_classes": pl.String,
            "cash_has_target": pl.Boolean,
            "reserve": MONEY,
            "whole_shares": pl.Boolean,
            "min_trade": MONEY,
            "min_trade_pct": FRACTION,
            "lot_method": pl.String,
            "short_term_rate": FRACTION,
            "long_term_rate": FRACTION,
            "engine": pl.String,
            "avoid_short_term_gains": pl.Boolean,
            "short_term_wait_days": pl.Int64,
            "wash_sale": pl.String,
        },
    )


def costs_frame(policies: list[Policy]) -> pl.DataFrame:
    """Transaction cost in basis points per (portfolio, asset class); absent means zero."""
    rows = [(p.id, c, Decimal(str(bp))) for p in policies for c, bp in p.trading.cost_bp.items()]
    return pl.DataFrame(
        rows,
        orient="row",
        schema={"portfolio_id": pl.String, "asset_class": pl.String, "cost_bp": FRACTION},
    )


def restrictions_frame(policies: list[Policy]) -> pl.DataFrame:
    """One row per (portfolio, security, rule) with rule ``do_not_sell`` or ``do_not_buy``."""
    rows = [
        (p.id, s, rule)
        for p in policies
        for rule, secs in (
            ("do_not_sell", p.restrictions.do_not_sell),
            ("do_not_buy", p.restrictions.do_not_buy),
        )
        for s in secs
    ]
    return pl.DataFrame(
        rows,
        orient="row",
        schema={"portfolio_id": pl.String, "security_id": pl.String, "rule": pl.String},
    )
