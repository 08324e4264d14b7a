"""Map custodian identifiers to security ids through the security master: isin, cusip, symbol.

Each identifier is tried in that order; the first that names exactly one security wins. A row
that matches nothing (or only an identifier the master uses for several securities) is a
``DataError`` that names the identifiers and the row, never a silent drop.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ballast.errors import DataError

KEYS = ("isin", "cusip", "symbol")


def _norm(expr: pl.Expr) -> pl.Expr:
    """Identifiers compare trimmed and upper-cased; blanks are missing."""
    return expr.cast(pl.String).str.strip_chars().str.to_uppercase().replace("", None)


def _lookup(securities: pl.DataFrame, key: str) -> pl.DataFrame:
    """key value -> its security ids (more than one: ambiguous)."""
    if key not in securities.columns or securities.is_empty():
        return pl.DataFrame(
            schema={"value": pl.String, "ids": pl.List(pl.String)},
        )
    return (
        securities.select(_norm(pl.col(key)).alias("value"), pl.col("security_id"))
        .drop_nulls()
        .group_by("value")
        .agg(pl.col("security_id").unique().sort().alias("ids"))
    )


def map_ids(
    rows: pl.DataFrame,
    securities: pl.DataFrame,
    file: str,
    column: str | None = None,
) -> pl.Series:
    """The security id of every row of ``rows`` (columns ``line`` and any of isin/cusip/symbol).

    ``column`` names the source column an error points at (default: none).
    """
    frame = rows.with_row_index("_i").with_columns(
        _norm(pl.col(k)).alias(k) if k in rows.columns else pl.lit(None, pl.String).alias(k)
        for k in KEYS
    )
    for key in KEYS:
        table = _lookup(securities, key).rename({"value": key, "ids": f"_{key}_ids"})
        frame = frame.join(table, on=key, how="left", nulls_equal=False)
    picked = pl.coalesce(
        pl.when(pl.col(f"_{k}_ids").list.len() == 1).then(pl.col(f"_{k}_ids").list.first())
        for k in KEYS
    )
    frame = frame.with_columns(picked.alias("security_id")).sort("_i")
    missing = frame.filter(pl.col("security_id").is_null()).head(1)
    if not missing.is_empty():
        _fail(missing.row(0, named=True), file, column)
    return frame["security_id"]


def _fail(row: dict[str, Any], file: str, column: str | None) -> None:
    named = ", ".join(f"{k} {row[k]}" for k in KEYS if row[k]) or "no identifier"
    ambiguous = [
        f"{k} {row[k]} matches {', '.join(row[f'_{k}_ids'])}"
        for k in KEYS
        if row[f"_{k}_ids"] is not None and len(row[f"_{k}_ids"]) > 1
    ]
    if ambiguous:
        message = f"security ({named}) is ambiguous in the security master: {'; '.join(ambiguous)}"
    else:
        message = f"security ({named}) is not in the security master"
    line = row.get("line")
    raise DataError(file, message, line=int(line) if line is not None else None, column=column)
