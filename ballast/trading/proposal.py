"""What a trade engine returns, and the decimal helpers every engine shares (pure Polars)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ballast.portfolio.text import text

AMT = pl.Decimal(38, 12)  # quantity (6 dp) × price (6 dp) is exact at 12 dp


TAX_PREFERENCE = {"tax_exempt": 0, "tax_deferred": 1, "taxable": 2}


@dataclass(frozen=True)
class Proposal:
    """Trades, post-trade class values and warnings for every portfolio reviewed."""

    trades: pl.DataFrame  # portfolio_id, account_id, security_id, asset_class, side, ...
    classes: pl.DataFrame  # portfolio_id, asset_class, post_trade_value, post_trade_weight
    warnings: pl.DataFrame  # portfolio_id, message
    flow_effect: pl.DataFrame | None = None  # post_trade.flow_effect, where computed
    tax_budget: pl.DataFrame | None = None  # gains_budget.summary: IPS with a budget or rates
    harvest: pl.DataFrame | None = None  # harvest.summary: IPS with tax.harvest


@dataclass(frozen=True)
class OptimisedProposal(Proposal):
    """A proposal plus the lots each sell relieves (specific identification)."""

    lot_sales: pl.DataFrame = field(default_factory=pl.DataFrame)


def pct(expr: pl.Expr) -> pl.Expr:
    return text("{}%", (expr * 100).cast(pl.Decimal(38, 2)))


def positive(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr > 0).then(expr).otherwise(pl.lit(0).cast(AMT))
