"""The machine outputs of a review: ``results.json`` entries, ``trades.csv`` and
``trade_lots.csv``.

Rounding rule (the only one): values are computed exactly in decimals and rounded once, on
output, half to even: money to cents, weights to six decimals, drift to 0.01 bp.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from operator import itemgetter
from typing import Any

import polars as pl

from ballast.reporting.results_text import LOT_KEYS
from ballast.review import Computed

MONEY_OUT = pl.Decimal(38, 2)
WEIGHT_OUT = pl.Decimal(38, 6)
BP_OUT = pl.Decimal(38, 2)


def _s(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return expr.cast(dtype).cast(pl.String)


def _trim(expr: pl.Expr, keep: int) -> pl.Expr:
    """Decimal text without trailing zeros beyond ``keep`` decimals ("7200.000000" → "7200")."""
    text = expr.cast(pl.Decimal(38, 6)).cast(pl.String)
    if keep == 0:
        return text.str.replace(r"\.?0+$", "")
    return text.str.replace(r"^(-?\d+\.\d{" + str(keep) + r"}\d*?)0+$", "${1}")


def class_rows(c: Computed) -> pl.DataFrame:
    """Allocation rows formatted as results.json wants them."""
    alloc = c.allocation
    if c.proposal is not None:
        alloc = alloc.join(
            c.proposal.classes.select("portfolio_id", "asset_class", "post_trade_weight"),
            on=["portfolio_id", "asset_class"],
            how="left",
        )
    else:
        alloc = alloc.with_columns(pl.lit(None, pl.Decimal(38, 12)).alias("post_trade_weight"))
    post = (
        pl.when(pl.col("portfolio_breached") & pl.col("post_trade_weight").is_not_null())
        .then(pl.col("post_trade_weight"))
        .otherwise(pl.col("weight"))
    )
    if c.proposal is None:
        post = pl.lit(None, pl.Decimal(38, 12))
    return alloc.select(
        "portfolio_id",
        "asset_class",
        _s(pl.col("market_value"), MONEY_OUT).alias("market_value"),
        _s(pl.col("weight"), WEIGHT_OUT).alias("weight"),
        _s(pl.col("target"), WEIGHT_OUT).alias("target"),
        _s(pl.col("lower"), WEIGHT_OUT).alias("lower"),
        _s(pl.col("upper"), WEIGHT_OUT).alias("upper"),
        _s(pl.col("drift"), BP_OUT).alias("drift_bp"),
        "breached",
        _s(post, WEIGHT_OUT).alias("post_trade_weight"),
    )


def trade_rows(c: Computed) -> pl.DataFrame:
    """Trades formatted as results.json and trades.csv want them."""
    if c.proposal is None:
        return pl.DataFrame(schema={"portfolio_id": pl.String})
    t = c.proposal.trades
    gains = [
        pl.col(g) if g in t.columns else pl.lit(None, MONEY_OUT).alias(g)
        for g in (
            "realized_gain_short_term",
            "realized_gain_long_term",
            "estimated_tax",
            "wash_sale_disallowed",
        )
    ]
    return t.with_columns(*gains, *_lot_detail(t)).select(
        "portfolio_id",
        "account_id",
        "security_id",
        "side",
        _trim(pl.col("quantity"), 0).alias("quantity"),
        _trim(pl.col("price"), 2).alias("price"),
        _s(pl.col("amount"), MONEY_OUT).alias("amount"),
        "reason",
        _s(pl.col("realized_gain_short_term"), MONEY_OUT).alias("realized_gain_short_term"),
        _s(pl.col("realized_gain_long_term"), MONEY_OUT).alias("realized_gain_long_term"),
        _s(pl.col("estimated_cost"), MONEY_OUT).alias("estimated_cost"),
        _s(pl.col("estimated_tax"), MONEY_OUT).alias("estimated_tax"),
        _s(pl.col("wash_sale_disallowed"), MONEY_OUT).alias("wash_sale_disallowed"),
        "lots",
        "wash_sale_replacements",
        *_dealt(t),
    )


def _dealt(t: pl.DataFrame) -> list[pl.Expr]:
    """``currency`` and ``local_price`` (``trading.trade_currency``); null when not priced."""
    if "local_price" not in t.columns:
        return [pl.lit(None, pl.String).alias(k) for k in ("currency", "local_price")]
    return [pl.col("currency"), _trim(pl.col("local_price"), 2).alias("local_price")]


REPLACEMENT_KEYS = (
    "sold_lot_id",
    "sold_account_id",
    "sold_security_id",
    "sale_date",
    "account_id",
    "security_id",
    "trade_date",
    "source",
    "quantity",
    "disallowed",
    "basis_adjustment",
    "adjusted_basis",
    "adjusted_acquired_date",
    "lost_for_good",
)
"""The keys of each ``wash_sale_replacements`` entry (``trading.tax_detail``)."""
_QUANTITY_KEYS = {"quantity"}
_TEXT_KEYS = {"lot_id", "term", "sold_lot_id", "sold_account_id", "sold_security_id"}
_TEXT_KEYS |= {"account_id", "security_id", "source"}


def _formatted(name: str, keys: tuple[str, ...]) -> pl.Expr:
    """A list-of-structs column with every field as results.json text: money to cents, dates
    ISO, quantities trimmed; an empty list where the trade has none."""
    el = pl.element().struct

    def field(k: str) -> pl.Expr:
        f = el.field(k)
        if k in _TEXT_KEYS:
            return f.alias(k)
        if k.endswith("date"):
            return f.cast(pl.String).alias(k)
        if k in _QUANTITY_KEYS:
            return _trim(f, 0).alias(k)
        return _s(f, MONEY_OUT).alias(k)

    return (
        pl.col(name)
        .list.eval(pl.struct(*(field(k) for k in keys)))
        .fill_null(pl.lit([], pl.List(pl.Struct({k: pl.String for k in keys}))))
        .alias(name)
    )


def _lot_detail(t: pl.DataFrame) -> list[pl.Expr]:
    """``lots`` and ``wash_sale_replacements`` as results.json wants them (empty lists when the
    proposal carries no lot detail)."""
    out = []
    for name, keys in (("lots", LOT_KEYS), ("wash_sale_replacements", REPLACEMENT_KEYS)):
        if name in t.columns:
            out.append(_formatted(name, keys))
        else:
            empty = pl.List(pl.Struct({k: pl.String for k in keys}))
            out.append(pl.lit([], empty).alias(name))
    return out


def flow_rows(c: Computed) -> dict[str, dict[str, str]]:
    """Per portfolio with cash flows: what they alone do to total drift, in basis points
    (``post_trade.flow_effect``)."""
    if c.proposal is None or c.proposal.flow_effect is None:
        return {}
    bp = [
        _s(pl.col(f"drift_{k}") * 10_000, BP_OUT).alias(f"drift_{k}_bp")
        for k in ("before", "after_flows", "after_trades")
    ]
    removed = (pl.col("drift_before") - pl.col("drift_after_flows")) * 10_000
    frame = c.proposal.flow_effect.select(
        "portfolio_id",
        _s(pl.col("planned"), MONEY_OUT).alias("planned"),
        *bp,
        _s(removed, BP_OUT).alias("removed_by_flows_bp"),
    )
    return {r.pop("portfolio_id"): r for r in frame.to_dicts()}


TAX_BUDGET_KEYS = (
    "year",
    "max_net_gain",
    "ytd_short_term",
    "ytd_long_term",
    "ytd_net",
    "ytd_unknown_cost_sales",
    "proposed_short_term",
    "proposed_long_term",
    "proposed_net",
    "net_realised",
    "used_pct",
    "remaining",
    "state_rate",
    "short_term_rate",
    "long_term_rate",
    "loss_carryforward",
    "carryforward_applied",
    "taxable_short_term",
    "taxable_long_term",
    "loss_deducted",
    "loss_carried_forward",
    "estimated_tax_ytd",
    "estimated_tax_proposal",
    "estimated_tax",
)
"""The keys of a ``tax_budget`` entry (``trading.gains_budget.summary``), in order."""


def tax_budget_rows(c: Computed) -> dict[str, dict[str, Any]]:
    """Per portfolio whose IPS sets a gains budget, a state rate or a loss carry-forward: the
    budget used and the year's tax estimate (``trading.gains_budget.summary``): money to
    cents, rates to six decimals, ``used_pct`` in percent to two."""
    frame = None if c.proposal is None else c.proposal.tax_budget
    if frame is None or frame.is_empty():
        return {}
    plain = {"year", "ytd_unknown_cost_sales"}
    rates = {"state_rate", "short_term_rate", "long_term_rate"}
    fields = {
        k: pl.col(k)
        if k in plain
        else _s(pl.col(k), WEIGHT_OUT)
        if k in rates
        else _s(pl.col("used") * 100, BP_OUT)
        if k == "used_pct"
        else _s(pl.col(k), MONEY_OUT)
        for k in TAX_BUDGET_KEYS
    }
    out = frame.select("portfolio_id", *(e.alias(k) for k, e in fields.items()))
    return {r.pop("portfolio_id"): r for r in out.to_dicts()}


HARVEST_KEYS = ("losses_harvested", "short_term_loss", "long_term_loss", "tax_saved", "trades")
"""The keys of a ``harvest`` entry (``trading.harvest.summary``), in order."""


def harvest_rows(c: Computed) -> dict[str, dict[str, Any]]:
    """Per portfolio whose IPS sets ``tax.harvest``: the loss harvested and the tax saved
    (``trading.harvest.summary``), money to cents."""
    frame = None if c.proposal is None else c.proposal.harvest
    if frame is None or frame.is_empty():
        return {}
    fields = {k: pl.col(k) if k == "trades" else _s(pl.col(k), MONEY_OUT) for k in HARVEST_KEYS}
    out = frame.select("portfolio_id", *(e.alias(k) for k, e in fields.items()))
    return {r.pop("portfolio_id"): r for r in out.to_dicts()}


def _grouped(frame: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Rows by portfolio id (the frame sorted by it), each row without its portfolio id."""
    columns = [c for c in frame.columns if c != "portfolio_id"]
    pids = frame["portfolio_id"].to_list()
    rows = zip(*(frame[c].to_list() for c in columns), strict=True)  # column-wise: faster
    out: dict[str, list[dict[str, Any]]] = {}
    for pid, group in groupby(zip(pids, rows, strict=True), key=itemgetter(0)):
        out[pid] = [dict(zip(columns, row, strict=True)) for _, row in group]
    return out


def portfolio_entries(
    c: Computed,
    *,
    kind: str = "quarterly_review",
    performance: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One results.json entry per portfolio, in portfolio id order (``performance``: each
    portfolio's entry from ``ballast.reporting.performance.compute``, null when absent)."""
    classes = _grouped(class_rows(c).sort("portfolio_id", maintain_order=True))
    trades = _grouped(trade_rows(c).sort("portfolio_id", maintain_order=True))
    errors = _grouped(c.errors.sort("portfolio_id", maintain_order=True))
    warnings = _grouped(c.warnings.sort("portfolio_id", maintain_order=True))
    checks = _grouped(c.checks.sort("portfolio_id", maintain_order=True))
    flows = flow_rows(c)
    budgets = tax_budget_rows(c)
    harvests = harvest_rows(c)
    totals = dict(
        c.allocation.group_by("portfolio_id")
        .agg(_s(pl.col("total_value").first(), MONEY_OUT))
        .iter_rows()
    )
    currency = {p.id: p.base_currency for p in c.policies.policies}
    policies = {p.id: p for p in c.policies.policies}
    out = []
    for pid in c.policies.ids:
        errs = [e["message"] for e in errors.get(pid, [])]
        cls = [] if errs else classes.get(pid, [])
        breached = any(r["breached"] for r in cls)
        entry = {
            "portfolio_id": pid,
            "status": "data_invalid" if errs else "ok",
            "errors": errs,
            "base_currency": currency.get(pid),
            "total_value": None if errs else totals.get(pid),
            "breached": breached,
            "action": "rebalance"
            if breached or (trades.get(pid) and kind != "monitor")
            else "none",
            "asset_classes": cls,
            "trades": [] if errs or kind == "monitor" else trades.get(pid, []),
            "cash_flows": None if errs else flows.get(pid),
            "tax_budget": None if errs or kind == "monitor" else budgets.get(pid),
            "warnings": [w["message"] for w in warnings.get(pid, [])],
            "checks": checks.get(pid, []),
            "model": _model(policies.get(pid)),
            "accounts": [
                {"id": a.id, "tax_status": a.tax_status.value} for a in policies[pid].accounts
            ]
            if pid in policies
            else [],
            "performance": None if errs else (performance or {}).get(pid),
        }
        if pid in policies and policies[pid].tax.harvest is not None:
            # only for the IPS that opt in: every other entry is as before
            entry["harvest"] = None if errs or kind == "monitor" else harvests.get(pid)
        out.append(entry)
    return out


def _model(policy: Any) -> dict[str, str] | None:
    """The model portfolio an IPS took its classes from (``model:``): id, name, full SHA-256."""
    ref = getattr(policy, "model", None)
    return None if ref is None else {"id": ref.id, "name": ref.name, "sha256": ref.sha256}
