"""Sign-off of proposals: recorded in the audit trail, shown, and flagged when inputs change."""

from __future__ import annotations

import json
import shutil

import pytest

from ballast.audit import approvals
from ballast.audit import chain as audit
from ballast.errors import BallastError
from ballast.ingest import inbox
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, str]:
    """One quarterly review of the demo (tests work on copies); returns it and the run id."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("approve") / "ws")
    summary = quarterly_review(workspace=str(ws.root), as_of="2026-09-30", html=False)
    return ws, summary["run_id"]


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    """A private copy of the reviewed workspace."""
    shutil.copytree(reviewed[0].root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def states(ws: Workspace, run_id: str) -> dict[str, approvals.ApprovalState]:
    with db.connect(ws.warehouse) as con:
        return {s.portfolio_id: s for s in approvals.approval_states(con, ws, run_id)}


def approve(ws: Workspace, run_id: str, pid: str, by: str = "Jane Doe") -> dict:
    with db.connect(ws.warehouse) as con:
        return approvals.record_approval(con, ws, run_id, pid, by=by, note=None, actor="tester")


def test_approve_is_recorded_and_shown(ws: Workspace, reviewed) -> None:
    """`ballast approve` writes an approval event; show lists approved and pending portfolios."""
    run_id = reviewed[1]
    res = cli("approve", run_id, "--portfolio", "seed-60-40", "--by", "Jane Doe",
              "--note", "per IC minutes", "-w", str(ws.root))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "approved seed-60-40" in res.output and "2 trades" in res.output
    with db.connect(ws.warehouse) as con:
        (a,) = approvals.approvals(con, run_id)
        assert audit.verify(con, ws) == []
        payload = json.loads(audit.rows(con)[-1]["payload"])
    assert (a["portfolio_id"], a["approved_by"], a["note"]) == (
        "seed-60-40",
        "Jane Doe",
        "per IC minutes",
    )
    assert payload["outputs"]["results.json"] and payload["inputs_changed_since_run"] == []
    got = states(ws, run_id)
    assert got["seed-60-40"].status == "approved" and not got["seed-60-40"].flagged
    assert got["harbor-foundation"].status == "pending"
    assert got["lakeside-pension"].status == "not_applicable"
    shown = cli("show", run_id, "-w", str(ws.root))
    assert shown.exit_code == 0, shown.output
    assert "seed-60-40: approved by Jane Doe at " in shown.output
    assert "(note: per IC minutes)" in shown.output
    assert "harbor-foundation: pending" in shown.output


def test_restatement_after_approval_is_flagged(ws: Workspace, reviewed) -> None:
    """A restated positions file after sign-off flags that portfolio's approval, not others."""
    run_id = reviewed[1]
    approve(ws, run_id, "seed-60-40")
    approve(ws, run_id, "harbor-foundation")
    (ws.inbox / "restated.csv").write_text(
        "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
        "2026-09-30,INST-001,GEQ,76000,100.00,7600000.00,USD\n"
        "2026-09-30,INST-001,IGB,38000,100.00,3800000.00,USD\n",
        encoding="utf-8",
    )
    with db.connect(ws.warehouse) as con:
        inbox.commit(con, ws, inbox.stage_workspace(con, ws))
    got = states(ws, run_id)
    assert got["seed-60-40"].flagged
    (change,) = got["seed-60-40"].changes
    assert "positions of INST-001" in change and "restated by restated.csv" in change
    assert not got["harbor-foundation"].flagged
    shown = cli("show", run_id, "-w", str(ws.root))
    assert "│ FLAGGED" in shown.output
    assert "seed-60-40: FLAGGED, approved but input changed since the run: positions" in (
        shown.output
    )


def test_edited_ips_is_flagged(ws: Workspace, reviewed) -> None:
    """Editing a portfolio's IPS after sign-off flags its approval, naming the file."""
    run_id = reviewed[1]
    approve(ws, run_id, "seed-60-40")
    ips = ws.ips / "seed-60-40.yaml"
    ips.write_text(ips.read_text() + "\n# amended\n")
    (change,) = states(ws, run_id)["seed-60-40"].changes
    assert change.startswith("ips/seed-60-40.yaml: the run used sha256")


@pytest.mark.parametrize(
    ("pid", "by", "message"),
    [
        ("nope", "Jane", "did not review portfolio nope"),
        ("lakeside-pension", "Jane", "was data_invalid"),
        ("seed-60-40", "  ", "approver's name is empty"),
    ],
)
def test_refused_approvals(ws: Workspace, reviewed, pid: str, by: str, message: str) -> None:
    """Unknown or invalid portfolios and blank approvers are refused; nothing is recorded."""
    with pytest.raises(BallastError, match=message):
        approve(ws, reviewed[1], pid, by)
    with db.connect(ws.warehouse) as con:
        assert approvals.approvals(con, reviewed[1]) == []


def test_unknown_run_refused(ws: Workspace) -> None:
    """Approving a run that does not exist names the id."""
    with pytest.raises(BallastError, match="no run 2020 in the warehouse"):
        approve(ws, "2020", "seed-60-40")


def test_show_unknown_run(ws: Workspace) -> None:
    """`ballast show` of an unknown run is a user error (exit 2 via ballast.cli.app.main)."""
    res = cli("show", "nope", "-w", str(ws.root))
    assert isinstance(res.exception, BallastError)
