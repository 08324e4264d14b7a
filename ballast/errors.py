"""Errors a user can fix: shown as one line, never as a traceback."""

from __future__ import annotations


class BallastError(Exception):
    """A mistake in the user's input or workspace; the message says what and where."""


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
        super().__init__(f"{where}: {message}")
