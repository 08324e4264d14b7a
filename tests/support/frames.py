"""Small builders of the frames the portfolio maths takes, for tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from ballast.portfolio.policy import Policy
from ballast.trading.heuristic import propose
from ballast.trading.inputs import TradingInputs
from ballast.trading.proposal import Proposal

HOLDING_SCHEMA = {
    "portfolio_id": pl.String,
    "account_id": pl.String,
    "security_id": pl.String,
    "asset_class": pl.String,
    "quantity": pl.Decimal(18, 6),
    "price": pl.Decimal(18, 6),
    "market_value": pl.Decimal(18, 4),
    "tax_status": pl.String,
}


CANDIDATE_SCHEMA = {
    "base_currency": pl.String,
    "security_id": pl.String,
    "asset_class": pl.String,
    "price": pl.Decimal(18, 6),
}
"""Buy candidates (``inputs.buy_candidates``) as the engines read them; these tests' are USD."""


def policy(pid: str = "p1", **fields: Any) -> Policy:
    """A policy with sensible defaults; ``fields`` override the IPS keys."""
    raw: dict[str, Any] = {
        "id": pid,
        "name": pid,
        "accounts": [{"id": f"{pid}-A", "tax_status": "tax_exempt"}],
        "default_band": "500bp",
        "asset_classes": {"equity": {"target": "60%"}, "bonds": {"target": "40%"}},
    }
    raw.update(fields)
    return Policy.model_validate(raw)


def holdings(policies: list[Policy], rows: list[tuple]) -> pl.DataFrame:
    """Rows of (portfolio, account, security, class, quantity, price); value = q × p."""
    status = {a.id: a.tax_status.value for p in policies for a in p.accounts}
    data = [
        (
            pid,
            acct,
            sec,
            cls,
            Decimal(str(q)),
            Decimal(str(px)),
            Decimal(str(q)) * Decimal(str(px)),
            status[acct],
        )
        for pid, acct, sec, cls, q, px in rows
    ]
    return pl.DataFrame(data, orient="row", schema=HOLDING_SCHEMA)


def run(
    policies: list[Policy],
    rows: list[tuple],
    candidates: list[tuple] = (),
    flows: list[tuple] = (),
) -> tuple[pl.DataFrame, Proposal]:
    """Allocation and proposal for these holdings; candidates are (security, class, price),
    planned flows (portfolio, account, signed amount)."""
    h = holdings(policies, rows)
    alloc = allocation(h, pf.targets_frame(policies))
    cands = pl.DataFrame(
        [("USD", s, c, Decimal(str(p))) for s, c, p in candidates],
        orient="row",
        schema=CANDIDATE_SCHEMA,
    )
    planned = pl.DataFrame(
        [(p, a, Decimal(str(x))) for p, a, x in flows],
        orient="row",
        schema={"portfolio_id": pl.String, "account_id": pl.String, "planned": pl.Decimal(38, 12)},
    )
    prop = propose(
        TradingInputs(
            alloc,
            h,
            pf.settings_frame(policies),
            pf.accounts_frame(policies),
            cands,
            pf.restrictions_frame(policies),
            pf.costs_frame(policies),
            planned,
        )
    )
    return alloc, prop


def row(frame: pl.DataFrame, **match: Any) -> dict[str, Any]:
    """The single row of ``frame`` matching all ``match`` values."""
    sel = frame
    for k, v in match.items():
        sel = sel.filter(pl.col(k) == v)
    assert sel.height == 1, f"expected one row for {match}, got {sel.height}"
    return sel.row(0, named=True)


TX_SCHEMA = {
    "transaction_id": pl.String,
    "trade_date": pl.Date,
    "account_id": pl.String,
    "security_id": pl.String,
    "type": pl.String,
    "quantity": pl.Decimal(18, 6),
    "amount": pl.Decimal(18, 4),
    "currency": pl.String,
}
"""The transactions frame's columns, as the review reads them."""
