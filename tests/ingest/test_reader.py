"""Reading canonical CSV: kinds from headers, exact types, errors naming file, row and column."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from ballast.errors import DataError
from ballast.ingest.reader import parse_bytes

HEADER = b"as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
GOOD = (
    HEADER + b"2026-09-30,A1,GEQ,75000,100.00,7500000.00,USD\n2026-09-30,A1,CASH,10.5,1,10.50,USD\n"
)


def test_positions_typed_with_lines() -> None:
    """Numbers become exact decimals; each row keeps its spreadsheet row number."""
    parsed = parse_bytes(GOOD, "pos.csv")
    assert parsed.kind.name == "positions"
    assert parsed.frame["quantity"].to_list() == [D("75000"), D("10.5")]
    assert parsed.frame["line"].to_list() == [2, 3]


def test_kind_from_header_not_name() -> None:
    """A prices file is recognised by its columns whatever it is called."""
    data = b"as_of_date,security_id,price,currency\n2026-09-30,GEQ,100.00,USD\n"
    assert parse_bytes(data, "positions.csv").kind.name == "prices"


def test_header_case_and_spaces_ignored() -> None:
    """Header names are matched case-insensitively, surrounding spaces ignored."""
    data = GOOD.replace(b"as_of_date,account_id", b" As_Of_Date , ACCOUNT_ID")
    assert parse_bytes(data, "p.csv").kind.name == "positions"


def test_bom_is_accepted() -> None:
    """A UTF-8 byte-order mark does not hide the first column."""
    assert parse_bytes(b"\xef\xbb\xbf" + GOOD, "p.csv").kind.name == "positions"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            GOOD.replace(b"75000", b"75O00"),
            "p.csv, row 2, column quantity: '75O00' is not a number",
        ),
        (
            GOOD.replace(b"2026-09-30,A1,CASH", b"30/09/2026,A1,CASH"),
            "p.csv, row 3, column as_of_date: '30/09/2026' is not a date (YYYY-MM-DD)",
        ),
        (GOOD.replace(b"100.00", b"1,000.00"), "p.csv, row 2: has 8 fields, the header has 7"),
        (GOOD + b"2026-09-30,A1\n", "p.csv, row 4: has 2 fields, the header has 7"),
        (
            GOOD.replace(b"10.50", b"1e3"),
            "p.csv, row 3, column market_value: '1e3' is not a number",
        ),
        (
            GOOD.replace(b"100.00", b"100.0000001"),
            "p.csv, row 2, column price: '100.0000001' has more than 6 decimals",
        ),
        (b"", "p.csv: the file is empty"),
        (HEADER, "p.csv: has a header but no data rows"),
        (
            GOOD.replace(b",market_value", b""),
            "p.csv, row 1: looks like positions but lacks column(s) market_value",
        ),
        (b"foo,bar\n1,2\n", "p.csv, row 1: the header matches no known file kind"),
        (b"\xff\xfe" + GOOD, "p.csv, row 1: not UTF-8 text"),
    ],
)
def test_errors_name_file_row_column(data: bytes, message: str) -> None:
    """Every way a file can be unreadable gives one line naming where."""
    with pytest.raises(DataError) as exc:
        parse_bytes(data, "p.csv")
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_size_limits_follow_the_column_scale() -> None:
    """Money (4 decimals in 18 digits) takes 14 integer digits; quantities and prices 12."""
    ok = HEADER + b"2026-09-30,A1,GEQ,999999999999,1,99999999999999.0000,USD\n"
    assert parse_bytes(ok, "p.csv").frame["market_value"][0] == D("99999999999999")
    for bad, col in (
        (b"2026-09-30,A1,GEQ,1,1,999999999999999,USD\n", "market_value"),
        (b"2026-09-30,A1,GEQ,1000000000000,1,1,USD\n", "quantity"),
    ):
        with pytest.raises(DataError, match=f"column {col}: .* is too large"):
            parse_bytes(HEADER + bad, "p.csv")
