"""Every value of a parsed file can be stored and printed, or the file is refused at its first bad
row: dates in a sane range, decimals within their column's precision, identifiers that follow
the identifier rules (``ballast.kinds``), text without control or bidi characters.

Runs on the typed frames of every format (canonical CSV and the custodian adapters alike), before
validation, so that nothing later (GX's pandas copy, the DuckDB append, a Python ``date``) meets
a value it cannot hold. Vectorised; Python looks only at the one value a message quotes.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ballast.errors import DataError
from ballast.ingest.reader import ParsedFile
from ballast.kinds import (
    HIDDEN_TEXT_REGEX,
    ID_MAX_LENGTH,
    ID_REGEX,
    IDENTIFIER_COLUMNS,
    POLARS_TYPES,
    ColType,
    identifier_problem,
    text_problem,
)

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2200, 12, 31)
_SHOWN = 40  # characters of a value quoted in a message


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def _identifier_ok(col: str) -> pl.Expr:
    c = pl.col(col)
    return (
        c.str.contains(ID_REGEX)
        & (c.str.len_chars() <= ID_MAX_LENGTH)
        & ~c.str.starts_with(" ")
        & ~c.str.ends_with(" ")
    )


def _rule(col: str, ctype: ColType) -> pl.Expr:
    """True where the column's value may be stored (nulls are validation's business)."""
    c = pl.col(col)
    if ctype is ColType.DATE:
        return c.is_between(EARLIEST, LATEST)
    if ctype is not ColType.TEXT:
        return c.cast(POLARS_TYPES[ctype], strict=False).is_not_null()
    if col in IDENTIFIER_COLUMNS:
        return _identifier_ok(col)
    return ~c.str.contains(HIDDEN_TEXT_REGEX)


def _message(col: str, ctype: ColType, value: str) -> str:
    if ctype is ColType.DATE:
        return (
            f"{value} is outside the dates ballast accepts "
            f"({EARLIEST.isoformat()} to {LATEST.isoformat()})"
        )
    if ctype is not ColType.TEXT:
        return f"{value} does not fit the column ({POLARS_TYPES[ctype]})"
    problem = identifier_problem(value) if col in IDENTIFIER_COLUMNS else text_problem(value)
    return f"{_shown(value)} {problem or 'cannot be stored'}"


def check(part: ParsedFile, name: str) -> None:
    """Raise a ``DataError`` (file, row, column) for the first value that cannot be stored."""
    frame = part.frame
    columns = {c: t for c, t in part.kind.all_columns.items() if c in frame.columns}
    if not columns or frame.is_empty():
        return
    bad = {c: (pl.col(c).is_not_null() & ~_rule(c, t)).fill_null(False) for c, t in columns.items()}
    found = frame.select(e.any().alias(c) for c, e in bad.items()).row(0, named=True)
    for col, ctype in columns.items():
        if not found[col]:
            continue
        text = pl.col(col).dt.to_string("%Y-%m-%d") if ctype is ColType.DATE else pl.col(col)
        first = frame.filter(bad[col]).select("line", text.cast(pl.String).alias("v")).row(0)
        raise DataError(name, _message(col, ctype, first[1]), int(first[0]), col)
