"""The canonical custodian file kinds: their columns and types, one definition for all stages.

A file's kind is recognised from its header (the set of required columns), never its name.
The parser, the DuckDB schema (``sql/schema/``) and the GX suites (``expectations/``) all follow
these definitions; ``tests/warehouse/test_schema_agreement.py`` checks that they agree.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
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


# --- identifiers and text ---------------------------------------------------------------------
# One rule for every identifier ballast reads (custodian files, the security master, IPS files),
# so that an id is one visible line everywhere it is printed (docs/file-formats.md, "Identifiers").

ID_MAX_LENGTH = 64
ID_PUNCTUATION = " .-_/:#&+()'*@"
"""Besides letters and digits (any script), the characters an identifier may hold."""
IDENTIFIER_COLUMNS = frozenset(
    {"account_id", "security_id", "transaction_id", "lot_id", "identical_group", "isin", "cusip"}
)
ID_REGEX = "^[\\p{L}\\p{N}" + re.escape(ID_PUNCTUATION).replace("\\ ", " ") + "]+$"
"""The allowed characters as a Rust/Polars regular expression (length and spaces apart)."""
HIDDEN_TEXT_REGEX = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"
"""Characters no text cell may hold: controls (line breaks, tabs, escapes), format characters
(bidi marks and overrides, zero-width characters) and line or paragraph separators."""
_HIDDEN_TEXT = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
PORTFOLIO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A portfolio id (the IPS file name): ASCII letters, digits, ``.``, ``_``, ``-``, at most 64
characters, beginning with a letter or digit (so never ``..`` or a hidden name)."""


_CATEGORY = {"Cc": "a control character", "Cs": "a surrogate", "Cn": "an unassigned code point"}


DERIVED_TRANSACTION_ID = r"^[A-Z]+-[0-9a-f]{16}-[0-9]+$"
"""The form of a transaction id ballast derives when the custodian's file gives none
(``derived_transaction_id``); any other id is the custodian's own."""


def derived_transaction_id(prefix: str, content: str, rank: int) -> str:
    """``<PREFIX>-<16 hex digits of SHA-256 of content>-<rank among identical rows>``: stable
    across exports and row order, and recognisably not a custodian's id."""
    return f"{prefix}-{hashlib.sha256(content.encode()).hexdigest()[:16]}-{rank}"


def character(ch: str) -> str:
    """One character for a message: ``U+202E RIGHT-TO-LEFT OVERRIDE``, ``U+000A (a control
    character)``, ``';'``."""
    if ch.isprintable() and ch != " ":
        return repr(ch)
    name = unicodedata.name(ch, "")
    category = unicodedata.category(ch)
    return f"U+{ord(ch):04X} " + (name or f"({_CATEGORY.get(category, category)})")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be a text cell (a character from ``HIDDEN_TEXT_REGEX``), or None."""
    if value.isprintable():
        return None
    for ch in value:
        if unicodedata.category(ch) in _HIDDEN_TEXT:
            return f"contains {character(ch)}, which text may not hold"
    return None


def identifier_problem(value: str) -> str | None:
    """Why ``value`` is not an identifier (account, security, transaction, lot id), or None:
    1 to ``ID_MAX_LENGTH`` letters, digits and ``ID_PUNCTUATION``, no space at either end."""
    if not value:
        return "is empty"
    if len(value) > ID_MAX_LENGTH:
        return f"is {len(value):,} characters long, more than {ID_MAX_LENGTH}"
    for ch in value:
        if unicodedata.category(ch)[0] not in "LN" and ch not in ID_PUNCTUATION:
            return f"contains {character(ch)}, which an identifier may not hold"
    if value[0] == " " or value[-1] == " ":
        return "begins or ends with a space"
    return None


def portfolio_id_problem(value: str) -> str | None:
    """Why ``value`` is not a portfolio id (``PORTFOLIO_ID``), or None."""
    if PORTFOLIO_ID.fullmatch(value):
        return None
    if len(value) > ID_MAX_LENGTH:
        return f"is {len(value):,} characters long, more than {ID_MAX_LENGTH}"
    bad = next((ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "._-"))), None)
    if bad is not None:
        return f"contains {character(bad)}; a portfolio id holds only A-Z, a-z, 0-9, '.', '_', '-'"
    return "must begin with a letter or a digit"
