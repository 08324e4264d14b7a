"""Custodian formats: each adapter turns one file into canonical frames (see ``ballast.kinds``).

An adapter is recognised from a file's first bytes (never its name alone), parses the whole file
and returns one ``ParsedFile`` per canonical kind it found (a Flex statement gives positions,
lots, transactions and FX rates at once). Securities are mapped through the security master:
``isin``, then ``cusip``, then ``symbol``; a row that matches nothing is a ``DataError`` naming
it. The canonical CSV reader (``ballast.ingest.reader``) is the fallback for every other file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

from ballast.ingest.reader import ParsedFile


@dataclass(frozen=True)
class Context:
    """What an adapter may need besides the file: the current security master.

    ``securities`` has columns security_id, symbol, isin, cusip, asset_class (isin/cusip may be
    null); it may be empty when no master has been loaded yet.
    """

    securities: pl.DataFrame


class Adapter(Protocol):
    """One custodian file format."""

    name: str

    def recognise(self, name: str, head: bytes) -> bool:
        """True when ``head`` (the file's first 64 KiB) is in this format."""
        ...

    def parse(self, data: bytes, name: str, ctx: Context) -> list[ParsedFile]:
        """Canonical frames, each typed per ``ballast.kinds`` with a ``line`` column.

        Raises ``ballast.errors.DataError`` (file, row, column, reason) for anything it cannot
        map; never any other exception for bad input.
        """
        ...


def registered() -> list[Adapter]:
    """Every adapter, most specific first."""
    found: list[Adapter] = []
    for module in ("ibkr_flex", "schwab", "fidelity"):
        try:
            mod = __import__(f"ballast.ingest.adapters.{module}", fromlist=["ADAPTER"])
        except ModuleNotFoundError as exc:
            if exc.name != f"ballast.ingest.adapters.{module}":
                raise
            continue
        found.append(mod.ADAPTER)
    return found


def find(name: str, head: bytes) -> Adapter | None:
    """The adapter for a file, or None for canonical CSV."""
    return next((a for a in registered() if a.recognise(name, head)), None)
