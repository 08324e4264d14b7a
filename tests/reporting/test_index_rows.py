"""A run's index rows wait on disk (``IndexRows``) and the index page's facts are gathered as
they come (``IndexFacts.add``): the same facts as of all the rows at once, whatever the
batches, with more exceptions of each kind than the page shows."""

from __future__ import annotations

import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ballast.reporting.html import EXCEPTIONS_SHOWN, IndexFacts
from ballast.reporting.index_rows import IndexRows

STATUSES = ("in_policy", "out_of_policy", "data_invalid")


def _rows(n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        status = rng.choice(STATUSES)
        drift = None if status == "data_invalid" else Decimal(rng.choice([120, 340, 340, 905])) / 2
        rows.append(
            {
                "portfolio_id": f"pf-{i:03d}",
                "status_key": status,
                "action": "rebalance" if status == "out_of_policy" else "none",
                "n_trades": rng.choice([0, 0, 3]) if status != "data_invalid" else 0,
                "drift_bp": drift,
                "account_ids": [f"A{i}-1", f"A{i % 7}-shared"],
                "errors": ["stale price"] if status == "data_invalid" else [],
            }
        )
    return rows


def _facts(facts: IndexFacts) -> tuple[Any, ...]:
    drifts = facts.drifts.rows()
    return facts.summary, facts.exceptions, drifts, list(facts.account_ids)


@pytest.mark.parametrize("kind", ["quarterly_review", "monitor"])
@pytest.mark.parametrize("cut", [1, 4, 10, 97])
def test_facts_gathered_batch_by_batch_are_those_of_all_rows(
    tmp_path: Path, cut: int, kind: str
) -> None:
    rows = _rows(97)
    counts = {s: sum(r["status_key"] == s for r in rows) for s in STATUSES}
    assert min(counts.values()) > EXCEPTIONS_SHOWN  # each list is cut to what the page shows
    index = IndexRows(kind, tmp_path)
    for start in range(0, len(rows), cut):
        index.add(rows[start : start + cut])
    whole = IndexFacts.of(rows, kind)
    assert _facts(index.facts) == _facts(whole)
    assert len(whole.exceptions["out_of_policy"]) == EXCEPTIONS_SHOWN
    assert whole.summary["total"] == 97 and whole.summary["data_invalid"] == counts["data_invalid"]
    index.close()


def test_rows_are_read_back_in_order_and_not_held(tmp_path: Path) -> None:
    rows = _rows(40)
    quiet = next(r for r in rows if r["status_key"] == "in_policy" and not r["n_trades"])
    held = sys.getrefcount(quiet)
    index = IndexRows("quarterly_review", tmp_path)
    assert not index and len(index) == 0 and list(index) == []
    index.add(rows[:25])
    index.add([])
    index.add(rows[25:])
    assert sys.getrefcount(quiet) == held  # pickled to the file, not kept
    assert len(index) == 40 and index
    assert list(index) == rows and list(index) == rows  # read again from the start
    first, second = iter(index), iter(index)
    assert [next(first) for _ in range(30)] == rows[:30]
    assert next(second) == rows[0]  # another reader does not move the first one's place
    assert list(first) == rows[30:]
    assert rows[7] in index
    assert list(tmp_path.iterdir()) == []  # the file has no name in the run's folder
    index.close()


def test_no_rows_still_gives_every_count_and_list() -> None:
    facts = IndexFacts("quarterly_review")
    assert facts.summary == IndexFacts.of([], "quarterly_review").summary
    assert facts.summary["total"] == 0
    assert set(facts.exceptions) == {"out_of_policy", "data_invalid", "awaiting_approval"}
