"""Errors a user can fix: shown as one line, never as a traceback.

Each carries the exit status the command line ends with (``ballast.cli.app.main``; the table is
in docs/user-guide.md, "Exit status").
"""

from __future__ import annotations

# Exit statuses of the ``ballast`` command (sysexits.h numbers where one fits).
EXIT_OK = 0
EXIT_INVALID = 1  # the run completed, but a portfolio was data invalid or a file quarantined
EXIT_USAGE = 2  # a mistake in the command, the workspace or its files (also Typer's usage errors)
EXIT_UNPROVEN = 65  # EX_DATAERR: what a past run rests on was edited after the fact
EXIT_ORCHESTRATOR = 69  # EX_UNAVAILABLE: no Prefect API (or Dask scheduler) could be had
EXIT_INTERNAL = 70  # EX_SOFTWARE: an unexpected error (a bug); traceback in the error log
EXIT_MEMORY = (
    71  # EX_OSERR: DuckDB ran out of the memory it may use (warehouse.review_memory_limit)
)
EXIT_STORAGE = 74  # EX_IOERR: the workspace could not be written (read-only, full, permissions)
EXIT_INTERRUPTED = 130  # Ctrl+C (128 + SIGINT)


def printable(text: str) -> str:
    """``text`` safe to print on one line: every character Python does not call printable
    (controls, line breaks, bidi and zero-width marks, no-break spaces, unassigned code points)
    as its escape (``\\n``, ``\\x1b``, ``\\u202e``); everything else as it is."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class BallastError(Exception):
    """A mistake in the user's input or workspace; the message says what and where."""

    exit_code: int = EXIT_USAGE


class PolicyError(BallastError):
    """An investment policy statement that cannot be used."""


class DataError(BallastError):
    """A custodian or reference file that cannot be used."""

    def __init__(
        self, file: str, message: str, line: int | None = None, column: str | None = None
    ) -> None:
        self.file, self.line, self.column, self.detail = file, line, column, message
        where = file
        if line is not None:
            where += f", row {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(printable(f"{where}: {message}"))


class OrchestratorError(BallastError):
    """No Prefect API could be had: the temporary server did not start in time, or the
    configured server does not answer. Nothing was run."""

    exit_code = EXIT_ORCHESTRATOR


class ClusterError(BallastError):
    """The Dask cluster a review was to run on could not be had (its scheduler does not
    answer, or a local cluster did not start). Nothing was computed."""

    exit_code = EXIT_ORCHESTRATOR


class Unproven(BallastError):
    """A stored output, or what a past run rests on, no longer matches what was recorded: the
    command names it and stops."""

    exit_code = EXIT_UNPROVEN
