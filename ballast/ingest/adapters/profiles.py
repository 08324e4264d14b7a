"""Declarative profiles of the retail CSV exports: what ``csv_profile`` needs to read each one.

A profile says how to recognise a format (regexes that must all match the file's first bytes),
which line is the header (the first that holds all ``header`` columns; title lines above it are
skipped), which source column feeds each canonical field, the date format, which rows are not
data (totals, subtotals, footers), where the account and the as-of date come from, which rows
are cash, whether the column headed "Price" really holds market value, and how transaction
actions map to canonical types. Adding a layout means adding a profile, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Where = Literal["first_line", "text", "name"]

# Action rule targets besides the canonical types: sign-dependent mappings.
FLOW = "FLOW"  # amount > 0: CONTRIBUTION, else WITHDRAWAL
BY_QUANTITY = "BY_QUANTITY"  # quantity > 0: BUY, else SELL (corporate actions, redemptions)


@dataclass(frozen=True)
class Pick:
    """A value found by a regex (its first group) in the first line, the whole text or the name."""

    where: Where
    pattern: str
    date_format: str | None = None  # set for dates


@dataclass(frozen=True)
class CsvProfile:
    """One CSV layout of one custodian."""

    name: str
    kind: Literal["positions", "transactions"]
    markers: tuple[str, ...]  # regexes (multi-line, case-insensitive), all found in the head
    header: tuple[str, ...]  # columns the header line must contain (case-insensitive)
    columns: dict[str, tuple[str, ...]]  # canonical role -> source column names, first found
    date_format: str = "%m/%d/%Y"  # "04/17/2023 as of 04/15/2023": the first date is used
    skip_rows: str = r"^$"  # regex on the first field: totals, subtotals, footers
    null_values: tuple[str, ...] = ("", "--", "n/a", "na", "not applicable", "none")
    as_of: tuple[Pick, ...] = ()  # positions: where the as-of date is
    account: tuple[Pick, ...] = ()  # when no account column: where the account is
    account_line: str | None = None  # a title line that names the account of the rows below
    price_is_market_value: bool = False  # the column mapped to "price" holds market value
    symbol_may_be_cusip: bool = False  # the symbol column also holds CUSIPs (bonds)
    cash_symbols: str | None = None  # regex on the symbol: the row is a cash balance
    cash_sections: str | None = None  # regex on the section title: its rows are cash
    currency: str = "USD"  # when no currency column
    actions: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (regex, type), ordered
    id_prefix: str = ""


SCHWAB_POSITIONS = CsvProfile(
    name="schwab_positions",
    kind="positions",
    markers=(
        r"\A\W*(Balances|Positions)\s+for\s+account\s.+\sas\s+of\s",
        r'^"?Symbol"?,"?Description"?,"?Quantity"?,"?Price"?',
    ),
    header=("symbol", "description", "quantity", "price"),
    columns={"symbol": ("Symbol",), "quantity": ("Quantity",), "price": ("Price",)},
    skip_rows=r"(?i)^(account total|total|.*\btotals?)$",
    as_of=(Pick("first_line", r"as\s+of\s+(\d{1,2}/\d{1,2}/\d{4})", "%m/%d/%Y"),),
    account=(Pick("first_line", r"for\s+account\s+(.+?)\s+as\s+of\s"),),
    price_is_market_value=True,  # Schwab's "Price" column is the position's market value
    cash_symbols=r"(?i)^cash( & cash investments)?$",
    id_prefix="SCHWAB",
)

SCHWAB_TRANSACTIONS = CsvProfile(
    name="schwab_transactions",
    kind="transactions",
    markers=(
        r"\A\W*Transactions\s+for\s+account\s",
        r'^"?Date"?,"?Action"?,"?Symbol"?,"?Description"?,"?Quantity"?,"?Price"?',
    ),
    header=("date", "action", "symbol", "quantity", "amount"),
    columns={
        "date": ("Date",),
        "action": ("Action",),
        "symbol": ("Symbol",),
        "quantity": ("Quantity",),
        "amount": ("Amount",),
    },
    skip_rows=r"(?i)^(transactions total|total)$",
    account=(Pick("first_line", r"for\s+account\s+(.+?)\s+as\s+of\s"),),
    actions=(
        (r"^reinvest shares$", "REINVEST"),
        (r"^buy", "BUY"),
        (r"^sell", "SELL"),
        (r"div|^reinvest dividend$|^cash in lieu|cap gain", "DIVIDEND"),  # and distributions
        (r"tax|withholding", "DIVIDEND"),  # withholding on income: a negative dividend
        (r"interest", "INTEREST"),
        (r"fee|^margin", "FEE"),
        (r"^journal|^moneylink|^wire|^funds|transfer|deposit|withdraw", FLOW),
        (r"^(stock split|reverse split|spin-off|stock merger|merger|reorg)", BY_QUANTITY),
    ),
    id_prefix="SCHWAB",
)

FIDELITY_POSITIONS = CsvProfile(
    name="fidelity_positions",
    kind="positions",
    markers=(r"^Symbol/CUSIP,Description,Quantity,Price,Beginning Value,Ending Value",),
    header=("symbol/cusip", "quantity", "price", "ending value"),
    columns={
        "symbol": ("Symbol/CUSIP",),
        "quantity": ("Quantity",),
        "price": ("Price",),
        "market_value": ("Ending Value",),
    },
    skip_rows=r"(?i)^(subtotal of .*|total.*)$",
    as_of=(
        Pick("name", r"Statement(\d{8})", "%m%d%Y"),
        Pick("text", r"Date downloaded\s+(\d{1,2}/\d{1,2}/\d{4})", "%m/%d/%Y"),
    ),
    account_line=r"^[A-Z]{0,3}\d{5,}$",  # the account number above each section
    symbol_may_be_cusip=True,
    cash_sections=r"(?i)^core account$",  # the sweep money-market fund is the cash balance
    id_prefix="FIDELITY",
)

FIDELITY_TRANSACTIONS = CsvProfile(
    name="fidelity_transactions",
    kind="transactions",
    markers=(r"^Run Date,(.*,)?Action,Symbol,(.*,)?Amount( \(\$\))?,",),
    header=("run date", "action", "symbol", "quantity"),
    columns={
        "date": ("Run Date",),
        "action": ("Action",),
        "symbol": ("Symbol",),
        "quantity": ("Quantity",),
        "amount": ("Amount ($)", "Amount"),
        "account": ("Account Number",),
        "currency": ("Currency",),
    },
    skip_rows=r"(?i)^(date downloaded.*|total.*)$",
    account=(Pick("name", r"History_for_Account_([A-Za-z0-9]+)"),),
    symbol_may_be_cusip=True,
    actions=(
        (r"^reinvestment", "REINVEST"),
        (r"^you bought", "BUY"),
        (r"^you sold|^redemption", "SELL"),
        (r"^dividend received|^short-term cap gain|^long-term cap gain", "DIVIDEND"),
        (r"^(non-resident tax|foreign tax)", "DIVIDEND"),  # withholding: a negative dividend
        (r"^interest earned|^muni exempt int|^interest", "INTEREST"),
        (r"^(direct deposit|direct debit|transferred|check|electronic funds|wire)", FLOW),
        (r"^(merger|distribution|exchanged|conversion)", BY_QUANTITY),
        (r"fee", "FEE"),  # last: actions quote security names ("MERGER ... COFFEE HOLDING")
    ),
    id_prefix="FIDELITY",
)
