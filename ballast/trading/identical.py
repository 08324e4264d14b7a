"""Substantially identical securities (26 U.S.C. § 1091): the same security, or any two that share
a non-null ``identical_group`` in the security master (share classes, an ETF and its mutual fund).
"""

from __future__ import annotations

import polars as pl

from ballast.portfolio.text import text


def match_key(security: pl.Expr, group: pl.Expr) -> pl.Expr:
    """What makes two securities substantially identical: the group, else the security."""
    return pl.coalesce(text("group:{}", group), text("security:{}", security))
