"""Sign-offs of proposals: ``approval`` events of the audit trail, and where each portfolio of
a run stands (pending, approved, or approved with inputs changed since the run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from ballast.audit import chain, rerun
from ballast.errors import BallastError
from ballast.warehouse import db
from ballast.workspace import Workspace


def approvals(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """The sign-offs recorded for a run, oldest first (seq, at, portfolio_id, approved_by,
    note, actor, row_hash)."""
    return db.query(con, "audit/approvals", {"run_id": run_id}).to_dicts()


def record_approval(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run_id: str,
    portfolio_id: str,
    *,
    by: str,
    note: str | None,
    actor: str,
) -> dict[str, Any]:
    """Sign off one portfolio's proposal of a completed run; returns the approval's payload
    plus ``row_hash``. Changes to the run's inputs since the run are kept in the payload."""
    if not by.strip():
        raise BallastError("--by: the approver's name is empty")
    summary = chain.run_summary(con, run_id)
    if summary["status"] not in ("completed", "completed_with_errors"):
        raise BallastError(f"run {run_id} is {summary['status']}: nothing to approve")
    if summary["kind"] != "quarterly_review":
        raise BallastError(f"run {run_id} is a {summary['kind']}: it proposes no trades")
    entry = summary["portfolios"].get(portfolio_id)
    if entry is None:
        known = ", ".join(summary["portfolios"]) or "none"
        raise BallastError(f"run {run_id} did not review portfolio {portfolio_id} (it has {known})")
    if entry["status"] != "ok":
        raise BallastError(
            f"portfolio {portfolio_id} was {entry['status']} in run {run_id}: nothing to approve"
        )
    changes = [c.describe() for c in rerun.changed_inputs(con, ws, run_id, portfolio_id)]
    payload = {
        "portfolio_id": portfolio_id,
        "by": by.strip(),
        "note": note,
        "as_of": summary["as_of"],
        "action": "rebalance" if entry["breached"] else "none",
        "trades": entry["trades"],
        "outputs": summary["outputs"],
        "ips_sha256": summary["ips"].get(f"{portfolio_id}.yaml"),
        "inputs_changed_since_run": changes,
    }
    digest = chain.append(
        con, ws, "approval", actor=actor, run_id=run_id, subject=portfolio_id, payload=payload
    )
    return payload | {"row_hash": digest}


@dataclass(frozen=True)
class ApprovalState:
    """Where one portfolio's proposal stands: pending or approved, and whether it is stale."""

    portfolio_id: str
    status: str  # pending | approved | not_applicable
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    note: str | None = None
    changes: tuple[str, ...] = ()  # inputs changed since the run (flag when approved)

    @property
    def flagged(self) -> bool:
        return self.status == "approved" and bool(self.changes)


def approval_states(
    con: duckdb.DuckDBPyConnection, ws: Workspace, run_id: str
) -> list[ApprovalState]:
    """Each portfolio of the run: pending, or approved by whom and when (the latest sign-off),
    with the inputs that changed since the run (an approved proposal with changes is flagged)."""
    summary = chain.run_summary(con, run_id)
    latest = {a["portfolio_id"]: a for a in approvals(con, run_id)}
    changes = rerun.changed_inputs(con, ws, run_id) if summary["kind"] != "monitor" else []
    out = []
    for pid, entry in summary["portfolios"].items():
        mine = tuple(c.describe() for c in changes if c.concerns(pid))
        if entry["status"] != "ok" or summary["kind"] == "monitor":
            out.append(ApprovalState(pid, "not_applicable", changes=mine))
        elif pid in latest:
            a = latest[pid]
            out.append(ApprovalState(pid, "approved", a["approved_by"], a["at"], a["note"], mine))
        else:
            out.append(ApprovalState(pid, "pending", changes=mine))
    return out
