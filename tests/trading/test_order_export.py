"""Block orders and FIX 4.4 NewOrderSingle messages from a review run (``trading.order_export``,
``trading.order_fix``, ``ballast orders``; docs/orders.md), with hand-worked figures.

The hand-made run (``DOC``), figures worked by hand:

- alpha, account A-1: buy 7 GEQ at $10.50 = $73.50.
- fam, account TAX-1 (taxable): two sales of GEQ at $100: 30 (lots L1 2015-03-02 × 20,
  L2 2019-06-01 × 10) and 15 (L2 × 5, L3 2020-01-15 × 10) → one SELL of 45 = $4,500.00,
  versus purchase L1 × 20, L2 × 15, L3 × 10 (45: the whole sale, ``VSP``).
  Sale of 10 EMKT at $20 = $200.00 whose lots cover 6 (E1 2021-05-05) → ``VSP_PARTIAL``.
  Buy 40 AGG at $50.25 = $2,010.00.
- fam, account IRA-9 (tax-deferred): sell 12 GEQ at $100 = $1,200.00, no lots (custodian's
  default method).
- zeta: data invalid, no trades → no line.

Sorted by portfolio, account, security, side: alpha/A-1/GEQ; fam/IRA-9/GEQ; fam/TAX-1/AGG,
EMKT, GEQ.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import subprocess
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import simplefix

from ballast.cli import orders as cli_orders
from ballast.errors import EXIT_UNPROVEN, EXIT_USAGE, Unproven
from ballast.reporting.results_text import csv_safe
from ballast.trading import order_export as oe
from ballast.trading import order_fix
from ballast.workspace import Workspace
from tests.support.one_line import BALLAST, TIMEOUT, env_for, run

RUN_ID = "20261124T201245Z-2ec698"
STARTED = dt.datetime(2026, 11, 24, 20, 12, 45, 123456)  # the run's recorded start (UTC)
SOH = b"\x01"


def _trade(account: str, security: str, side: str, qty: str, price: str, amount: str, lots=()):
    return {
        "account_id": account,
        "security_id": security,
        "side": side,
        "quantity": qty,
        "price": price,
        "amount": amount,
        "reason": "hand-made",
        "lots": [
            {"lot_id": i, "acquired_date": d, "quantity": q, "cost_basis": "1.00"}
            for i, d, q in lots
        ],
    }


DOC: dict[str, Any] = {
    "run_id": RUN_ID,
    "as_of": "2026-09-30",
    "kind": "quarterly_review",
    "trigger": "manual",
    "portfolios": [
        {
            "portfolio_id": "alpha",
            "status": "ok",
            "base_currency": "USD",
            "trades": [_trade("A-1", "GEQ", "buy", "7", "10.50", "73.50")],
        },
        {
            "portfolio_id": "fam",
            "status": "ok",
            "base_currency": "USD",
            "trades": [  # sells first, as results.json lists them
                _trade("IRA-9", "GEQ", "sell", "12", "100.00", "1200.00"),
                _trade(
                    "TAX-1",
                    "GEQ",
                    "sell",
                    "30",
                    "100.00",
                    "3000.00",
                    [("L1", "2015-03-02", "20"), ("L2", "2019-06-01", "10")],
                ),
                _trade(
                    "TAX-1", "EMKT", "sell", "10", "20.00", "200.00", [("E1", "2021-05-05", "6")]
                ),
                _trade(
                    "TAX-1",
                    "GEQ",
                    "sell",
                    "15",
                    "100.00",
                    "1500.00",
                    [("L2", "2019-06-01", "5"), ("L3", "2020-01-15", "10")],
                ),
                _trade("TAX-1", "AGG", "buy", "40", "50.25", "2010.00"),
            ],
        },
        {
            "portfolio_id": "zeta",
            "status": "data_invalid",
            "base_currency": "USD",
            "errors": ["positions.csv, row 3: bad"],
            "trades": [],
        },
    ],
}


def _doc(**changes: Any) -> dict[str, Any]:
    """DOC as results.json gives it back (text, numbers as Decimal), with ``changes``."""
    return oe.load_results(json.dumps({**copy.deepcopy(DOC), **changes}))


def _csv_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    text = oe.orders_csv(oe.block_orders(doc), csv_safe)
    return list(csv.DictReader(io.StringIO(text)))


def _fix(doc: dict[str, Any], **kw: Any) -> list[simplefix.FixMessage]:
    data = order_fix.fix_messages(oe.block_orders(doc), transact_time=STARTED, **kw)
    parser = simplefix.FixParser()
    parser.append_buffer(data)
    found = []
    while (msg := parser.get_message()) is not None:
        found.append(msg)
    assert len(found) == data.count(b"\n")  # one message per line
    return found


def _s(msg: simplefix.FixMessage, tag: int) -> str | None:
    value = msg.get(tag)
    return None if value is None else value.decode("utf-8")


# --- block orders -----------------------------------------------------------------------------


def test_one_line_per_account_security_side_in_sorted_order() -> None:
    """Trades of one account, security and side are summed; sorted, numbered from 1."""
    rows = _csv_rows(_doc())
    got = [
        (r["line"], r["portfolio_id"], r["account_id"], r["security_id"], r["side"], r["quantity"])
        for r in rows
    ]
    assert got == [
        ("1", "alpha", "A-1", "GEQ", "BUY", "7"),
        ("2", "fam", "IRA-9", "GEQ", "SELL", "12"),
        ("3", "fam", "TAX-1", "AGG", "BUY", "40"),
        ("4", "fam", "TAX-1", "EMKT", "SELL", "10"),
        ("5", "fam", "TAX-1", "GEQ", "SELL", "45"),
    ]
    assert list(rows[0]) == list(oe.CSV_COLUMNS)
    assert {(r["run_id"], r["as_of"], r["order_type"], r["currency"]) for r in rows} == {
        (RUN_ID, "2026-09-30", "MKT", "USD")
    }


def test_prices_values_and_lot_instructions() -> None:
    """Estimated value = the trades' amounts summed; lots relieved per lot, summed."""
    rows = {int(r["line"]): r for r in _csv_rows(_doc())}
    assert (rows[1]["price"], rows[1]["estimated_value"]) == ("10.50", "73.50")
    assert (rows[3]["price"], rows[3]["estimated_value"]) == ("50.25", "2010.00")
    assert (rows[5]["price"], rows[5]["estimated_value"]) == ("100.00", "4500.00")
    assert (rows[5]["lot_method"], rows[5]["lots"]) == (
        "VSP",
        "L1:2015-03-02:20;L2:2019-06-01:15;L3:2020-01-15:10",
    )
    assert oe.parse_lots(rows[5]["lots"]) == (
        oe.Lot("L1", "2015-03-02", D(20)),
        oe.Lot("L2", "2019-06-01", D(15)),
        oe.Lot("L3", "2020-01-15", D(10)),
    )
    assert (rows[4]["lot_method"], rows[4]["lots"]) == ("VSP_PARTIAL", "E1:2021-05-05:6")
    for n in (1, 2, 3):  # buys and the tax-deferred sale: the custodian's default method
        assert (rows[n]["lot_method"], rows[n]["lots"]) == ("", "")


def test_same_security_both_sides_sell_first() -> None:
    doc = _doc(
        portfolios=[
            {
                "portfolio_id": "p",
                "base_currency": "EUR",
                "trades": [
                    _trade("X", "S", "buy", "1", "2.00", "2.00"),
                    _trade("X", "S", "sell", "3", "2.00", "6.00"),
                ],
            }
        ]
    )
    assert [(o.line, o.side, o.currency) for o in oe.block_orders(doc)] == [
        (1, oe.Side.SELL, "EUR"),
        (2, oe.Side.BUY, "EUR"),
    ]


def test_unknown_price_or_amount_left_empty() -> None:
    """Different prices for one line give no price; an unknown amount, no value."""
    doc = _doc(
        portfolios=[
            {
                "portfolio_id": "p",
                "base_currency": "USD",
                "trades": [
                    _trade("X", "S", "buy", "1", "2.00", "2.00"),
                    {**_trade("X", "S", "buy", "2", "2.10", "4.20"), "amount": None},
                ],
            }
        ]
    )
    (row,) = _csv_rows(doc)
    assert (row["quantity"], row["price"], row["estimated_value"]) == ("3", "", "")


def test_fractional_quantities_summed_exactly() -> None:
    doc = _doc(
        portfolios=[
            {
                "portfolio_id": "p",
                "base_currency": "USD",
                "trades": [
                    _trade("X", "S", "buy", "0.1", "3.00", "0.30"),
                    _trade("X", "S", "buy", "0.2", "3.00", "0.60"),
                ],
            }
        ]
    )
    (order,) = oe.block_orders(doc)
    assert (order.quantity, order.value) == (D("0.3"), D("0.90"))
    assert _s(_fix(doc)[0], 38) == "0.3"


def test_monitor_run_is_refused_in_one_line() -> None:
    with pytest.raises(oe.OrderExportError) as info:
        oe.block_orders(_doc(kind="monitor", portfolios=[]))
    assert str(info.value).startswith(f"run {RUN_ID} is a monitor run: it proposes no trades")
    assert "\n" not in str(info.value) and info.value.exit_code == EXIT_USAGE


def test_review_without_trades_has_a_header_and_no_message() -> None:
    doc = _doc(portfolios=[{"portfolio_id": "p", "trades": []}])
    orders = oe.block_orders(doc)
    assert orders == []
    assert oe.orders_csv(orders, csv_safe) == ",".join(oe.CSV_COLUMNS) + "\n"
    assert order_fix.fix_messages(orders, transact_time=STARTED) == b""


def test_lots_beyond_the_sale_are_refused() -> None:
    doc = _doc(
        portfolios=[
            {
                "portfolio_id": "p",
                "trades": [
                    _trade("X", "S", "sell", "5", "1.00", "5.00", [("L", "2020-01-01", "6")])
                ],
            }
        ]
    )
    with pytest.raises(oe.OrderExportError, match="lots relieve 6 shares, more than the 5 sold"):
        oe.block_orders(doc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{", "not JSON"),
        (b"[]", "no list of portfolios"),
        (b'{"portfolios": [], "as_of": "2026-09-30", "kind": "monitor"}', "no run_id"),
    ],
)
def test_unusable_results_are_one_line(text: bytes, message: str) -> None:
    with pytest.raises(oe.OrderExportError, match=message):
        oe.load_results(text)


def test_bad_trade_names_its_place() -> None:
    doc = _doc()
    doc["portfolios"][1]["trades"][2]["quantity"] = "-3"
    with pytest.raises(oe.OrderExportError, match=r"portfolios\[1\]\.trades\[2\]\.quantity"):
        oe.block_orders(doc)


# --- identifiers and the lots text -----------------------------------------------------------


def test_cl_ord_id_from_run_id_and_line() -> None:
    assert oe.cl_ord_id(RUN_ID, 1) == "261124-2ec698-000001"
    assert oe.cl_ord_id(RUN_ID, 999_999) == "261124-2ec698-999999"
    odd = oe.cl_ord_id("hand-made run", 12)
    assert len(odd) == 20 and odd.endswith("-000012") and odd == oe.cl_ord_id("hand-made run", 12)
    assert odd != oe.cl_ord_id("another run", 12)
    with pytest.raises(oe.OrderExportError):
        oe.cl_ord_id(RUN_ID, 1_000_000)


@pytest.mark.parametrize(
    "lot_id", ["L:1", "L;2", "100%", "=1+1", "-7", "@SUM(A1)", "a\nb", "\x01", "Lé ☃", ""]
)
def test_any_lot_id_round_trips(lot_id: str) -> None:
    lots = (oe.Lot(lot_id, "2019-06-01", D("2.5")), oe.Lot("N", "2020-02-29", D(1)))
    text = oe.encode_lots(lots)
    assert oe.parse_lots(text) == lots
    assert text.isprintable() and not text.startswith(("=", "+", "-", "@"))
    assert csv_safe(text) == text  # never a formula: the guard leaves it alone


# --- formula safety ----------------------------------------------------------------------------


def test_formula_like_ids_are_never_formulas_in_the_csv() -> None:
    """An id like =HYPERLINK(...) is prefixed with an apostrophe in the CSV (the guard of
    trades.csv); in FIX it is only a value, byte for byte."""
    evil = '=HYPERLINK("http://x.example","click")'
    doc = _doc(
        portfolios=[
            {
                "portfolio_id": "+p",
                "base_currency": "USD",
                "trades": [
                    _trade("@acct", evil, "sell", "2", "1.00", "2.00", [("=L", "2020-01-01", "2")])
                ],
            }
        ]
    )
    (row,) = _csv_rows(doc)
    assert (row["portfolio_id"], row["account_id"], row["security_id"]) == (
        "'+p",
        "'@acct",
        "'" + evil,
    )
    assert row["lots"] == "%3DL:2020-01-01:2"
    assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())
    (msg,) = _fix(doc)
    assert (_s(msg, 55), _s(msg, 1), _s(msg, 58)) == (evil, "@acct", "VSP %3DL:2020-01-01:2")


def test_a_control_character_cannot_go_into_fix() -> None:
    doc = _doc()
    doc["portfolios"][0]["trades"][0]["account_id"] = "A\x011"
    with pytest.raises(
        oe.OrderExportError, match=r"order line 1: account_id 'A\\x011' holds a control"
    ):
        order_fix.fix_messages(oe.block_orders(doc), transact_time=STARTED)
    (row,) = [r for r in _csv_rows(doc) if r["line"] == "1"]
    assert row["account_id"] == "A\x011"  # the CSV quotes what it must


# --- FIX ---------------------------------------------------------------------------------------


def _checksum_ok(raw: bytes) -> bool:
    body, _, tail = raw.rpartition(b"10=")
    return tail == f"{sum(body) % 256:03d}".encode() + SOH


def _body_length_ok(raw: bytes) -> bool:
    _, _, rest = raw.partition(SOH + b"9=")
    length, _, body = rest.partition(SOH)
    return len(body[: body.rindex(b"10=")]) == int(length)


def test_fix_new_order_singles() -> None:
    msgs = _fix(_doc(), sender_comp_id="PM-DESK", target_comp_id="BROKER1")
    assert len(msgs) == 5
    for n, msg in enumerate(msgs, start=1):
        assert (_s(msg, 8), _s(msg, 35), _s(msg, 49), _s(msg, 56)) == (
            "FIX.4.4",
            "D",
            "PM-DESK",
            "BROKER1",
        )
        assert (_s(msg, 34), _s(msg, 11)) == (str(n), f"261124-2ec698-{n:06d}")
        assert (_s(msg, 40), _s(msg, 21), _s(msg, 15)) == ("1", "1", "USD")
        assert _s(msg, 60) == _s(msg, 52) == "20261124-20:12:45.123"
    sale = msgs[4]
    assert (_s(sale, 1), _s(sale, 55), _s(sale, 54), _s(sale, 38)) == ("TAX-1", "GEQ", "2", "45")
    assert _s(sale, 58) == "VSP L1:2015-03-02:20;L2:2019-06-01:15;L3:2020-01-15:10"
    buy = msgs[0]
    assert (_s(buy, 1), _s(buy, 55), _s(buy, 54), _s(buy, 38)) == ("A-1", "GEQ", "1", "7")
    assert _s(buy, 58) is None
    assert _s(msgs[3], 58) == "VSP_PARTIAL E1:2021-05-05:6"


def test_fix_names_the_instrument_from_the_security_master() -> None:
    """Symbol(55) is the master's symbol; SecurityID(48) the ISIN with SecurityIDSource(22) 4,
    else the CUSIP with 1; a security the master does not know keeps ballast's id and no 48/22.
    (Identifiers with valid check digits.)"""
    master = {
        "GEQ": order_fix.SecurityIds("VT", "US9220427424", "922042742"),
        "AGG": order_fix.SecurityIds("AGG2", None, "921937793"),
    }
    msgs = _fix(_doc(), master=master)
    sale = msgs[4]
    assert (_s(sale, 55), _s(sale, 48), _s(sale, 22)) == ("VT", "US9220427424", "4")
    agg = [m for m in msgs if _s(m, 55) == "AGG2"]
    assert agg and {(_s(m, 48), _s(m, 22)) for m in agg} == {("921937793", "1")}
    others = [m for m in msgs if _s(m, 55) not in ("VT", "AGG2")]
    assert others and all(_s(m, 48) is None and _s(m, 22) is None for m in others)
    plain = _fix(_doc())
    assert [_s(m, 55) for m in plain] == [
        {"VT": "GEQ", "AGG2": "AGG"}.get(_s(m, 55) or "", _s(m, 55)) for m in msgs
    ]


def test_fix_framing_body_length_and_checksum() -> None:
    data = order_fix.fix_messages(oe.block_orders(_doc()), transact_time=STARTED)
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 6
    for raw in lines[:-1]:
        assert raw.startswith(b"8=FIX.4.4" + SOH + b"9=") and raw.endswith(SOH)
        assert b"\n" not in raw and _checksum_ok(raw) and _body_length_ok(raw)
    broken = lines[0].replace(b"38=7", b"38=8")
    assert not _checksum_ok(broken)


def test_aware_transact_time_is_given_in_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    when = dt.datetime(2026, 11, 24, 21, 12, 45, 123000, tzinfo=paris)
    data = order_fix.fix_messages(oe.block_orders(_doc())[:1], transact_time=when)
    assert b"60=20261124-20:12:45.123" + SOH in data


def test_exports_are_deterministic() -> None:
    """Two exports are identical, whatever order the trades come in."""
    first = _doc()
    shuffled = _doc()
    shuffled["portfolios"].reverse()
    shuffled["portfolios"][1]["trades"].reverse()
    orders = [oe.block_orders(d) for d in (first, first, shuffled)]
    csvs = {oe.orders_csv(o, csv_safe) for o in orders}
    fixes = {order_fix.fix_messages(o, transact_time=STARTED) for o in orders}
    assert len(csvs) == 1 and len(fixes) == 1


def test_lots_from_a_real_results_document(empty_ws: Workspace) -> None:
    """Through the real writer (``test_lot_output``'s case, min_tax): T sells 5,000 X at $100,
    relieving L2 (2016-01-04) × 2,000 and L1 (2024-03-01) × 3,000: one VSP line, $500,000."""
    from ballast.reporting import results_text
    from tests.trading.test_lot_output import RUN, _entries

    text = results_text.results_document({**RUN, "run_id": RUN_ID}, _entries(empty_ws))
    orders = oe.block_orders(oe.load_results(text))
    sale = next(o for o in orders if o.side is oe.Side.SELL)
    assert (sale.account_id, sale.security_id, sale.quantity, sale.value) == (
        "T",
        "X",
        D(5000),
        D("500000.00"),
    )
    assert (sale.lot_method, oe.encode_lots(sale.lots)) == (
        "VSP",
        "L2:2016-01-04:2000;L1:2024-03-01:3000",
    )
    assert {(o.security_id, o.side) for o in orders} == {("X", oe.Side.SELL), ("B", oe.Side.BUY)}


# --- reading the run folder; the command's own checks -----------------------------------------


def test_run_files_are_read_only_when_regular(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_bytes(b"{}")
    assert oe.read_run_file(real) == b"{}"
    linked = tmp_path / "results.json"
    linked.symlink_to(real)
    with pytest.raises(Unproven, match="a symbolic link") as info:
        oe.read_run_file(linked)
    assert info.value.exit_code == EXIT_UNPROVEN
    with pytest.raises(Unproven, match=r"not found: the run's gone\.json is gone"):
        oe.read_run_file(tmp_path / "gone.json")


def test_out_is_never_inside_reports(empty_ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(cli_orders.BallastError, match="inside the workspace's reports/"):
        cli_orders._out_path(empty_ws, empty_ws.reports / "2026-09-30" / "r" / "orders.csv")
    with pytest.raises(cli_orders.BallastError, match="is a folder"):
        cli_orders._out_path(empty_ws, tmp_path)
    link = tmp_path / "sneaky"
    link.symlink_to(empty_ws.reports)
    with pytest.raises(cli_orders.BallastError, match="inside the workspace's reports/"):
        cli_orders._out_path(empty_ws, link / "orders.csv")


def test_out_replaces_a_link_instead_of_following_it(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    out = tmp_path / "orders.csv"
    out.symlink_to(target)
    cli_orders._write(out, b"a,b\n")
    assert target.read_text() == "keep"
    assert not out.is_symlink() and out.read_bytes() == b"a,b\n"
    with pytest.raises(cli_orders.OutNotWritten, match="cannot write it"):
        cli_orders._write(tmp_path / "no-such-folder" / "o.csv", b"")


# --- the command on a real review ------------------------------------------------------------


@pytest.mark.slow
def test_ballast_orders_on_the_demo_review(demo_ws: Workspace, prefect_harness, tmp_path) -> None:
    """The demo's seed-60-40 case (README): sell 7,200 GEQ and buy 7,200 IGB at $100 in
    INST-001 ($720,000 each way); CSV on stdout, FIX to --out; unknown and monitor runs are
    one line each."""
    from ballast.flows.review import monitor, quarterly_review

    as_of = "2026-09-30"
    master = demo_ws.root / "reference" / "securities.csv"
    master.write_text(
        master.read_text()
        .replace(
            "GEQ,GEQ,Global Equity Index Fund,global_equity,,,",
            "GEQ,VT,Global Equity Index Fund,global_equity,,US9220427424,",
        )
        .replace(
            "IGB,IGB,Investment Grade Bond Fund,ig_bonds,,,",
            "IGB,IGB,Investment Grade Bond Fund,ig_bonds,,,921937793",
        )
    )
    run_id = quarterly_review(workspace=str(demo_ws.root), as_of=as_of)["run_id"]
    ws = ["-w", str(demo_ws.root)]

    def ballast(*args: str) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [BALLAST, "orders", *args, *ws],
            cwd=tmp_path,
            env=env_for(tmp_path),
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
        return proc

    rows = list(csv.DictReader(io.StringIO(ballast(run_id).stdout.decode("utf-8"))))
    seed = [
        (r["account_id"], r["security_id"], r["side"], r["quantity"], r["estimated_value"])
        for r in rows
        if r["portfolio_id"] == "seed-60-40"
    ]
    assert seed == [
        ("INST-001", "GEQ", "SELL", "7200", "720000.00"),
        ("INST-001", "IGB", "BUY", "7200", "720000.00"),
    ]
    assert [r["line"] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]
    assert "lakeside-pension" not in {r["portfolio_id"] for r in rows}  # data invalid

    out = tmp_path / "orders.fix"
    proc = ballast(run_id, "--format", "fix", "--out", str(out), "--target-comp-id", "BROKER")
    assert proc.stdout.decode().startswith(f"{len(rows)} orders of run {run_id} written to")
    parser = simplefix.FixParser()
    parser.append_buffer(out.read_bytes())
    msgs = []
    while (msg := parser.get_message()) is not None:
        msgs.append(msg)
    assert [_s(m, 11) for m in msgs] == [r["cl_ord_id"] for r in rows]
    assert {_s(m, 56) for m in msgs} == {"BROKER"}
    seed_fix = [
        (_s(m, 55), _s(m, 48), _s(m, 22), _s(m, 54)) for m in msgs if _s(m, 1) == "INST-001"
    ]
    assert seed_fix == [("VT", "US9220427424", "4", "2"), ("IGB", "921937793", "1", "1")]
    assert ballast(run_id).stdout == ballast(run_id).stdout  # deterministic

    unknown, line = run([BALLAST, "orders", "nosuch", *ws], tmp_path)
    assert unknown.returncode == EXIT_USAGE and line.startswith("error: no run nosuch")
    monitor_id = monitor(workspace=str(demo_ws.root), as_of=as_of)["run_id"]
    refused, line = run([BALLAST, "orders", monitor_id, *ws], tmp_path)
    assert refused.returncode == EXIT_USAGE
    assert line.startswith(f"error: run {monitor_id} is a monitor run: it proposes no trades")
