"""Values the warehouse cannot hold or print are row errors (issue #11 item 1): dates outside
1900-01-01..2200-12-31, numbers beyond their column's DECIMAL precision, identifiers too long or
holding line breaks or bidi marks. Each quarantines its own file, names file, row and column on
one line, and never stops the files after it, in this run or the next. Real DuckDB, real ingest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ballast.errors import DataError
from ballast.ingest import adapters, inbox, values
from ballast.ingest.reader import ParsedFile
from ballast.kinds import ID_MAX_LENGTH, POSITIONS, identifier_problem
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.ingest.test_ingest import HEADER, SECURITIES, count, ingest

ROW = "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n"
LOTS = "as_of_date,account_id,security_id,lot_id,acquired_date,quantity,cost_basis\n"
TXNS = "transaction_id,trade_date,account_id,security_id,type,quantity,amount,currency\n"


def drop(ws: Workspace, name: str, text: str) -> Path:
    path = ws.inbox / name
    path.write_text(text, encoding="utf-8")
    return path


def reasons(report: inbox.IngestReport) -> dict[str, str]:
    return {q["file"]: q["reason"] for q in report.quarantined}


def loaded(report: inbox.IngestReport) -> list[str]:
    return [e["file"] for e in report.loaded]


def reason_file(ws: Workspace, report: inbox.IngestReport, name: str) -> str:
    (entry,) = [q for q in report.quarantined if q["file"] == name]
    note = Path(entry["quarantine_path"] + ".reason.txt")
    return note.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("day", ["0000-01-01", "1899-12-31", "2201-01-01", "9999-12-31"])
def test_date_out_of_range_quarantines_its_file_only(empty_ws: Workspace, day: str) -> None:
    """The row dated 0000-01-01 (which once crashed every later ingest) is a row error; the
    files before and after it load in the same run, and new files load in the next one."""
    drop(empty_ws, "a_good.csv", HEADER + ROW)
    drop(empty_ws, "b_bad.csv", HEADER + ROW.replace("A1", "B1") + ROW.replace("2026-09-30", day))
    drop(empty_ws, "c_good.csv", HEADER + ROW.replace("A1", "C1"))
    report = ingest(empty_ws)
    assert loaded(report) == ["a_good.csv", "c_good.csv"]
    expected = (
        f"b_bad.csv, row 3, column as_of_date: {day} is outside the dates ballast accepts "
        "(1900-01-01 to 2200-12-31)"
    )
    assert reasons(report) == {"b_bad.csv": expected}
    assert reason_file(empty_ws, report, "b_bad.csv") == expected
    assert not (empty_ws.inbox / "b_bad.csv").exists()  # moved to quarantine/, not left to crash
    assert count(empty_ws, "positions") == 2
    drop(empty_ws, "d_good.csv", HEADER + ROW.replace("A1", "D1"))
    again = ingest(empty_ws)
    assert loaded(again) == ["d_good.csv"] and again.quarantined == []
    assert count(empty_ws, "positions") == 3


@pytest.mark.parametrize("day", ["1900-01-01", "2200-12-31"])
def test_dates_at_the_ends_of_the_range_load(empty_ws: Workspace, day: str) -> None:
    drop(empty_ws, "pos.csv", HEADER + ROW.replace("2026-09-30", day))
    report = ingest(empty_ws)
    assert loaded(report) == ["pos.csv"], report.quarantined


@pytest.mark.parametrize(
    ("name", "text", "column"),
    [
        ("lots.csv", LOTS + "2026-09-30,A1,GEQ,l1,0000-01-01,10,100.00\n", "acquired_date"),
        ("txns.csv", TXNS + "t1,1899-12-31,A1,GEQ,BUY,1,-1.00,USD\n", "trade_date"),
    ],
)
def test_every_date_column_is_checked(
    empty_ws: Workspace, name: str, text: str, column: str
) -> None:
    report = ingest_one(empty_ws, name, text)
    assert reasons(report)[name].startswith(f"{name}, row 2, column {column}: ")
    assert "is outside the dates ballast accepts" in reasons(report)[name]


def ingest_one(ws: Workspace, name: str, text: str) -> inbox.IngestReport:
    drop(ws, name, text)
    report = ingest(ws)
    assert loaded(report) == [], report.loaded
    return report


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        # DECIMAL(18,6): 12 integer digits at most
        ("2026-09-30,A1,GEQ,1000000000000,1,1000000000000.00,USD", "quantity", "is too large"),
        # DECIMAL(18,4): 14 integer digits at most
        ("2026-09-30,A1,GEQ,1,1,100000000000000.00,USD", "market_value", "is too large"),
        ("2026-09-30,A1,GEQ,1.0000001,1,1.00,USD", "quantity", "has more than 6 decimals"),
        ("2026-09-30,A1,GEQ,1,1,1.00001,USD", "market_value", "has more than 4 decimals"),
    ],
)
def test_number_beyond_the_columns_precision(
    empty_ws: Workspace, row: str, column: str, message: str
) -> None:
    drop(empty_ws, "a_good.csv", HEADER + ROW)
    report = ingest_one_more(empty_ws, "b_big.csv", HEADER + row + "\n")
    reason = reasons(report)["b_big.csv"]
    assert reason.startswith(f"b_big.csv, row 2, column {column}: ") and reason.endswith(message)
    assert count(empty_ws, "positions") == 1


def ingest_one_more(ws: Workspace, name: str, text: str) -> inbox.IngestReport:
    drop(ws, name, text)
    report = ingest(ws)
    assert name in reasons(report)
    return report


def test_value_check_catches_what_an_adapter_lets_through() -> None:
    """The last line of defence after any adapter: a number wider than the column, a date out of
    range, a bad identifier are row errors naming row and column."""
    good = {
        "line": [2, 3],
        "as_of_date": [dt.date(2026, 9, 30)] * 2,
        "account_id": ["A1", "A1"],
        "security_id": ["GEQ", "IGB"],
        "quantity": [Decimal("1"), Decimal("1")],
        "price": [Decimal("1"), Decimal("1")],
        "market_value": [Decimal("1"), Decimal("1")],
        "currency": ["USD", "USD"],
    }
    schema = {
        "line": pl.Int64,
        "as_of_date": pl.Date,
        "quantity": pl.Decimal(38, 6),
        "price": pl.Decimal(38, 6),
        "market_value": pl.Decimal(38, 4),
    }

    def check(**changes: list[object]) -> str:
        frame = pl.DataFrame(good | changes, schema_overrides=schema)
        try:
            values.check(ParsedFile(POSITIONS, frame), "x.xml")
        except DataError as exc:
            return str(exc)
        return "ok"

    assert check() == "ok"
    assert check(quantity=[Decimal("1"), Decimal("10") ** 13]) == (
        "x.xml, row 3, column quantity: 10000000000000.000000 does not fit the column "
        "(Decimal(precision=18, scale=6))"
    )
    assert check(as_of_date=[dt.date(2026, 9, 30), dt.date(1, 1, 1)]) == (
        "x.xml, row 3, column as_of_date: 0001-01-01 is outside the dates ballast accepts "
        "(1900-01-01 to 2200-12-31)"
    )
    assert check(account_id=["A1", "A\u202e1"]) == (
        "x.xml, row 3, column account_id: 'A\\u202e1' contains U+202E RIGHT-TO-LEFT OVERRIDE, "
        "which an identifier may not hold"
    )
    assert check(currency=["USD", "U\u200bSD"]) == (
        "x.xml, row 3, column currency: 'U\\u200bSD' contains U+200B ZERO WIDTH SPACE, "
        "which text may not hold"
    )


@pytest.mark.parametrize(
    ("account", "problem"),
    [
        ("A" * (ID_MAX_LENGTH + 1), f"is {ID_MAX_LENGTH + 1} characters long, more than 64"),
        ('"A\nB"', "contains U+000A (a control character), which an identifier may not hold"),
        ("A\u202eB", "contains U+202E RIGHT-TO-LEFT OVERRIDE, which an identifier may not hold"),
        ("A\u200fB", "contains U+200F RIGHT-TO-LEFT MARK, which an identifier may not hold"),
        ("A\x1b[31mB", "contains U+001B (a control character), which an identifier may not hold"),
        ("A;B", "contains ';', which an identifier may not hold"),
    ],
)
def test_bad_identifier_is_a_row_error_printed_on_one_line(
    empty_ws: Workspace, account: str, problem: str
) -> None:
    drop(empty_ws, "a_good.csv", HEADER + ROW)
    report = ingest_one_more(empty_ws, "b_id.csv", HEADER + ROW.replace("A1", account))
    reason = reasons(report)["b_id.csv"]
    assert reason.startswith("b_id.csv, row 2, column account_id: ")
    assert reason.endswith(problem)
    assert reason.isprintable() and "\u202e" not in reason and "\n" not in reason
    assert reason_file(empty_ws, report, "b_id.csv") == reason
    assert loaded(report) == ["a_good.csv"]


def test_identifier_at_the_length_limit_loads(empty_ws: Workspace) -> None:
    account = "Á" * ID_MAX_LENGTH  # characters, not bytes
    drop(empty_ws, "pos.csv", HEADER + ROW.replace("A1", account))
    assert loaded(ingest(empty_ws)) == ["pos.csv"]
    assert identifier_problem(account) is None


def test_security_master_text_must_be_printable(empty_ws: Workspace) -> None:
    """A bidi override in a security name is refused with the master, and none is loaded."""
    empty_ws.securities.write_text(
        SECURITIES.replace("Equity", "Equity\u202eLAVE"), encoding="utf-8"
    )
    report = ingest(empty_ws)
    assert reasons(report) == {
        "securities.csv": "securities.csv, row 2, column name: 'Equity\\u202eLAVE' contains "
        "U+202E RIGHT-TO-LEFT OVERRIDE, which text may not hold"
    }
    assert count(empty_ws, "securities") == 0


def test_flex_statement_date_out_of_range_is_a_row_error(empty_ws: Workspace) -> None:
    """Custodian formats go through the same rule (here an IBKR trade dated 1899)."""
    xml = (
        '<FlexQueryResponse queryName="q" type="AF"><FlexStatements count="1">\n'
        '<FlexStatement accountId="U1" fromDate="2026-09-01" toDate="2026-09-30">\n'
        '<Trades>\n<Trade accountId="U1" symbol="GEQ" assetCategory="STK" currency="USD" '
        'quantity="1" netCash="-1" buySell="BUY" tradeDate="18991231" transactionID="7" '
        'levelOfDetail="EXECUTION"/>\n</Trades>\n</FlexStatement></FlexStatements>'
        "</FlexQueryResponse>\n"
    )
    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    ingest(empty_ws)
    report = ingest_one_more(empty_ws, "flex.xml", xml)
    assert reasons(report)["flex.xml"] == (
        "flex.xml, row 4, column trade_date: 1899-12-31 is outside the dates ballast accepts "
        "(1900-01-01 to 2200-12-31)"
    )


def test_year_zero_in_a_broken_file_does_not_break_its_ledger_row(empty_ws: Workspace) -> None:
    """A file quarantined for another reason that also names year 0 is still recorded (the
    ledger keeps only the dates it can hold)."""
    drop(
        empty_ws,
        "bad.csv",
        HEADER + "0000-01-01,A1,GEQ,x,100.00,1000.00,USD\n2026-09-30,A1,GEQ,1,1,1.00,USD\n",
    )
    report = ingest(empty_ws)
    assert list(reasons(report)) == ["bad.csv"]
    with db.connect(empty_ws.warehouse) as con:
        (dates,) = con.execute("select as_of_dates from file_ledger").fetchone()
    assert dates == [dt.date(2026, 9, 30)]


def test_fuzzed_dates_never_escape_as_exceptions() -> None:
    """Every four-digit year either parses into range or is a one-line row error."""
    for year in (0, 1, 1899, 1900, 2200, 2201, 9999):
        text = HEADER + f"{year:04d}-06-30,A1,GEQ,1,1,1.00,USD\n"
        try:
            inbox.parse_file(text.encode(), "f.csv", adapters.Context(securities=None))
        except DataError as exc:
            assert not 1900 <= year <= 2200, exc
            assert "\n" not in str(exc)
        else:
            assert 1900 <= year <= 2200
