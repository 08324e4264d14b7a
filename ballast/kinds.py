"""The canonical custodian file kinds: their columns and types, one definition for all stages.

A file's kind is recognised from its header (the set of required columns), never its name.
The parser, the DuckDB schema (``sql/schema/``) and the GX suites (``expectations/``) all follow
these definitions; ``tests/warehouse/test_schema_agreement.py`` checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl


class ColType(StrEnum):
    """How a column's text is parsed."""

    TEXT = "text"
    DATE = "date"
    QUANTITY = "quantity"  # DECIMAL(18,6)
    PRICE = "price"  # DECIMAL(18,6)
    MONEY = "money"  # DECIMAL(18,4): custodian amounts are kept at four decimals


POLARS_TYPES: dict[ColType, pl.DataType] = {
    ColType.TEXT: pl.String(),
    ColType.DATE: pl.Date(),
    ColType.QUANTITY: pl.Decimal(18, 6),
    ColType.PRICE: pl.Decimal(18, 6),
    ColType.MONEY: pl.Decimal(18, 4),
}

SQL_TYPES: dict[ColType, str] = {
    ColType.TEXT: "varchar",
    ColType.DATE: "date",
    ColType.QUANTITY: "decimal(18,6)",
    ColType.PRICE: "decimal(18,6)",
    ColType.MONEY: "decimal(18,4)",
}


@dataclass(frozen=True)
class Kind:
    """One canonical file kind."""

    name: str
    columns: dict[str, ColType]
    key: tuple[str, ...]  # columns that identify a row uniquely within a file
    optional: dict[str, ColType] | None = None

    @property
    def all_columns(self) -> dict[str, ColType]:
        return {**self.columns, **(self.optional or {})}


T, D, Q, P, M = ColType.TEXT, ColType.DATE, ColType.QUANTITY, ColType.PRICE, ColType.MONEY

POSITIONS = Kind(
    "positions",
    {
        "as_of_date": D,
        "account_id": T,
        "security_id": T,
        "quantity": Q,
        "price": P,
        "market_value": M,
        "currency": T,
    },
    key=("as_of_date", "account_id", "security_id"),
    optional={"short": T},  # "true" declares a short position (negative quantity)
)
LOTS = Kind(
    "lots",
    {
        "as_of_date": D,
        "account_id": T,
        "security_id": T,
        "lot_id": T,
        "acquired_date": D,
        "quantity": Q,
        "cost_basis": M,
    },
    key=("as_of_date", "account_id", "security_id", "lot_id"),
    optional={"short": T},
)
TRANSACTIONS = Kind(
    "transactions",
    {
        "transaction_id": T,
        "trade_date": D,
        "account_id": T,
        "security_id": T,
        "type": T,
        "quantity": Q,
        "amount": M,
        "currency": T,
    },
    key=("transaction_id",),
)
CASH_FLOWS = Kind(
    "cash_flows",
    {"account_id": T, "effective_date": D, "amount": M, "currency": T, "description": T},
    key=(),
)
PRICES = Kind(
    "prices",
    {"as_of_date": D, "security_id": T, "price": P, "currency": T},
    key=("as_of_date", "security_id"),
)
SECURITIES = Kind(
    "securities",
    {"security_id": T, "symbol": T, "name": T, "asset_class": T, "identical_group": T},
    key=("security_id",),
    optional={"isin": T, "cusip": T},
)

FX_RATES = Kind(
    "fx_rates",
    # one unit of ``currency`` is worth ``rate`` units of ``quote_currency`` on ``as_of_date``
    {"as_of_date": D, "currency": T, "quote_currency": T, "rate": P},
    key=("as_of_date", "currency", "quote_currency"),
)

CUSTODIAN_KINDS: tuple[Kind, ...] = (POSITIONS, LOTS, TRANSACTIONS, CASH_FLOWS, PRICES, FX_RATES)
ALL_KINDS: dict[str, Kind] = {k.name: k for k in (*CUSTODIAN_KINDS, SECURITIES)}

TRANSACTION_TYPES = (
    "BUY",
    "SELL",
    "DIVIDEND",
    "INTEREST",
    "CONTRIBUTION",
    "WITHDRAWAL",
    "FEE",
    "REINVEST",
)
CASH_SECURITY = "CASH"
CASH_CLASS = "cash"


def detect_kind(header: list[str]) -> tuple[Kind, list[str]]:
    """The kind whose columns the header shares most of, and its required columns it lacks."""
    cols = {c.strip().lower() for c in header}
    best = max(ALL_KINDS.values(), key=lambda k: (len(cols & set(k.columns)), -len(k.columns)))
    return best, [c for c in best.columns if c not in cols]
