"""Sign-offs of proposals: ``approval`` events of the audit trail, and where each portfolio of
a run stands (pending, approved, or approved with inputs changed since the run).

An approval names the exact proposal it signs off by ``proposal_sha256``: the digest of the
portfolio's rows in ``run_portfolios``, ``run_allocations`` and ``run_trades`` (status, action,
allocations with post-trade weights, trades) that the run's ``run_finished`` event recorded. A
second sign-off of the same proposal is refused unless it supersedes the first; both stay in
the trail and the latest is current.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from ballast.audit import chain, digests, rerun
from ballast.errors import BallastError, Unproven
from ballast.warehouse import db
from ballast.workspace import Workspace


class AlreadyApproved(BallastError):
    """The proposal already has a current sign-off and ``--supersede`` was not given (exit 2)."""


def approvals(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """The sign-offs recorded for a run, oldest first (seq, at, portfolio_id, approved_by,
    note, proposal_sha256, supersedes, actor, row_hash)."""
    return db.query(con, "audit/approvals", {"run_id": run_id}).to_dicts()


def _recorded_digest(con: duckdb.DuckDBPyConnection, run_id: str, portfolio_id: str) -> str | None:
    """The digest of the portfolio's rows that the run's ``run_finished`` event recorded."""
    events = db.query(con, "audit/run_events", {"run_id": run_id}).to_dicts()
    for e in reversed(events):
        if e["event"] == "run_finished" and e["run_id"] == run_id:
            chained = json.loads(e["payload"])
            whole = chain.expand(con, chained)
            if "detail" in chained and "portfolio_records" not in whole:
                raise Unproven(
                    f"run {run_id}: the digests its run_finished event recorded (audit_detail) "
                    "were edited or deleted; see 'ballast audit verify'"
                )
            kept = whole.get("portfolio_records") or {}
            found = kept.get(portfolio_id)
            return found if isinstance(found, str) else None
    return None


def proposal_sha256(con: duckdb.DuckDBPyConnection, run_id: str, portfolio_id: str) -> str:
    """The SHA-256 of one portfolio's proposal in a run (its rows in the run tables); refused
    (``Unproven``, exit 65) when the rows no longer match the digest the run recorded."""
    now = digests.portfolio_records(con, [run_id]).get(run_id, {}).get(portfolio_id)
    recorded = _recorded_digest(con, run_id, portfolio_id)
    if now is None:
        raise Unproven(f"run {run_id}: no rows of portfolio {portfolio_id}'s proposal are left")
    if recorded is not None and recorded != now:
        raise Unproven(
            f"run {run_id}: the rows of portfolio {portfolio_id}'s proposal were edited since the "
            f"run (sha256 now {now[:12]}…, recorded {recorded[:12]}…); see 'ballast audit verify'"
        )
    return now


def _already(portfolio_id: str, run_id: str, last: dict[str, Any]) -> AlreadyApproved:
    return AlreadyApproved(
        f"{portfolio_id} in run {run_id} is already approved by {last['approved_by']} at "
        f"{last['at']:%Y-%m-%d %H:%M:%S}Z (audit seq {last['seq']}); nothing recorded: "
        "--supersede records a new sign-off that replaces it"
    )


def record_approval(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run_id: str,
    portfolio_id: str,
    *,
    by: str,
    note: str | None,
    actor: str,
    supersede: bool = False,
) -> dict[str, Any]:
    """Sign off one portfolio's proposal of a completed run; returns the approval's payload
    plus ``row_hash``. Changes to the run's inputs since the run are kept in the payload.

    A proposal with a sign-off already is refused (``AlreadyApproved``) unless ``supersede``,
    which records the new one as superseding the latest; ``supersede`` with none is refused."""
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
    earlier = [a for a in approvals(con, run_id) if a["portfolio_id"] == portfolio_id]
    if earlier and not supersede:
        raise _already(portfolio_id, run_id, earlier[-1])
    if supersede and not earlier:
        raise BallastError(
            f"--supersede: {portfolio_id} in run {run_id} has no approval to supersede"
        )
    proposal = proposal_sha256(con, run_id, portfolio_id)
    changes = [c.describe() for c in rerun.changed_inputs(con, ws, run_id, portfolio_id)]
    payload = {
        "portfolio_id": portfolio_id,
        "by": by.strip(),
        "note": note,
        "as_of": summary["as_of"],
        "action": "rebalance" if entry["breached"] else "none",
        "trades": entry["trades"],
        "proposal_sha256": proposal,
        "supersedes": earlier[-1]["seq"] if earlier else None,
        "outputs": summary["outputs"],
        "ips_sha256": summary["ips"].get(f"{portfolio_id}.yaml"),
        "inputs_changed_since_run": changes,
    }
    digest = chain.append(
        con, ws, "approval", actor=actor, run_id=run_id, subject=portfolio_id, payload=payload
    )
    return payload | {"row_hash": digest}


@dataclass(frozen=True)
class SignOff:
    """One recorded sign-off of a proposal."""

    seq: int
    by: str
    at: dt.datetime
    note: str | None
    proposal_sha256: str | None  # None for approvals recorded before the hash was kept
    supersedes: int | None = None  # the seq of the sign-off this one replaced


def _sign_off(a: dict[str, Any]) -> SignOff:
    return SignOff(
        a["seq"], a["approved_by"], a["at"], a["note"], a["proposal_sha256"], a["supersedes"]
    )


@dataclass(frozen=True)
class ApprovalState:
    """Where one portfolio's proposal stands: pending or approved, and whether it is stale."""

    portfolio_id: str
    status: str  # pending | approved | not_applicable
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    note: str | None = None
    changes: tuple[str, ...] = ()  # inputs changed since the run (flag when approved)
    proposal_sha256: str | None = None  # of the proposal the current sign-off approved
    seq: int | None = None  # the current sign-off's audit seq
    superseded: tuple[SignOff, ...] = ()  # earlier sign-offs, oldest first

    @property
    def flagged(self) -> bool:
        """Approved, but the proposal's inputs changed since the run."""
        return self.status == "approved" and bool(self.changes)

    @property
    def label(self) -> str:
        """pending, approved, flagged: inputs changed since, or not applicable."""
        if self.flagged:
            return "flagged: inputs changed since"
        return self.status.replace("_", " ")


def approval_states(
    con: duckdb.DuckDBPyConnection, ws: Workspace, run_id: str
) -> list[ApprovalState]:
    """Each portfolio of the run: pending, or approved by whom and when (the latest sign-off,
    the earlier ones superseded), with the inputs that changed since the run (an approved
    proposal with changes is flagged)."""
    summary = chain.run_summary(con, run_id)
    signed: dict[str, list[SignOff]] = {}
    for row in approvals(con, run_id):
        signed.setdefault(row["portfolio_id"], []).append(_sign_off(row))
    changes = rerun.changed_inputs(con, ws, run_id) if summary["kind"] != "monitor" else []
    out = []
    for pid, entry in summary["portfolios"].items():
        mine = tuple(c.describe() for c in changes if c.concerns(pid))
        if entry["status"] != "ok" or summary["kind"] == "monitor":
            out.append(ApprovalState(pid, "not_applicable", changes=mine))
        elif pid in signed:
            *before, cur = signed[pid]
            out.append(
                ApprovalState(
                    pid, "approved", cur.by, cur.at, cur.note, mine, cur.proposal_sha256,
                    cur.seq, tuple(before),
                )
            )  # fmt: skip
        else:
            out.append(ApprovalState(pid, "pending", changes=mine))
    return out
