"""What the terminal shows of a run: one small row per portfolio, taken from its results entry
(so the command line never re-reads results.json), and which rows are exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ballast.reporting.html import redact

FULL_TABLE_MAX = 50
"""Up to this many portfolios the terminal lists them all; above it, only the exceptions."""
EXCEPTIONS_SHOWN = 20
"""At most this many exception rows (data invalid first, then to rebalance) in a large run."""


def terminal_row(entry: dict[str, Any]) -> dict[str, Any]:
    """The fields of one results entry the terminal prints, account numbers masked in errors."""
    ids = [a["id"] for a in entry.get("accounts", [])]
    return {
        "portfolio_id": entry["portfolio_id"],
        "ok": entry["status"] == "ok",
        "base_currency": entry["base_currency"],
        "total_value": entry["total_value"],
        "breached": bool(entry["breached"]),
        "action": entry["action"],
        "trades": len(entry["trades"]),
        "errors": [redact(m, ids) for m in entry["errors"]],
    }


@dataclass
class TerminalRows:
    """A run's terminal rows gathered shard by shard (in portfolio id order), bounded by what
    the terminal shows: every row while the run has at most ``FULL_TABLE_MAX`` portfolios
    (or always, with ``keep_all``: ``--table``), else only the first ``EXCEPTIONS_SHOWN``
    exceptions of each kind, with the counts and the ids of the invalid portfolios. At a
    million portfolios every row would be about half a gigabyte."""

    keep_all: bool = False
    count: int = 0
    breached: int = 0
    trades: int = 0
    exceptions: int = 0  # data invalid, and valid to rebalance
    invalid: list[str] = field(default_factory=list)  # ids of the data-invalid portfolios
    _every: list[dict[str, Any]] | None = field(default_factory=list)  # None: too many
    _invalid: list[dict[str, Any]] = field(default_factory=list)  # the first invalid rows
    _rebalance: list[dict[str, Any]] = field(default_factory=list)  # the first to rebalance

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.count += len(rows)
        self.breached += sum(1 for r in rows if r["breached"])
        self.trades += sum(r["trades"] for r in rows)
        bad, rebalance = _invalid(rows), _rebalance(rows)
        self.invalid += [r["portfolio_id"] for r in bad]
        self.exceptions += len(bad) + len(rebalance)
        self._invalid += bad[: EXCEPTIONS_SHOWN - len(self._invalid)]
        self._rebalance += rebalance[: EXCEPTIONS_SHOWN - len(self._rebalance)]
        if self._every is not None:
            self._every += rows
            if not self.keep_all and self.count > FULL_TABLE_MAX:
                self._every = None

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row, when they were kept; else the first ``EXCEPTIONS_SHOWN`` exceptions
        (data invalid first, then to rebalance, each in portfolio id order)."""
        if self._every is not None:
            return self._every
        return (self._invalid + self._rebalance)[:EXCEPTIONS_SHOWN]

    @classmethod
    def of(cls, rows: list[dict[str, Any]], keep_all: bool = False) -> TerminalRows:
        gathered = cls(keep_all)
        gathered.add(rows)
        return gathered


def _invalid(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r["ok"]]


def _rebalance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["ok"] and r["action"] != "none"]


def shown(summary: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """(rows to print, how many exceptions were left out) of a run's summary: its rows are
    every portfolio's (a small run, or ``--table``) or its first exceptions (``TerminalRows``)."""
    rows = summary["rows"]
    if len(rows) == summary["portfolios"]:
        return rows, 0
    return rows, summary["exceptions"] - len(rows)
