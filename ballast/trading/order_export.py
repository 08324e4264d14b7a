"""A review run's proposal as block orders for a trading desk (docs/orders.md): the orders, and
them as a custodian-neutral CSV (FIX 4.4 messages: ``ballast.trading.order_fix``).

Pure: the run's ``results.json`` in, CSV text and FIX bytes out; no Prefect, no DuckDB.
``results.json`` is the source (not ``trades.csv`` / ``trade_lots.csv``): it holds the ids as
they are (the CSVs' formula guard prefixes some with an apostrophe, which cannot be undone), each
sale's lots inside the sale (no join), and the run's id, date and kind. The CSV's formula guard
is passed in: it is ``reporting.results_text.csv_safe``, a floor above this package.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ballast import workspace
from ballast.errors import BallastError, Unproven

ORDER_TYPE = "MKT"  # the only order type: FIX OrdType(40) = 1
MAX_LINES = 999_999  # the ClOrdID's six-digit line number
CENTS = Decimal("0.01")

CSV_COLUMNS = (
    "run_id",
    "as_of",
    "line",
    "cl_ord_id",
    "portfolio_id",
    "account_id",
    "security_id",
    "side",
    "quantity",
    "order_type",
    "currency",
    "price",
    "estimated_value",
    "lot_method",
    "lots",
)

CellGuard = Callable[[Any], str]
"""A CSV cell no spreadsheet runs as a formula (``reporting.results_text.csv_safe``)."""


class OrderExportError(BallastError):
    """The run has no orders to export, or its results cannot be made into orders."""


class Side(StrEnum):
    """An order's side; sells sort before buys (they pay for them)."""

    SELL = "SELL"
    BUY = "BUY"


_SIDE_RANK = {Side.SELL: 0, Side.BUY: 1}


@dataclass(frozen=True)
class Lot:
    """A tax lot a sale relieves: versus-purchase instruction for the custodian."""

    lot_id: str
    acquired_date: str  # ISO YYYY-MM-DD
    quantity: Decimal


@dataclass(frozen=True)
class BlockOrder:
    """One order line: a run's trades of one account, security and side, summed."""

    line: int  # 1-based, in export order
    cl_ord_id: str
    run_id: str
    as_of: str
    portfolio_id: str
    account_id: str
    security_id: str
    side: Side
    quantity: Decimal
    currency: str | None
    price: Decimal | None  # the trades' price; None when unknown or when they differ
    value: Decimal | None  # the trades' amounts summed; None when one is unknown
    lots: tuple[Lot, ...] = ()

    @property
    def lot_method(self) -> str:
        """``VSP`` (versus purchase: the listed lots), ``VSP_PARTIAL`` (the listed lots, the
        rest by the custodian's default method), or empty (the custodian's default)."""
        if not self.lots:
            return ""
        return "VSP" if sum(lot.quantity for lot in self.lots) >= self.quantity else "VSP_PARTIAL"


# --- reading the run folder -----------------------------------------------------------------


def read_run_file(path: Path) -> bytes:
    """The bytes of a file of a run folder, only if it is a regular file: a link is never
    followed (``Unproven``, as for a missing file: the run wrote a regular file there)."""
    try:
        with workspace.opened(path) as (fd, _):
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
    except workspace.NotRegular as exc:
        raise Unproven(f"{path}: {exc}, not the file the run wrote; not read") from None
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        raise Unproven(f"{path}: not found: the run's {path.name} is gone") from None
    return b"".join(chunks)


def load_results(data: bytes | str, name: str = "results.json") -> dict[str, Any]:
    """A results.json document (numbers as ``Decimal``, never float), its shape checked."""
    try:
        doc = json.loads(data, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OrderExportError(f"{name}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("portfolios"), list):
        raise OrderExportError(f"{name}: no list of portfolios in it")
    for key in ("run_id", "as_of", "kind"):
        if not isinstance(doc.get(key), str):
            raise OrderExportError(f"{name}: no {key}")
    return doc


# --- from results.json to block orders --------------------------------------------------------


@dataclass
class _Block:
    """The trades of one (portfolio, account, security, side) while they are summed."""

    currency: str | None
    quantity: Decimal = Decimal(0)
    prices: set[Decimal | None] = field(default_factory=set)
    amounts: list[Decimal | None] = field(default_factory=list)
    lots: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (lot id, acquired)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise OrderExportError(f"{where}: not text")
    return value


def _decimal(value: Any, where: str, *, optional: bool = False) -> Decimal | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise OrderExportError(f"{where}: not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise OrderExportError(f"{where}: {str(value)!r} is not a number") from None
    if not number.is_finite():
        raise OrderExportError(f"{where}: {number} is not a number")
    return number


def _positive(value: Any, where: str) -> Decimal:
    number = _decimal(value, where)
    assert number is not None  # not optional
    if number <= 0:
        raise OrderExportError(f"{where}: {number} is not a positive quantity")
    return number


def _side(value: Any, where: str) -> Side:
    try:
        return Side(_text(value, where).upper())
    except ValueError:
        raise OrderExportError(f"{where}: {str(value)!r} is not buy or sell") from None


def _add_trade(block: _Block, trade: dict[str, Any], where: str) -> None:
    quantity = _positive(trade.get("quantity"), f"{where}.quantity")
    block.quantity += quantity
    local = _decimal(trade.get("local_price"), f"{where}.local_price", optional=True)
    if local is not None:  # dealt in the security's currency (results.json since issue 14)
        block.prices.add(local)
        block.amounts.append(quantity * local)
    else:
        block.prices.add(_decimal(trade.get("price"), f"{where}.price", optional=True))
        block.amounts.append(_decimal(trade.get("amount"), f"{where}.amount", optional=True))
    lots = trade.get("lots") or []
    if not isinstance(lots, list):
        raise OrderExportError(f"{where}.lots: not a list")
    for j, lot in enumerate(lots):
        at = f"{where}.lots[{j}]"
        if not isinstance(lot, dict):
            raise OrderExportError(f"{at}: not an object")
        key = (_text(lot.get("lot_id"), f"{at}.lot_id"), _iso(lot.get("acquired_date"), at))
        qty = _positive(lot.get("quantity"), f"{at}.quantity")
        block.lots[key] = block.lots.get(key, Decimal(0)) + qty


def _iso(value: Any, where: str) -> str:
    text = _text(value, f"{where}.acquired_date")
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise OrderExportError(f"{where}.acquired_date: {text!r} is not a date") from None


def _blocks(doc: dict[str, Any]) -> dict[tuple[str, str, str, Side], _Block]:
    found: dict[tuple[str, str, str, Side], _Block] = {}
    for i, entry in enumerate(doc["portfolios"]):
        where = f"portfolios[{i}]"
        if not isinstance(entry, dict):
            raise OrderExportError(f"results.json: {where}: not an object")
        trades = entry.get("trades") or []
        if not isinstance(trades, list):
            raise OrderExportError(f"results.json: {where}.trades: not a list")
        if not trades:
            continue
        pid = _text(entry.get("portfolio_id"), f"results.json: {where}.portfolio_id")
        currency = entry.get("base_currency")
        for j, trade in enumerate(trades):
            at = f"results.json: {where}.trades[{j}]"
            if not isinstance(trade, dict):
                raise OrderExportError(f"{at}: not an object")
            key = (
                pid,
                _text(trade.get("account_id"), f"{at}.account_id"),
                _text(trade.get("security_id"), f"{at}.security_id"),
                _side(trade.get("side"), f"{at}.side"),
            )
            dealt = trade.get("currency") if trade.get("local_price") is not None else currency
            block = found.setdefault(key, _Block(dealt if isinstance(dealt, str) else None))
            if block.currency != dealt:
                raise OrderExportError(f"{at}.currency: {dealt!r} differs from {block.currency!r}")
            _add_trade(block, trade, at)
    return found


def _oldest_first(item: tuple[tuple[str, str], Decimal]) -> tuple[str, str]:
    (lot_id, acquired), _ = item
    return acquired, lot_id


def _order(
    line: int, doc: dict[str, Any], key: tuple[str, str, str, Side], block: _Block
) -> BlockOrder:
    lots = tuple(Lot(i, d, q) for (i, d), q in sorted(block.lots.items(), key=_oldest_first))
    relieved = sum((lot.quantity for lot in lots), Decimal(0))
    if relieved > block.quantity:
        raise OrderExportError(
            f"results.json: {key[2]} in account {key[1]} ({key[0]}): the lots relieve "
            f"{plain(relieved)} shares, more than the {plain(block.quantity)} sold"
        )
    price = next(iter(block.prices)) if len(block.prices) == 1 else None
    value = None
    if None not in block.amounts:
        total = sum((a for a in block.amounts if a is not None), Decimal(0))
        value = total.quantize(CENTS, ROUND_HALF_EVEN)
    return BlockOrder(
        line=line,
        cl_ord_id=cl_ord_id(doc["run_id"], line),
        run_id=doc["run_id"],
        as_of=doc["as_of"],
        portfolio_id=key[0],
        account_id=key[1],
        security_id=key[2],
        side=key[3],
        quantity=block.quantity,
        currency=block.currency,
        price=price,
        value=value,
        lots=lots,
    )


def monitor_refused(run_id: str, as_of: str) -> OrderExportError:
    """The one line for a monitor run: it has no trades, so no orders."""
    return OrderExportError(
        f"run {run_id} is a monitor run: it proposes no trades, so it has no orders; "
        f"export a review run (`ballast review --as-of {as_of}` proposes trades)"
    )


def block_orders(doc: dict[str, Any]) -> list[BlockOrder]:
    """One order per portfolio, account, security and side of the run's proposed trades
    (quantities, amounts and lots summed), sorted by those keys (sells before buys) and
    numbered from 1. A monitor run, which proposes no trades, is refused."""
    if doc["kind"] == "monitor":
        raise monitor_refused(doc["run_id"], doc["as_of"])
    blocks = _blocks(doc)
    if len(blocks) > MAX_LINES:
        raise OrderExportError(f"{len(blocks)} orders: more than the {MAX_LINES} one export takes")
    keys = sorted(blocks, key=lambda k: (k[0], k[1], k[2], _SIDE_RANK[k[3]]))
    return [_order(n, doc, k, blocks[k]) for n, k in enumerate(keys, start=1)]


_RUN_ID = re.compile(r"\d{2}(\d{6})T\d{6}Z-([0-9a-f]{6})")


def cl_ord_id(run_id: str, line: int) -> str:
    """``YYMMDD-hhhhhh-NNNNNN`` (20 characters, the shortest common venue limit): the run's
    start date and random part (``20261124T201245Z-2ec698`` → ``261124-2ec698``; another id,
    the first 12 hex digits of its SHA-256) and the line number."""
    if not 1 <= line <= MAX_LINES:
        raise OrderExportError(f"order line {line}: outside 1..{MAX_LINES}")
    found = _RUN_ID.fullmatch(run_id)
    if found:
        date, tag = found.groups()
    else:
        digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()
        date, tag = digest[:6], digest[6:12]
    return f"{date}-{tag}-{line:06d}"


# --- lots as text -------------------------------------------------------------------------------


def plain(number: Decimal) -> str:
    """A decimal as plain text, without exponent or trailing zeros (``7.2E+3`` → ``7200``)."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _encode_lot_id(lot_id: str) -> str:
    """``%``, ``:``, ``;``, unprintable characters and a leading ``= + - @`` percent-encoded
    (UTF-8): the lots text splits without ambiguity and never starts a formula."""
    out = []
    for i, ch in enumerate(lot_id):
        if ch in "%:;" or not ch.isprintable() or (i == 0 and ch in "=+-@"):
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def encode_lots(lots: Iterable[Lot]) -> str:
    """``LOT_ID:ACQUIRED:QUANTITY`` per lot, joined with ``;``
    (``L1:2015-03-02:40;L7:2019-06-01:10``)."""
    return ";".join(
        f"{_encode_lot_id(lot.lot_id)}:{lot.acquired_date}:{plain(lot.quantity)}" for lot in lots
    )


def parse_lots(text: str) -> tuple[Lot, ...]:
    """The lots of ``encode_lots`` text (``()`` for an empty text)."""
    if not text:
        return ()
    lots = []
    for item in text.split(";"):
        parts = item.split(":")
        if len(parts) != 3:
            raise ValueError(f"{item!r} is not LOT_ID:ACQUIRED:QUANTITY")
        lot_id, acquired, quantity = parts
        when = dt.date.fromisoformat(acquired).isoformat()
        lots.append(Lot(unquote(lot_id), when, Decimal(quantity)))
    return tuple(lots)


# --- the CSV ------------------------------------------------------------------------------------


def _cells(order: BlockOrder) -> dict[str, object]:
    return {
        "run_id": order.run_id,
        "as_of": order.as_of,
        "line": order.line,
        "cl_ord_id": order.cl_ord_id,
        "portfolio_id": order.portfolio_id,
        "account_id": order.account_id,
        "security_id": order.security_id,
        "side": order.side.value,
        "quantity": plain(order.quantity),
        "order_type": ORDER_TYPE,
        "currency": order.currency,
        "price": None if order.price is None else format(order.price, "f"),
        "estimated_value": order.value,
        "lot_method": order.lot_method,
        "lots": encode_lots(order.lots),
    }


def orders_csv(orders: Sequence[BlockOrder], guard: CellGuard) -> str:
    """The block-order CSV: header and one line per order, every cell through ``guard``
    (UTF-8 text, comma separated, ``\\n`` line ends; a header only when there is no order)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for order in orders:
        cells = _cells(order)
        w.writerow(guard(cells[c]) for c in CSV_COLUMNS)
    return buf.getvalue()
