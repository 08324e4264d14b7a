"""The command line's view of a run's progress: one line per stage on stderr, gone at the end.

Shown only when stderr is a terminal (and not with ``--verbose``, whose log lines would
interleave with it); otherwise nothing is printed, so redirected output stays clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ballast.ops import progress


class _CountColumn(ProgressColumn):
    """``done/total`` for a counted stage (reports written), nothing otherwise."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("counted"):
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total or 0)}", style="progress.download")


class _CountedBar(BarColumn):
    """A bar for counted stages only (a pulsing bar says nothing about a stage without one)."""

    def render(self, task: Task) -> Text:  # type: ignore[override]
        return super().render(task) if task.fields.get("counted") else Text("")  # type: ignore[return-value]


class StageDisplay:
    """A ``progress.Listener`` drawing each stage as a line with a Rich ``Progress``."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._current: TaskID | None = None
        self._name: str | None = None

    def stage(self, name: str, total: int | None) -> None:
        if name == self._name and self._current is not None:  # the same stage, now counted
            self._bar.update(self._current, total=total, counted=total is not None)
            return
        self.finish()
        self._name = name
        self._current = self._bar.add_task(name, total=total, counted=total is not None)

    def advance(self, n: int) -> None:
        if self._current is not None:
            self._bar.advance(self._current, n)

    def finish(self) -> None:
        """Mark the current stage done (its elapsed time stops)."""
        if self._current is None:
            return
        task = next(t for t in self._bar.tasks if t.id == self._current)
        done = max(task.completed, task.total or 0) or 1
        self._bar.update(self._current, total=done, completed=done)
        self._bar.stop_task(self._current)
        self._current = self._name = None


@contextmanager
def shown(console: Console, first_stage: str, *, enabled: bool = True) -> Iterator[None]:
    """Show the stages reported through ``ballast.ops.progress`` while the block runs, starting
    with ``first_stage``; the display disappears when the block ends (also on an error)."""
    if not (enabled and console.is_terminal):
        yield
        return
    bar = Progress(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description}"),
        _CountedBar(bar_width=24),
        _CountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    display = StageDisplay(bar)
    with bar, progress.listening(display):
        display.stage(first_stage, None)
        yield
