"""A writer of IBKR Activity Flex XML statements, for the round-trip property tests (see
``custodian_writers``, whose holdings and transactions it writes)."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from tests.support.custodian_writers import (
    Holding,
    Security,
    Txn,
    cash_row,
    plain,
    position_row,
    q,
    transaction_rows,
)


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
