"""Read one canonical CSV file into a typed Polars frame, or say exactly what is wrong with it.

Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2.
The fast path is vectorised; the slow path (Python's csv module) runs only to locate an error.
Memory: the text is never wrapped in ``io.StringIO`` (four bytes per character): Polars reads
its UTF-8 bytes and the csv module reads lines lazily, so parsing peaks at about seven times
the file's size (nine before), and runs faster.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from ballast.errors import DataError
from ballast.kinds import POLARS_TYPES, ColType, Kind, detect_kind

_NUMBER = r"^-?\d+(\.\d+)?$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_SCALES = {ColType.QUANTITY: 6, ColType.PRICE: 6, ColType.MONEY: 4}


@dataclass(frozen=True)
class ParsedFile:
    """A custodian file read into its canonical kind; ``frame`` has a ``line`` column."""

    kind: Kind
    frame: pl.DataFrame


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else is a clear error."""
    if not data.strip():
        raise DataError(name, "the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(name, f"not UTF-8 text (byte {exc.start})", line=line) from None
    if "\x00" in text:
        raise DataError(name, "binary content (NUL bytes), not a CSV file")
    return text


def lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their line ends, one at a time (for ``csv.reader``)."""
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop + 1
        yield text[start:stop]
        start = stop


def read_header(text: str, name: str) -> list[str]:
    try:
        first = next(csv.reader(lines(text)), [])
    except csv.Error as exc:
        raise DataError(name, f"the header cannot be read as CSV ({exc})", line=1) from None
    header = [h.strip().lower() for h in first]
    if not any(header):
        raise DataError(name, "no header row", line=1)
    return header


def recognise(header: list[str], name: str) -> Kind:
    """The file's kind from its header, or an error naming what is missing."""
    kind, missing = detect_kind(header)
    if not missing:
        return kind
    if len(kind.columns) - len(missing) >= 3:
        raise DataError(
            name, f"looks like {kind.name} but lacks column(s) {', '.join(missing)}", line=1
        )
    raise DataError(
        name,
        "the header matches no known file kind (positions, lots, transactions, "
        "cash_flows, prices, securities)",
        line=1,
    )


def _ragged_row(text: str, width: int, name: str) -> tuple[int, int] | None:
    """Slow path: the first row whose field count differs from the header's."""
    rows = csv.reader(lines(text))
    try:
        for i, row in enumerate(rows, start=1):
            if row and len(row) != width:
                return i, len(row)
    except csv.Error as exc:
        raise DataError(name, f"cannot be read as CSV ({exc})", line=rows.line_num) from None
    return None


def _raw_frame(text: str, header: list[str], name: str) -> pl.DataFrame:
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DataError(name, f"column {dup!r} appears twice in the header", line=1)
    try:
        frame = pl.read_csv(
            text.encode("utf-8"),
            infer_schema=False,
            has_header=True,
            new_columns=header,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        ragged = _ragged_row(text, len(header), name)
        if ragged:
            line, n = ragged
            raise DataError(
                name, f"has {n} fields, the header has {len(header)}", line=line
            ) from None
        raise DataError(name, f"cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    if frame.is_empty():
        raise DataError(name, "has a header but no data rows")
    if frame[header[-1]].null_count():  # a short row is padded with nulls: find it exactly
        ragged = _ragged_row(text, len(header), name)
        if ragged:
            raise DataError(
                name, f"has {ragged[1]} fields, the header has {len(header)}", line=ragged[0]
            )
    return frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))


def _first_bad(frame: pl.DataFrame, col: str, ok: pl.Expr) -> tuple[int, str] | None:
    bad = frame.filter(pl.col(col).is_not_null() & ~ok).head(1)
    if bad.is_empty():
        return None
    return int(bad["line"][0]), str(bad[col][0])


def _typed(frame: pl.DataFrame, col: str, ctype: ColType, name: str) -> pl.Expr:
    """The expression that types one column, after checking every value can be typed."""
    if ctype is ColType.TEXT:
        return pl.col(col)
    if ctype is ColType.DATE:
        ok = (
            pl.col(col).str.contains(_DATE)
            & pl.col(col).str.to_date("%Y-%m-%d", strict=False).is_not_null()
        )
        if bad := _first_bad(frame, col, ok):
            raise DataError(name, f"{bad[1]!r} is not a date (YYYY-MM-DD)", bad[0], col)
        return pl.col(col).str.to_date("%Y-%m-%d")
    scale = _SCALES[ctype]
    if bad := _first_bad(frame, col, pl.col(col).str.contains(_NUMBER)):
        raise DataError(name, f"{bad[1]!r} is not a number", bad[0], col)
    decimals = pl.col(col).str.extract(r"\.(\d+)$").str.len_chars().fill_null(0)
    if bad := _first_bad(frame, col, decimals <= scale):
        raise DataError(name, f"{bad[1]!r} has more than {scale} decimals", bad[0], col)
    if bad := _first_bad(
        frame, col, pl.col(col).str.extract(r"^-?(\d+)").str.len_chars() <= 18 - scale
    ):
        raise DataError(name, f"{bad[1]!r} is too large", bad[0], col)
    return pl.col(col).cast(POLARS_TYPES[ctype])


def parse_text(text: str, name: str) -> ParsedFile:
    """Parse canonical CSV text: recognise the kind, type every column, keep source lines."""
    header = read_header(text, name)
    kind = recognise(header, name)
    frame = _raw_frame(text, header, name)
    columns = {c: t for c, t in kind.all_columns.items() if c in frame.columns}
    frame = frame.select("line", *columns).with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in columns
    )
    typed = frame.with_columns(_typed(frame, c, t, name).alias(c) for c, t in columns.items())
    return ParsedFile(kind, typed)


def parse_bytes(data: bytes, name: str) -> ParsedFile:
    return parse_text(decode(data, name), name)


def mentioned(data: bytes, column: str) -> list[str]:
    """Best effort: the distinct values of ``column`` in a file that may be broken."""
    try:
        text = data.decode("utf-8-sig", errors="replace")
        frame = pl.read_csv(
            text.encode("utf-8"),
            infer_schema=False,
            truncate_ragged_lines=True,
            ignore_errors=True,
        )
        frame = frame.rename({c: c.strip().lower() for c in frame.columns})
        if column not in frame.columns:
            return []
        return sorted(v.strip() for v in frame[column].drop_nulls().unique().to_list() if v)
    except Exception:  # a file broken enough for this to fail mentions nothing we can use
        return []
