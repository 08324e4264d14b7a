"""Writers of the custodian layouts ballast reads, for the round-trip property tests.

Written for ballast from docs/adapters.md (no custodian export is copied). The tests generate
the truth (holdings and transactions), write it the way the custodian does with the writers
here, and write the same truth as ballast's canonical files with ``canonical_files``; the two
must reach the same warehouse state. Formatting choices (thousands separators, ``($1.00)`` or
``-$1.00``, date styles, optional attributes) come from a ``random.Random`` the test draws.
"""

from __future__ import annotations

import csv
import io
import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from ballast.kinds import ALL_KINDS, CASH_SECURITY

# --- the truth ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Security:
    """One security master row."""

    security_id: str
    symbol: str
    name: str
    isin: str | None = None
    cusip: str | None = None


@dataclass(frozen=True)
class Holding:
    """A position as the canonical positions file states it (``price`` per unit)."""

    account: str
    security: Security
    quantity: Decimal
    price: Decimal
    market_value: Decimal
    section: str = "Stocks"


@dataclass(frozen=True)
class Txn:
    """A transaction: ``action`` as the custodian names it, ``type`` the canonical type.

    ``quantity`` and ``amount`` are signed as the layout writes them; None is an empty cell.
    """

    account: str
    trade_date: date
    action: str
    type: str
    security: Security | None
    quantity: Decimal | None
    amount: Decimal | None
    currency: str = "USD"
    as_of: date | None = None  # Schwab's "MM/DD/YYYY as of MM/DD/YYYY"
    price: Decimal | None = None
    ident: str | None = None  # IBKR transactionID (None: not in the file)


def q(value: Decimal, places: int) -> Decimal:
    """``value`` rounded half-even to ``places`` decimals."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def plain(value: Decimal) -> str:
    """A decimal as digits, never in exponent form."""
    return format(value, "f")


def _grouped(value: Decimal, rnd: random.Random) -> str:
    return format(value, ",f") if rnd.random() < 0.5 else plain(value)


def dollars(value: Decimal, rnd: random.Random) -> str:
    """``$1,234.50``; negatives as ``-$1,234.50`` or ``($1,234.50)``."""
    body = "$" + _grouped(abs(value), rnd)
    if value >= 0:
        return body
    return f"({body})" if rnd.random() < 0.5 else "-" + body


def mdy(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def _csv(rows: Iterable[Iterable[str]], quote_all: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(
        buf, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    writer.writerows(rows)
    return buf.getvalue()


# --- canonical files ---------------------------------------------------------------------------


def securities_csv(securities: Iterable[Security]) -> str:
    """``reference/securities.csv`` for ``securities``."""
    header = ["security_id", "symbol", "name", "asset_class", "identical_group", "isin", "cusip"]
    rows = [
        [s.security_id, s.symbol, s.name, "equity", "", s.isin or "", s.cusip or ""]
        for s in securities
    ]
    return _csv([header, *rows])


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def canonical_csv(kind: str, rows: list[dict]) -> str:
    """A canonical file of ``kind``: the kind's columns, plus optional ones the rows fill."""
    k = ALL_KINDS[kind]
    columns = list(k.columns) + [c for c in k.optional or {} if any(r.get(c) for r in rows)]
    return _csv([columns, *([_cell(r.get(c)) for c in columns] for r in rows)])


def canonical_files(tables: dict[str, list[dict]]) -> dict[str, bytes]:
    """One canonical file per non-empty table."""
    return {
        f"{kind}.csv": canonical_csv(kind, rows).encode() for kind, rows in tables.items() if rows
    }


def position_row(h: Holding, as_of: date, currency: str = "USD", short: bool = False) -> dict:
    return {
        "as_of_date": as_of,
        "account_id": h.account,
        "security_id": h.security.security_id,
        "quantity": h.quantity,
        "price": h.price,
        "market_value": h.market_value,
        "currency": currency,
        "short": "true" if short else None,
    }


def cash_row(account: str, as_of: date, amount: Decimal, currency: str = "USD") -> dict:
    return {
        "as_of_date": as_of,
        "account_id": account,
        "security_id": CASH_SECURITY,
        "quantity": amount,
        "price": Decimal(1),
        "market_value": amount,
        "currency": currency,
    }


def transaction_row(t: Txn, ident: str) -> dict:
    return {
        "transaction_id": ident,
        "trade_date": t.trade_date,
        "account_id": t.account,
        "security_id": t.security.security_id if t.security else CASH_SECURITY,
        "type": t.type,
        "quantity": abs(t.quantity) if t.quantity is not None else Decimal(0),
        "amount": q(t.amount, 4) if t.amount is not None else Decimal(0),
        "currency": t.currency,
    }


def transaction_rows(txns: Iterable[Txn]) -> list[dict]:
    """Canonical rows; ids are placeholders where the layout has none (tests then skip them)."""
    return [transaction_row(t, f"IB-{t.ident}" if t.ident else f"T{i}") for i, t in enumerate(txns)]


def _columns(text: str) -> list[str]:
    return text.split(",")


FIDELITY_SUMMARY = _columns(
    "Account Type,Account,Beginning mkt Value,Change in Investment,Ending mkt Value,"
    "Short Balance,Ending Net Value"
)

FIDELITY_SINGLE = _columns(
    "Run Date,Action,Symbol,Security Description,Security Type,Quantity,Price ($),"
    "Commission ($),Fees ($),Accrued Interest ($),Amount ($),Settlement Date"
)

FIDELITY_ACCOUNTS = _columns(
    "Run Date,Account,Account Number,Action,Symbol,Description,Type,Price ($),"
    "Quantity,Commission ($),Fees ($),Accrued Interest ($),Amount ($),"
    "Settlement Date"
)

FIDELITY_CURRENCY = _columns(
    "Run Date,Account,Account Number,Action,Symbol,Description,Type,"
    "Exchange Quantity,Exchange Currency,Currency,Price,Quantity,Exchange Rate,"
    "Commission,Fees,Accrued Interest,Amount,Settlement Date"
)


# --- Schwab ------------------------------------------------------------------------------------

SCHWAB_CASH = "Cash & Cash Investments"


def schwab_positions(
    account: str, as_of: date, holdings: list[Holding], cash: Decimal | None, rnd: random.Random
) -> str:
    """A Schwab "Balances for account" export: sections, each repeating the header; the column
    headed "Price" holds the market value; a cash row and an "Account Total" row."""
    header = ["Symbol", "Description", "Quantity", "Price"]
    title = rnd.choice(["Balances  for account", "Positions for account"])
    rows: list[list[str]] = [[f"{title} {account} as of {mdy(as_of)}"]]
    sections: dict[str, list[Holding]] = {}
    for h in holdings:
        sections.setdefault(h.section, []).append(h)
    for section, members in sections.items():
        rows += [[section], header]
        rows += [
            [
                h.security.symbol,
                h.security.name,
                _grouped(h.quantity, rnd),
                dollars(h.market_value, rnd),
            ]
            for h in members
        ]
        rows.append([])
    total = sum((h.market_value for h in holdings), Decimal(0))
    if cash is not None:
        rows += [[SCHWAB_CASH], header, [SCHWAB_CASH, "--", "--", dollars(cash, rnd)], []]
        total += cash
    rows.append(["Account Total", "--", "--", dollars(total, rnd)])
    return _csv(rows, quote_all=True)


def schwab_transactions(account: str, as_of: date, txns: list[Txn], rnd: random.Random) -> str:
    """A Schwab "Transactions for account" export with its "Transactions Total" row."""
    rows: list[list[str]] = [
        [f"Transactions  for account {account} as of {mdy(as_of)} 04:12:45 PM ET"],
        ["Date", "Action", "Symbol", "Description", "Quantity", "Price", "Fees & Comm", "Amount"],
    ]
    for t in txns:
        when = mdy(t.trade_date) + (f" as of {mdy(t.as_of)}" if t.as_of else "")
        rows.append(
            [
                when,
                t.action,
                t.security.symbol if t.security else "",
                t.security.name if t.security else "BANK INT SCHWAB BANK",
                _grouped(t.quantity, rnd) if t.quantity is not None else "",
                dollars(t.price, rnd) if t.price is not None else "",
                rnd.choice(["", "$0.01"]) if t.type in ("BUY", "SELL") else "",
                dollars(t.amount, rnd) if t.amount is not None else "",
            ]
        )
    total = sum((t.amount or Decimal(0) for t in txns), Decimal(0))
    rows.append(["Transactions Total", "", "", "", "", "", "", dollars(total, rnd)])
    return _csv(rows, quote_all=True)


# --- Fidelity ----------------------------------------------------------------------------------


def _fid_number(value: Decimal, places: int, rnd: random.Random) -> str:
    """Fidelity pads to a minimum of decimals (``800.000``, ``126.02500``)."""
    shown = value if -value.as_tuple().exponent >= places else q(value, places)  # type: ignore[operator]
    return _grouped(shown, rnd)


def fidelity_symbol(s: Security) -> str:
    """Fidelity lists bonds and CDs by CUSIP, the same way in every row: here about half of the
    securities that have a CUSIP."""
    return s.cusip if s.cusip and zlib.crc32(s.cusip.encode()) % 2 else s.symbol


def fidelity_positions(
    accounts: dict[str, tuple[list[Holding], list[tuple[str, Decimal]]]],
    downloaded: date | None,
    rnd: random.Random,
) -> str:
    """A Fidelity statement export: the account summary block, then holdings under
    ``Symbol/CUSIP,...`` grouped by account-number lines and sections, each with its subtotal;
    the sweep money-market funds under ``Core Account``. ``accounts`` maps an account number to
    its holdings and its core funds (symbol, amount)."""
    summary = FIDELITY_SUMMARY
    rows: list[list[str]] = [summary]
    for number, (holdings, core) in accounts.items():
        value = sum((h.market_value for h in holdings), Decimal(0)) + sum(
            (a for _, a in core), Decimal(0)
        )
        rows.append(["Family Trust", number, "0.", "0", plain(value), "", plain(value)])
    rows += [[" "], []]
    rows += [
        [
            "Symbol/CUSIP",
            "Description",
            "Quantity",
            "Price",
            "Beginning Value",
            "Ending Value",
            "Cost Basis",
        ],
        [" "],
        [],
    ]
    for number, (holdings, core) in accounts.items():
        sections: dict[str, list[Holding]] = {}
        for h in holdings:
            sections.setdefault(h.section, []).append(h)
        for section, members in sections.items():
            rows += [[number], [section + " "], []]
            for h in members:
                ident = fidelity_symbol(h.security)
                rows.append(
                    [
                        ident,
                        h.security.name,
                        _fid_number(h.quantity, 3, rnd),
                        _fid_number(h.price, 5, rnd),
                        rnd.choice(["not applicable", "--", plain(h.market_value)]),
                        _fid_number(h.market_value, 2, rnd),
                        rnd.choice(["not applicable", _grouped(h.market_value, rnd)]),
                    ]
                )
            sub = sum((h.market_value for h in members), Decimal(0))
            rows += [[f"Subtotal of {section}", "", "", "", "", plain(sub), "", "", "", ""], []]
        if core:
            rows += [[number], ["Core Account "]]
            for symbol, amount in core:
                money = _fid_number(amount, 2, rnd)
                rows.append(
                    [
                        symbol,
                        "GOVERNMENT MONEY MARKET",
                        money,
                        "1.00000",
                        money,
                        money,
                        "not applicable",
                    ]
                )
            sub = sum((a for _, a in core), Decimal(0))
            rows += [["Subtotal of Core Account", "", "", "", "", plain(sub), "", "", "", ""], []]
    if downloaded is not None:
        rows += [[], [f"Date downloaded {mdy(downloaded)} 5:02 pm"]]
    return _csv(rows)


FIDELITY_DISCLAIMER = [
    ["Disclaimer: test data written for ballast, not provided by any custodian."],
    ["It follows the layout of an account history export, footer lines included."],
]


def fidelity_history(txns: list[Txn], variant: str, downloaded: date, rnd: random.Random) -> str:
    """A Fidelity account history export in one of its variants: ``accounts`` (Account Number
    column, ``Amount ($)``), ``single`` (one account, named by the file, blank comma rows around
    the table) or ``currency`` (``Currency`` and ``Amount`` columns)."""
    if variant == "single":
        header = FIDELITY_SINGLE
    elif variant == "accounts":
        header = FIDELITY_ACCOUNTS
    else:
        header = FIDELITY_CURRENCY
    blank = [""] * len(header)
    rows: list[list[str]] = [blank] * (5 if variant == "single" else 0) + [header]
    for t in txns:
        symbol = rnd.choice(["", " ", "  "])
        if t.security:
            symbol = fidelity_symbol(t.security)
        cells = {
            "Run Date": mdy(t.trade_date),
            "Account": "Family Trust",
            "Account Number": t.account,
            "Action": rnd.choice(["", " "]) + t.action,
            "Symbol": symbol,
            "Description": t.security.name if t.security else "No Description",
            "Security Description": t.security.name if t.security else "No Description",
            "Type": "Cash",
            "Security Type": "Cash",
            "Currency": t.currency,
            "Exchange Quantity": "0",
            "Exchange Rate": "0",
            "Quantity": plain(t.quantity) if t.quantity is not None else "0.000",
            "Price ($)": plain(t.price) if t.price is not None else "",
            "Price": plain(t.price) if t.price is not None else "",
            "Amount ($)": plain(t.amount) if t.amount is not None else "",
            "Amount": plain(t.amount) if t.amount is not None else "",
        }
        rows.append([cells.get(h, "") for h in header])

    def pad(row: list[str]) -> list[str]:  # the single-account export pads every row
        return row + [""] * (len(header) - len(row)) if variant == "single" else row

    rows += [blank] * (5 if variant == "single" else 3)
    rows += [pad(r) for r in FIDELITY_DISCLAIMER]
    rows += [pad([]), pad([f"Date downloaded {mdy(downloaded)} 10:28 am"])]
    return _csv(rows)


# --- Interactive Brokers Flex XML --------------------------------------------------------------
