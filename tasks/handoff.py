"""A task's result handed to its caller once, so that what it holds is freed when the caller
is done with it.

Prefect keeps a finished task's result in its final state, and the state in the task's
future. A ``PrefectConcurrentFuture`` registers a bound method of itself as a done-callback of
the ``concurrent.futures.Future`` it wraps, so the two form a reference cycle: when the flow
drops the future, the future, its state and the result are freed only by Python's cycle
collector, whenever it next walks the whole heap. For a shard's review that was the shard's
snapshot, frames and parsed policies, tens of MiB each, kept shard after shard (measured: a
10,000-portfolio review's command freed 8,000 parsed policies that way, in one collection of
0.8 s). A task returns a ``Handoff`` instead; the caller ``take``s the value, and the state
keeps only the empty holder.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Handoff(Generic[T]):
    """One value, taken once."""

    __slots__ = ("_taken", "_value")

    def __init__(self, value: T) -> None:
        self._value: T | None = value
        self._taken = False

    def take(self) -> T:
        """The value; this holder no longer refers to it. ``RuntimeError`` when taken before."""
        if self._taken:
            raise RuntimeError("a task result handed off twice")
        value, self._value, self._taken = self._value, None, True
        return value  # type: ignore[return-value]
