"""What ``verify`` found: problems (something was changed, added or removed), notes (nothing
was altered, e.g. a run that did not finish) and how much was checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Findings:
    """Lines for the user, one per finding."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def problem(self, line: str) -> None:
        self.problems.append(line)

    def note(self, line: str) -> None:
        self.notes.append(line)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def extend(self, other: Findings) -> None:
        self.problems += other.problems
        self.notes += other.notes
        for k, n in other.counts.items():
            self.count(k, n)


def change(recorded: dict[str, Any] | None, now: dict[str, Any] | None) -> str | None:
    """How a table's rows (``{"rows": n, "sha256": digest}``) differ from what was recorded,
    or None when they do not."""
    was = int(recorded["rows"]) if recorded else 0
    has = int(now["rows"]) if now else 0
    if recorded and now and was == has and recorded.get("sha256") == now.get("sha256"):
        return None
    if not recorded and not now:
        return None
    if has > was:
        return f"{has} rows, the audit trail recorded {was}: rows were added"
    if has < was:
        return f"{has} rows, the audit trail recorded {was}: rows were deleted"
    return f"{has} rows as recorded, but their content was changed"


def names(items: list[str], limit: int = 5) -> str:
    """``a, b, c`` (and how many more)."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
