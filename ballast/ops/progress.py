"""Progress of a run, for whoever listens: the command line's progress display, the run log.

The flow body calls ``stage(name, total)`` when a stage starts and ``advance(n)`` as its work
gets done (per file or per chunk of reports, never per portfolio in a hot loop); ``stage`` again
with the same name gives the running stage its total once it is known. Listeners are
process-wide; with none subscribed (a run served to the Prefect UI) both calls do nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Listener(Protocol):
    """Something that shows or records a run's progress."""

    def stage(self, name: str, total: int | None) -> None:
        """Stage ``name`` has started; ``total`` units of work, if known."""

    def advance(self, n: int) -> None:
        """``n`` more units of the current stage are done."""


_LISTENERS: list[Listener] = []
_LOCK = threading.Lock()


def stage(name: str, total: int | None = None) -> None:
    """Tell every listener that stage ``name`` has started."""
    for listener in list(_LISTENERS):
        listener.stage(name, total)


def advance(n: int = 1) -> None:
    """Tell every listener that ``n`` more units of the current stage are done."""
    for listener in list(_LISTENERS):
        listener.advance(n)


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Subscribe ``listener`` for the duration of the block."""
    with _LOCK:
        _LISTENERS.append(listener)
    try:
        yield listener
    finally:
        with _LOCK:
            _LISTENERS.remove(listener)
