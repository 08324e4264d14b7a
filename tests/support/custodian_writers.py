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
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from xml.sax.saxutils import escape, quoteattr

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


@dataclass(frozen=True)
class FlexLot:
    quantity: Decimal
    cost_basis: Decimal
    opened: date
    raw_id: str  # originatingTransactionID (may repeat: the adapter numbers repeats -2, -3)


@dataclass(frozen=True)
class FlexPosition:
    security: Security
    currency: str
    quantity: Decimal
    mark: Decimal  # markPrice, up to 8 decimals
    multiplier: Decimal
    value: Decimal  # positionValue
    report_date: date | None  # None: no reportDate attribute (the statement's toDate applies)
    lots: tuple[FlexLot, ...] = ()


@dataclass(frozen=True)
class FlexStatement:
    account: str
    base: str
    explicit_base: bool  # an AccountInformation element names the base currency
    to_date: date
    positions: tuple[FlexPosition, ...]
    cash: Decimal | None  # BASE_SUMMARY endingCash (up to 8 decimals)
    trades: tuple[Txn, ...]
    cash_txns: tuple[Txn, ...]
    fx_trades: tuple[tuple[date, str], ...] = ()  # currency conversions (skipped by ballast)
    conversions: tuple[tuple[date, str], ...] = ()  # ConversionRate rows
    rates: dict[tuple[date, str], Decimal] = field(default_factory=dict)


def _ib_date(day: date, rnd: random.Random, time: bool = False) -> str:
    text = day.isoformat() if rnd.random() < 0.5 else day.strftime("%Y%m%d")
    if time:
        text += rnd.choice(["", ";202500", ";10:21:44", " 144528"])
    return text


def _attrs(values: dict[str, str | None]) -> str:
    return " ".join(f"{k}={quoteattr(v)}" for k, v in values.items() if v is not None)


def _ident(s: Security | None, rnd: random.Random) -> dict[str, str | None]:
    """IBKR writes every identifier it has; ballast maps isin, then cusip, then symbol."""
    if s is None:
        return {"assetCategory": "", "symbol": "", "description": "", "isin": "", "cusip": ""}
    return {
        "assetCategory": "STK",
        "symbol": s.symbol,
        "description": s.name,
        "conid": str(zlib.crc32(s.security_id.encode())),
        "isin": s.isin if s.isin and rnd.random() < 0.8 else "",
        "cusip": s.cusip if s.cusip and rnd.random() < 0.5 else "",
    }


def _rate(st: FlexStatement, day: date, currency: str) -> str:
    return "1" if currency == st.base else plain(st.rates[(day, currency)])


def _account(st: FlexStatement, rnd: random.Random) -> dict[str, str | None]:
    return {"accountId": st.account if rnd.random() < 0.8 else None}


def _statement_xml(st: FlexStatement, rnd: random.Random, shuffle: bool) -> list[str]:
    out = [
        f'<FlexStatement accountId={quoteattr(st.account)} fromDate="{st.to_date.year}-01-01" '
        f'toDate={quoteattr(_ib_date(st.to_date, rnd))} period="" '
        f'whenGenerated="20260125;120320">'
    ]
    if st.explicit_base:
        out.append(
            f"<AccountInformation accountId={quoteattr(st.account)} currency="
            f'{quoteattr(st.base)} name="Test &amp; Co" />'
        )
    if st.cash is not None:
        out.append("<CashReport>")
        for currency in ("BASE_SUMMARY", st.base):
            attrs = {
                "accountId": st.account,
                "fromDate": f"{st.to_date.year}-01-01",
                "toDate": _ib_date(st.to_date, rnd) if rnd.random() < 0.7 else None,
                "endingCash": plain(st.cash),
                "currency": currency,
            }
            out.append(f"<CashReportCurrency {_attrs(attrs)} />")
        out.append("</CashReport>")
    blocks: list[list[str]] = []
    for p in st.positions:
        when = p.report_date or st.to_date
        common = {
            **_account(st, rnd),
            "currency": p.currency,
            "fxRateToBase": _rate(st, when, p.currency),
            **_ident(p.security, rnd),
            "multiplier": plain(p.multiplier),
            "reportDate": _ib_date(p.report_date, rnd) if p.report_date else None,
            "markPrice": plain(p.mark),
            "positionValue": plain(p.value),
        }
        level = rnd.choice(["SUMMARY", None]) if not p.lots else "SUMMARY"
        summary = {**common, "position": plain(p.quantity), "levelOfDetail": level}
        block = [f"<OpenPosition {_attrs(summary)} />"]
        for lot in p.lots:
            attrs = {
                **common,
                "position": plain(lot.quantity),
                "costBasisMoney": plain(lot.cost_basis),
                "levelOfDetail": "LOT",
                "openDateTime": _ib_date(lot.opened, rnd, time=True),
                "originatingTransactionID": lot.raw_id,
            }
            block.append(f"<OpenPosition {_attrs(attrs)} />")
        blocks.append(block)
    if shuffle:
        rnd.shuffle(blocks)
    out += ["<OpenPositions>", *(line for b in blocks for line in b), "</OpenPositions>"]

    trades: list[str] = []
    for t in st.trades:
        assert t.security is not None and t.quantity is not None and t.amount is not None
        attrs = {
            **_account(st, rnd),
            "currency": t.currency,
            "fxRateToBase": _rate(st, t.trade_date, t.currency),
            **_ident(t.security, rnd),
            "tradeDate": _ib_date(t.trade_date, rnd),
            "dateTime": _ib_date(t.trade_date, rnd, time=True),
            "quantity": plain(t.quantity),
            "tradePrice": plain(t.price or Decimal(1)),
            "netCash": plain(t.amount),
            "buySell": t.action,
            "transactionID": t.ident,
            "levelOfDetail": "EXECUTION",
        }
        trades.append(f"<Trade {_attrs(attrs)} />")
        if rnd.random() < 0.3:  # the order the execution belongs to: a duplicate, skipped
            order = {**attrs, "levelOfDetail": "ORDER", "transactionID": ""}
            trades.append(f"<Trade {_attrs(order)} />")
    for day, currency in st.fx_trades:
        attrs = {
            "accountId": st.account,
            "currency": currency,
            "fxRateToBase": _rate(st, day, currency),
            "assetCategory": "CASH",
            "symbol": f"{st.base}.{currency}",
            "tradeDate": _ib_date(day, rnd),
            "quantity": "1000",
            "netCash": "-1000",
            "buySell": "BUY",
            "transactionID": f"FX{day:%Y%m%d}{currency}",
            "levelOfDetail": "EXECUTION",
        }
        trades.append(f"<Trade {_attrs(attrs)} />")
    if shuffle:
        rnd.shuffle(trades)
    out += ["<Trades>", *trades, "</Trades>"]

    cash: list[str] = []
    for t in st.cash_txns:
        assert t.amount is not None
        attrs = {
            **_account(st, rnd),
            "currency": t.currency,
            "fxRateToBase": _rate(st, t.trade_date, t.currency),
            **_ident(t.security, rnd),
            "dateTime": _ib_date(t.trade_date, rnd, time=True),
            "amount": plain(t.amount),
            "type": t.action,
            "transactionID": t.ident if t.ident else rnd.choice([None, ""]),
            "levelOfDetail": "DETAIL",
        }
        cash.append(f"<CashTransaction {_attrs(attrs)} />")
        if rnd.random() < 0.3:  # the summary across accounts: a duplicate, skipped
            dup = {**attrs, "accountId": "-", "levelOfDetail": "SUMMARY", "transactionID": ""}
            cash.append(f"<CashTransaction {_attrs(dup)} />")
    if shuffle:
        rnd.shuffle(cash)
    out += ["<CashTransactions>", *cash, "</CashTransactions>"]

    if st.conversions:
        out.append("<ConversionRates>")
        for day, currency in st.conversions:
            attrs = {
                "reportDate": _ib_date(day, rnd),
                "fromCurrency": currency,
                "toCurrency": st.base,
                "rate": _rate(st, day, currency),
            }
            out.append(f"<ConversionRate {_attrs(attrs)} />")
        out.append("</ConversionRates>")
    out.append("</FlexStatement>")
    return out


def flex_xml(statements: list[FlexStatement], rnd: random.Random, shuffle: bool = False) -> bytes:
    """An Activity Flex statement file (one FlexStatement per account)."""
    order = list(statements)
    if shuffle:
        rnd.shuffle(order)
    head = rnd.choice(["", '<?xml version="1.0" encoding="UTF-8"?>\n'])
    head += rnd.choice(["", "<!-- written for ballast's tests -->\n"])
    lines = [
        f'<FlexQueryResponse queryName="{escape("ballast & tests")}" type="AF">',
        f'<FlexStatements count="{len(order)}">',
    ]
    for st in order:
        lines += _statement_xml(st, rnd, shuffle)
    lines += ["</FlexStatements>", "</FlexQueryResponse>"]
    return (head + "\n".join(lines) + "\n").encode()


def flex_base(st: FlexStatement) -> str | None:
    """The base currency ballast can know: named, else the currency of a row at rate 1."""
    if st.explicit_base:
        return st.base
    currencies = {p.currency for p in st.positions}
    currencies |= {t.currency for t in (*st.trades, *st.cash_txns)}
    currencies |= {c for _, c in st.fx_trades}
    return st.base if st.base in currencies else None


def flex_canonical(statements: list[FlexStatement]) -> dict[str, list[dict]]:
    """The canonical tables a Flex file stands for (see docs/adapters.md)."""
    positions: list[dict] = []
    lots: list[dict] = []
    rates: dict[tuple[date, str, str], Decimal] = {}
    txns: list[Txn] = []
    for st in statements:
        base = flex_base(st)
        seen: Counter[tuple[str, str]] = Counter()
        for p in st.positions:
            when = p.report_date or st.to_date
            short = p.quantity < 0
            price = q(p.mark * p.multiplier, 6)
            holding = Holding(st.account, p.security, p.quantity, price, q(p.value, 4))
            positions.append(position_row(holding, when, p.currency, short))
            for lot in p.lots:
                seen[(p.security.security_id, lot.raw_id)] += 1
                n = seen[(p.security.security_id, lot.raw_id)]
                lots.append(
                    {
                        "as_of_date": when,
                        "account_id": st.account,
                        "security_id": p.security.security_id,
                        "lot_id": lot.raw_id if n == 1 else f"{lot.raw_id}-{n}",
                        "acquired_date": lot.opened,
                        "quantity": lot.quantity,
                        "cost_basis": q(lot.cost_basis, 4),
                        "short": "true" if short else None,
                    }
                )
        if base is not None and st.cash is not None:
            positions.append(cash_row(st.account, st.to_date, q(st.cash, 4), base))
        txns += [*st.trades, *st.cash_txns]
        if base is None:
            continue
        used = {(p.report_date or st.to_date, p.currency) for p in st.positions}
        used |= {(t.trade_date, t.currency) for t in (*st.trades, *st.cash_txns)}
        used |= set(st.fx_trades) | set(st.conversions)
        for day, currency in used:
            if currency != base:
                rates[(day, currency, base)] = st.rates[(day, currency)]
    return {
        "positions": positions,
        "lots": lots,
        "transactions": transaction_rows(txns),
        "fx_rates": [
            {"as_of_date": d, "currency": c, "quote_currency": b, "rate": r}
            for (d, c, b), r in rates.items()
        ],
    }
