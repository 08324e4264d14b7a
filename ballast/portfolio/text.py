"""Messages built column-wise: ``text("{} in account {}", col_a, col_b)``.

The same as ``pl.format``, built from ``pl.concat_str`` instead: Polars 2.1's ``format`` panics
(``assertion failed: i < self.len()``) on a column whose first chunk is empty, which a join and
a filter can leave behind (``tests/portfolio/test_text.py`` keeps such a frame); ``concat_str``
reads every chunk. A null in any argument makes the message null, as with ``pl.format``.
"""

from __future__ import annotations

import polars as pl


def text(template: str, *args: pl.Expr | str) -> pl.Expr:
    """``template`` with each ``{}`` replaced by the next argument (a column name or an
    expression), cast to text."""
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"{template!r} has {len(pieces) - 1} placeholders for {len(args)} values")
    exprs: list[pl.Expr] = []
    for piece, arg in zip(pieces, [*args, None], strict=True):
        if piece:
            exprs.append(pl.lit(piece))
        if arg is not None:
            exprs.append(pl.col(arg) if isinstance(arg, str) else arg)
    return pl.concat_str(exprs) if exprs else pl.lit("")
