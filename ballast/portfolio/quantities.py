"""Quantities as text for messages: whole shares without a decimal point, fractions without
trailing zeros (``plain(pl.col("quantity"))``)."""

from __future__ import annotations

import polars as pl


def plain(quantity: pl.Expr) -> pl.Expr:
    """A quantity as text without trailing zeros: 600.000000 → 600."""
    return quantity.cast(pl.Decimal(38, 6)).cast(pl.String).str.replace(r"\.?0+$", "")
