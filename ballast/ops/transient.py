"""Which failures are worth retrying: they go away by themselves if one waits a little.

Transient:

- the warehouse file locked by another process (DuckDB's ``IOException`` "Could not set lock
  on file ...: Conflicting lock is held ..."), also when ``warehouse.connect`` has already
  waited and turned it into its one-line ``BallastError``;
- ``FileInFlux``: an inbox file that disappeared or was replaced while it was being read
  (reading the inbox again shows what is there now).

Anything else (a data or policy error, a bug) is not: retrying it would only repeat it.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb

from ballast.errors import BallastError

LOCK_MARKERS = ("could not set lock", "conflicting lock")


class FileInFlux(BallastError):
    """An inbox file that disappeared or changed under the reader."""


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the errors it explicitly translates (``raise ... from err`` or
    ``raise ... from None`` inside ``except``); an error raised by accident while handling
    another is not followed."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        if exc.__cause__ is not None:
            exc = exc.__cause__
        elif exc.__suppress_context__:
            exc = exc.__context__
        else:
            exc = None


def is_lock_conflict(exc: BaseException) -> bool:
    """DuckDB could not lock the warehouse file: another process has it open."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and any(m in text for m in LOCK_MARKERS)


def is_transient(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an error it translates) is one of the transient failures above."""
    return any(isinstance(e, FileInFlux) or is_lock_conflict(e) for e in _chain(exc))
