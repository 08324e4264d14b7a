"""Interactive Brokers Activity Flex XML: positions, lots, transactions and FX rates.

Parsed with ``defusedxml``'s SAX reader (no DTDs, entities or external references; element line
numbers for errors). Read per ``FlexStatement``:

- ``OpenPosition`` at SUMMARY level (or without ``levelOfDetail``) -> positions: ``position`` ->
  quantity, ``markPrice`` x ``multiplier`` -> price (so quantity x price = market value for
  options and futures too), ``positionValue`` -> market_value, in the position's own currency;
  ``as_of_date`` is the row's ``reportDate``, else the statement's ``toDate``.
- ``OpenPosition`` at LOT level -> lots: ``openDateTime`` -> acquired_date, ``costBasisMoney``
  -> cost_basis, ``originatingTransactionID`` -> lot_id (``-2``, ``-3`` ... on repeats).
- ``CashReportCurrency`` with currency BASE_SUMMARY -> one CASH position per account, in the
  base currency (its ``endingCash``).
- ``Trade`` rows at EXECUTION level -> BUY/SELL, amount = ``netCash`` (signed cash effect).
  Currency conversions (assetCategory CASH) are not transactions in the contract: skipped.
- ``CashTransaction`` rows (DETAIL level) -> DIVIDEND, INTEREST, FEE, CONTRIBUTION/WITHDRAWAL
  by ``type``; withholding tax is a negative DIVIDEND. An unknown type is an error.
- ``CorporateAction`` rows (DETAIL level) -> BUY (quantity > 0) or SELL (quantity < 0) with the
  action's ``proceeds`` as amount (usually 0): e.g. an ISIN change is -24 old / +24 new.
- ``fxRateToBase`` of every row (and ``ConversionRate`` rows) -> fx_rates ``currency`` ->
  base currency, one per currency and date (first seen wins). The base currency is the
  ``AccountInformation`` currency, else the currency whose ``fxRateToBase`` is 1; without either
  no fx_rates are written.

Transaction ids are ``IB-<transactionID>`` (trades: else ``tradeID``, else ``ibExecID``), so two
executions of one order at one price stay two transactions; a row with none gets
``IB-<hash of its content>-<n>`` (``ballast.kinds.derived_transaction_id``), stable across
exports and row order, which reconciliation can only warn about when two rows are alike.
Summary rows across accounts (``accountId="-"``) are skipped. Dates may be ``2025-12-31``,
``20251231``, with or without a time (``;202500``, ``;10:21:44``, `` 144528``).
Numbers are rounded half-even to the column's scale.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, cast
from xml.sax import SAXException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import Locator

import defusedxml.sax
import polars as pl
from defusedxml import DefusedXmlException

from ballast.errors import DataError
from ballast.ingest.adapters import Context
from ballast.ingest.adapters.securities import map_ids
from ballast.ingest.reader import ParsedFile
from ballast.kinds import (
    CASH_SECURITY,
    FX_RATES,
    LOTS,
    POLARS_TYPES,
    POSITIONS,
    TRANSACTIONS,
    Kind,
    derived_transaction_id,
)

_ELEMENTS = {
    "FlexStatement",
    "AccountInformation",
    "OpenPosition",
    "Trade",
    "CashTransaction",
    "CorporateAction",
    "CashReportCurrency",
    "ConversionRate",
}
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[;T ].*)?$")
_HEAD = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<FlexQueryResponse[\s>]", re.DOTALL)
_CASH_TYPES = {
    "dividends": "DIVIDEND",
    "payment in lieu of dividends": "DIVIDEND",
    "withholding tax": "DIVIDEND",
    "871(m) withholding": "DIVIDEND",
    "broker interest received": "INTEREST",
    "broker interest paid": "INTEREST",
    "bond interest received": "INTEREST",
    "bond interest paid": "INTEREST",
    "other fees": "FEE",
    "commission adjustments": "FEE",
    "advisor fees": "FEE",
    "deposits/withdrawals": "FLOW",
    "deposits & withdrawals": "FLOW",
}


@dataclass
class Element:
    """One element of interest: its tag, attributes, line and statement number."""

    tag: str
    attrs: dict[str, str]
    line: int
    statement: int


@dataclass
class Statement:
    """One FlexStatement's elements."""

    attrs: dict[str, str]
    line: int
    elements: list[Element] = field(default_factory=list)


class _Collector(ContentHandler):
    _locator: Locator | None  # set by ContentHandler (typeshed does not declare it)

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[Statement] = []
        self.root: str | None = None

    def startElement(self, name: str, attrs: Any) -> None:
        if self.root is None:
            self.root = name
        if name not in _ELEMENTS:
            return
        # expat's locator always knows the line (typeshed's Locator says int | None)
        line = cast(int, self._locator.getLineNumber()) if self._locator else 0
        values = {k: v.strip() for k, v in attrs.items()}
        if name == "FlexStatement":
            self.statements.append(Statement(values, line))
        elif self.statements:
            self.statements[-1].elements.append(Element(name, values, line, len(self.statements)))


def read_xml(data: bytes, name: str) -> list[Statement]:
    """The statements of a Flex file, or a DataError saying why it cannot be read."""
    handler = _Collector()
    try:
        defusedxml.sax.parseString(data, handler, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise DataError(name, f"XML with a DTD or entities is refused ({exc})") from None
    except SAXException as exc:
        line = getattr(exc, "getLineNumber", lambda: None)()
        raise DataError(name, f"not well-formed XML ({exc.getMessage()})", line=line) from None
    except (ValueError, UnicodeError) as exc:
        raise DataError(name, f"cannot be read as XML ({exc})") from None
    if handler.root != "FlexQueryResponse":
        raise DataError(name, f"the root element is {handler.root!r}, not FlexQueryResponse")
    if not handler.statements:
        raise DataError(name, "the Flex file holds no FlexStatement")
    return handler.statements


# --- values ------------------------------------------------------------------------------------


def _date(el: Element, key: str, name: str, required: bool = True) -> date | None:
    value = el.attrs.get(key, "")
    if not value:
        if required:
            raise DataError(name, f"{el.tag} has no {key}", el.line, key)
        return None
    m = _DATE.match(value)
    try:
        if m is None:
            raise ValueError(value)
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise DataError(name, f"{value!r} is not a date", el.line, key) from None


def _num(el: Element, key: str, name: str, scale: int, default: str | None = None) -> Decimal:
    value = el.attrs.get(key, "") or default
    if value is None:
        raise DataError(name, f"{el.tag} has no {key}", el.line, key)
    try:
        number = Decimal(value.replace(",", ""))
        if not number.is_finite():
            raise InvalidOperation
        rounded = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        raise DataError(name, f"{value!r} is not a number", el.line, key) from None
    if abs(rounded) >= Decimal(10) ** 12:
        raise DataError(name, f"{value!r} is too large", el.line, key)
    return rounded


def _account(el: Element, st: Statement) -> str:
    return el.attrs.get("accountId") or st.attrs.get("accountId", "")


def _detail(el: Element) -> bool:
    """A row for one account (not a summary across accounts)."""
    return el.attrs.get("accountId") != "-"


def _security(el: Element) -> dict[str, Any]:
    a = el.attrs
    return {
        "isin": a.get("isin") or None,
        "cusip": a.get("cusip") or None,
        "symbol": a.get("symbol") or None,
        "_conid": a.get("conid") or None,
    }


# --- rows --------------------------------------------------------------------------------------


def _position(el: Element, st: Statement, name: str) -> dict[str, Any]:
    to_date = _date(Element("FlexStatement", st.attrs, st.line, 0), "toDate", name, False)
    as_of = _date(el, "reportDate", name, False) or to_date
    if as_of is None:
        raise DataError(name, "OpenPosition has no reportDate", el.line, "reportDate")
    quantity = _num(el, "position", name, 6)
    mark = _num(el, "markPrice", name, 8)
    multiplier = _num(el, "multiplier", name, 6, default="1")
    return {
        "line": el.line,
        "as_of_date": as_of,
        "account_id": _account(el, st),
        **_security(el),
        "quantity": quantity,
        "short": "true" if quantity < 0 else None,  # IBKR reports shorts explicitly
        "price": (mark * multiplier).quantize(Decimal("0.000001"), ROUND_HALF_EVEN),
        "market_value": _num(el, "positionValue", name, 4),
        "currency": el.attrs.get("currency", ""),
        "_level": el.attrs.get("levelOfDetail", "SUMMARY").upper(),
        "_lot": el.attrs.get("originatingTransactionID") or el.attrs.get("conid") or "lot",
        "acquired_date": _date(el, "openDateTime", name, False),
        "cost_basis": _num(el, "costBasisMoney", name, 4, default="0"),
    }


def _trade(el: Element, st: Statement, name: str) -> dict[str, Any] | None:
    level = el.attrs.get("levelOfDetail", "EXECUTION").upper()
    if level != "EXECUTION" or el.attrs.get("assetCategory") == "CASH" or not _detail(el):
        return None
    quantity = _num(el, "quantity", name, 6)
    side = el.attrs.get("buySell", "").upper()
    kind = "SELL" if side.startswith("SELL") or (not side and quantity < 0) else "BUY"
    if el.attrs.get("netCash"):
        amount = _num(el, "netCash", name, 4)
    else:
        amount = sum(
            (_num(el, k, name, 4, default="0") for k in ("proceeds", "ibCommission", "taxes")),
            Decimal(0),
        )
    # the custodian's own id tells two executions of one order apart (issue #11)
    ident = el.attrs.get("transactionID") or el.attrs.get("tradeID") or el.attrs.get("ibExecID")
    return _txn(el, st, name, ident, kind, abs(quantity), amount, "tradeDate")


def _cash_transaction(el: Element, st: Statement, name: str) -> dict[str, Any] | None:
    if el.attrs.get("levelOfDetail", "DETAIL").upper() != "DETAIL" or not _detail(el):
        return None
    raw = el.attrs.get("type", "")
    kind = _CASH_TYPES.get(raw.lower())
    if kind is None:
        raise DataError(
            name, f"cash transaction type {raw!r} has no transaction type", el.line, "type"
        )
    amount = _num(el, "amount", name, 4)
    if kind == "FLOW":
        kind = "CONTRIBUTION" if amount > 0 else "WITHDRAWAL"
    row = _txn(el, st, name, el.attrs.get("transactionID"), kind, Decimal(0), amount, "dateTime")
    if not (row["isin"] or row["cusip"] or row["symbol"]):
        row["security_id"] = CASH_SECURITY
    return row


def _corporate_action(el: Element, st: Statement, name: str) -> dict[str, Any] | None:
    if el.attrs.get("levelOfDetail", "DETAIL").upper() != "DETAIL" or not _detail(el):
        return None
    quantity = _num(el, "quantity", name, 6, default="0")
    amount = _num(el, "proceeds", name, 4, default="0")
    kind = "SELL" if quantity < 0 else "BUY"
    ident = el.attrs.get("transactionID")
    return _txn(el, st, name, ident, kind, abs(quantity), amount, "dateTime")


def _txn(
    el: Element,
    st: Statement,
    name: str,
    ident: str | None,
    kind: str,
    quantity: Decimal,
    amount: Decimal,
    date_key: str,
) -> dict[str, Any]:
    when = _date(el, date_key, name, False) or _date(el, "reportDate", name)
    a = el.attrs
    content = [el.tag, _account(el, st), str(when), kind, a.get("type", "")]
    content += [a.get("conid") or a.get("isin") or a.get("symbol", ""), a.get("currency", "")]
    content += [str(quantity), str(amount), a.get("actionID", "")]
    return {
        "line": el.line,
        "transaction_id": f"IB-{ident}" if ident else None,
        "_content": "|".join(content),
        "trade_date": when,
        "account_id": _account(el, st),
        **_security(el),
        "security_id": None,
        "type": kind,
        "quantity": quantity,
        "amount": amount,
        "currency": el.attrs.get("currency", ""),
    }


def _content_ids(txns: list[dict[str, Any]]) -> None:
    """Rows without a transactionID (older Flex queries) get ``IB-<hash>-<n>``: a hash of their
    content and their rank among identical rows, so the same row keeps its id in every export
    and whatever the row order (never the XML line, which changes between exports)."""
    seen: Counter[str] = Counter()
    for row in txns:
        if row["transaction_id"] is None:
            content = row["_content"]
            row["transaction_id"] = derived_transaction_id("IB", content, seen[content])
            seen[content] += 1


# --- FX rates ----------------------------------------------------------------------------------


def base_currency(st: Statement) -> str | None:
    """The account's base currency: AccountInformation, else the currency at rate 1."""
    for el in st.elements:
        if el.tag == "AccountInformation" and el.attrs.get("currency"):
            return el.attrs["currency"]
    at_par = {
        el.attrs["currency"]
        for el in st.elements
        if el.attrs.get("fxRateToBase") in ("1", "1.0") and el.attrs.get("currency")
    }
    return at_par.pop() if len(at_par) == 1 else None


_RATE_DATE = {
    "OpenPosition": "reportDate",
    "Trade": "tradeDate",
    "CashTransaction": "dateTime",
    "CorporateAction": "dateTime",
}


def _fx_rows(st: Statement, name: str) -> list[dict[str, Any]]:
    base = base_currency(st)
    if base is None:
        return []
    seen: dict[tuple[date, str], dict[str, Any]] = {}
    for el in st.elements:
        a = el.attrs
        if el.tag == "ConversionRate":
            currency, rate_key, date_key = a.get("fromCurrency", ""), "rate", "reportDate"
            if a.get("toCurrency") != base:
                continue
        elif el.tag in _RATE_DATE:
            currency, rate_key, date_key = a.get("currency", ""), "fxRateToBase", _RATE_DATE[el.tag]
        else:
            continue
        if not a.get(rate_key) or not currency or currency == base or currency.startswith("BASE"):
            continue
        when = _date(el, date_key, name, False) or _date(el, "reportDate", name, False)
        if when is None and el.tag == "OpenPosition":  # its as_of_date: the statement's toDate
            when = _date(Element("FlexStatement", st.attrs, st.line, 0), "toDate", name, False)
        if when is None or (when, currency) in seen:
            continue
        seen[(when, currency)] = {
            "line": el.line,
            "as_of_date": when,
            "currency": currency,
            "quote_currency": base,
            "rate": _num(el, rate_key, name, 6),
        }
    return list(seen.values())


# --- statements to frames ----------------------------------------------------------------------


def _cash_positions(st: Statement, name: str) -> list[dict[str, Any]]:
    rows = []
    for el in st.elements:
        if el.tag != "CashReportCurrency" or el.attrs.get("currency") != "BASE_SUMMARY":
            continue
        if not _detail(el):
            continue
        base = base_currency(st)
        if base is None:
            continue
        cash = _num(el, "endingCash", name, 4)
        st_el = Element("FlexStatement", st.attrs, st.line, 0)
        as_of = _date(el, "toDate", name, False) or _date(st_el, "toDate", name)
        rows.append(
            {
                "line": el.line,
                "as_of_date": as_of,
                "account_id": _account(el, st),
                "security_id": CASH_SECURITY,
                "quantity": cash.quantize(Decimal("0.000001")),
                "price": Decimal("1.000000"),
                "market_value": cash,
                "currency": base,
            }
        )
    return rows


def _lot_ids(lots: list[dict[str, Any]]) -> None:
    """Make lot ids unique per (account, security): a repeated id gets -2, -3, ..."""
    seen: Counter[tuple[str, str, str]] = Counter()
    for lot in lots:
        key = (lot["account_id"], lot["security_id"], lot["_lot"])
        seen[key] += 1
        lot["lot_id"] = lot["_lot"] if seen[key] == 1 else f"{lot['_lot']}-{seen[key]}"


def _frame(rows: list[dict[str, Any]], kind: Kind) -> pl.DataFrame:
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "line": pl.Int64,
        **{c: POLARS_TYPES[t] for c, t in kind.all_columns.items()},
    }
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema, orient="row")


def _map(rows: list[dict[str, Any]], ctx: Context, name: str) -> None:
    """Fill ``security_id`` on the rows that have none, through the security master."""
    todo = [r for r in rows if r.get("security_id") is None]
    if not todo:
        return
    frame = pl.DataFrame(
        [{k: r[k] for k in ("line", "isin", "cusip", "symbol")} for r in todo],
        schema={"line": pl.Int64, "isin": pl.String, "cusip": pl.String, "symbol": pl.String},
        orient="row",
    )
    for row, sid in zip(todo, map_ids(frame, ctx.securities, name, "symbol"), strict=True):
        row["security_id"] = sid


def parse_statements(statements: list[Statement], name: str, ctx: Context) -> list[ParsedFile]:
    positions: list[dict[str, Any]] = []
    lots: list[dict[str, Any]] = []
    txns: list[dict[str, Any]] = []
    rates: list[dict[str, Any]] = []
    readers = {"Trade": _trade, "CashTransaction": _cash_transaction}
    readers["CorporateAction"] = _corporate_action
    for st in statements:
        for el in st.elements:
            if el.tag == "OpenPosition" and _detail(el):
                row = _position(el, st, name)
                if row["_level"] == "LOT":
                    if row["acquired_date"] is None:
                        raise DataError(
                            name, "LOT row has no openDateTime", el.line, "openDateTime"
                        )
                    lots.append(row)
                else:
                    positions.append(row)
            elif el.tag in readers and (txn := readers[el.tag](el, st, name)) is not None:
                txns.append(txn)
        positions.extend(_cash_positions(st, name))
        rates.extend(_fx_rows(st, name))
    _map(positions + lots + txns, ctx, name)
    _lot_ids(lots)
    _content_ids(txns)
    rates = list(
        {(r["as_of_date"], r["currency"], r["quote_currency"]): r for r in rates[::-1]}.values()
    )
    out = []
    for kind, rows in (
        (POSITIONS, positions),
        (LOTS, lots),
        (TRANSACTIONS, txns),
        (FX_RATES, rates),
    ):
        if rows:
            out.append(ParsedFile(kind, _frame(rows, kind).sort("line")))
    if not out:
        raise DataError(name, "the Flex statement holds no positions, trades or cash transactions")
    return out


class FlexAdapter:
    """Interactive Brokers Activity Flex XML."""

    name = "ibkr_flex"

    def recognise(self, name: str, head: bytes) -> bool:
        return bool(_HEAD.match(head.removeprefix(b"\xef\xbb\xbf")))

    def parse(self, data: bytes, name: str, ctx: Context) -> list[ParsedFile]:
        statements = read_xml(data, name)
        try:
            return parse_statements(statements, name, ctx)
        except pl.exceptions.PolarsError as exc:  # e.g. a value too large for its column
            raise DataError(name, f"cannot be read ({str(exc).splitlines()[0]})") from None


ADAPTER = FlexAdapter()
