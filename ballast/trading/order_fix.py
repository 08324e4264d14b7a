"""Block orders as FIX 4.4 NewOrderSingle (35=D) messages, built with ``simplefix`` (BodyLength
and CheckSum computed by it, never tags concatenated by hand); see docs/orders.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import simplefix

from ballast.trading.order_export import (
    BlockOrder,
    OrderExportError,
    Side,
    encode_lots,
    plain,
)

FIX_VERSION = "FIX.4.4"
SENDER_COMP_ID = "BALLAST"
TARGET_COMP_ID = "DESK"
HANDL_INST = "1"  # automated execution order, private, no broker intervention
FIX_SIDE = {Side.BUY: "1", Side.SELL: "2"}  # Side(54)


def _fix_text(value: str, what: str, line: int | None = None) -> str:
    """``value`` if a FIX field can carry it: not empty, no SOH, line break or other control."""
    where = "" if line is None else f"order line {line}: "
    if not value:
        raise OrderExportError(f"{where}{what} is empty; a FIX field cannot be")
    if not value.isprintable():
        raise OrderExportError(
            f"{where}{what} {value!r} holds a control character a FIX message cannot carry"
        )
    return value


def _utc(when: dt.datetime) -> dt.datetime:
    """Naive times are UTC (as the warehouse keeps them)."""
    return when if when.tzinfo is None else when.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class SecurityIds:
    """A security's market identifiers from the security master (``reference/securities.csv``)."""

    symbol: str | None = None
    isin: str | None = None
    cusip: str | None = None


ISIN_SOURCE, CUSIP_SOURCE = "4", "1"  # SecurityIDSource(22)


def _instrument(msg: simplefix.FixMessage, order: BlockOrder, ids: SecurityIds | None) -> None:
    """Symbol(55): the master's symbol, else ballast's security id; SecurityID(48) with
    SecurityIDSource(22): the ISIN (4), else the CUSIP (1), when the master has one."""
    n = order.line
    symbol = ids.symbol if ids is not None and ids.symbol else order.security_id
    msg.append_pair(55, _fix_text(symbol, "symbol", n))
    if ids is not None and (ids.isin or ids.cusip):
        source = ISIN_SOURCE if ids.isin else CUSIP_SOURCE
        msg.append_pair(48, _fix_text(ids.isin or ids.cusip or "", "security id", n))
        msg.append_pair(22, source)


def fix_message(
    order: BlockOrder,
    *,
    transact_time: dt.datetime,
    sender_comp_id: str = SENDER_COMP_ID,
    target_comp_id: str = TARGET_COMP_ID,
    ids: SecurityIds | None = None,
) -> bytes:
    """One NewOrderSingle (35=D), BodyLength(9) and CheckSum(10) computed by simplefix.
    MsgSeqNum(34) is the line number; SendingTime(52) = TransactTime(60) = ``transact_time``
    (the run's recorded start: never the clock); the instrument from ``ids`` (``_instrument``).
    A sale's lots go in Text(58) as ``<lot_method> <lots>``."""
    n = order.line
    when = _utc(transact_time)
    msg = simplefix.FixMessage()
    msg.append_pair(8, FIX_VERSION, header=True)
    msg.append_pair(35, "D", header=True)
    msg.append_pair(49, _fix_text(sender_comp_id, "SenderCompID"), header=True)
    msg.append_pair(56, _fix_text(target_comp_id, "TargetCompID"), header=True)
    msg.append_pair(34, n, header=True)
    msg.append_utc_timestamp(52, when, precision=3, header=True)
    msg.append_pair(11, order.cl_ord_id)
    msg.append_pair(1, _fix_text(order.account_id, "account_id", n))
    msg.append_pair(21, HANDL_INST)
    _instrument(msg, order, ids)
    msg.append_pair(54, FIX_SIDE[order.side])
    msg.append_utc_timestamp(60, when, precision=3)
    msg.append_pair(38, plain(order.quantity))
    msg.append_pair(40, "1")
    if order.currency:
        msg.append_pair(15, _fix_text(order.currency, "currency", n))
    if order.lots:
        msg.append_pair(58, f"{order.lot_method} {encode_lots(order.lots)}")
    encoded: bytes = msg.encode()
    return encoded


def fix_messages(
    orders: Sequence[BlockOrder],
    *,
    transact_time: dt.datetime,
    sender_comp_id: str = SENDER_COMP_ID,
    target_comp_id: str = TARGET_COMP_ID,
    master: Mapping[str, SecurityIds] | None = None,
) -> bytes:
    """The FIX file: one SOH-delimited message per order, each followed by ``\\n`` (empty when
    there is no order); ``master``: the identifiers of each security id."""
    return b"".join(
        fix_message(
            o,
            transact_time=transact_time,
            sender_comp_id=sender_comp_id,
            target_comp_id=target_comp_id,
            ids=(master or {}).get(o.security_id),
        )
        + b"\n"
        for o in orders
    )
