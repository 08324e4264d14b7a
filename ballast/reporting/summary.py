"""What the terminal shows of a run: one small row per portfolio, taken from its results entry
(so the command line never re-reads results.json), and which rows are exceptions."""

from __future__ import annotations

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


def exceptions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that need a person: data invalid first, then those to rebalance, by portfolio id."""
    invalid = [r for r in rows if not r["ok"]]
    rebalance = [r for r in rows if r["ok"] and r["action"] != "none"]
    return invalid + rebalance


def shown(rows: list[dict[str, Any]], full: bool) -> tuple[list[dict[str, Any]], int]:
    """(rows to print, how many exceptions were left out): every row for a small run or when
    asked, else the first ``EXCEPTIONS_SHOWN`` exceptions."""
    if full or len(rows) <= FULL_TABLE_MAX:
        return rows, 0
    picked = exceptions(rows)
    return picked[:EXCEPTIONS_SHOWN], max(0, len(picked) - EXCEPTIONS_SHOWN)
