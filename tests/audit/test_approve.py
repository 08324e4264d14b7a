"""Sign-off of proposals: recorded in the audit trail, shown, and flagged when inputs change."""

from __future__ import annotations

import json
import shutil

import pytest

from ballast.audit import approvals
from ballast.audit import chain as audit
from ballast.errors import EXIT_UNPROVEN, EXIT_USAGE, BallastError, Unproven
from ballast.ingest import inbox
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.audit_cli import cli
from tests.support.one_line import BALLAST, run

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


def approve(
    ws: Workspace, run_id: str, pid: str, by: str = "Jane Doe", *, supersede: bool = False
) -> dict:
    with db.connect(ws.warehouse) as con:
        return approvals.record_approval(
            con, ws, run_id, pid, by=by, note=None, actor="tester", supersede=supersede
        )


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
    assert "(note: per IC minutes) · proposal sha256 " in shown.output
    assert a["proposal_sha256"] == payload["proposal_sha256"] and payload["supersedes"] is None
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
    assert "seed-60-40: FLAGGED (inputs changed since), approved by Jane Doe at " in shown.output
    assert "harbor-foundation: approved by Jane Doe at " in shown.output


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


def test_second_approval_is_refused_in_one_line(ws: Workspace, reviewed, tmp_path) -> None:
    """Approving the same proposal again is refused with one line and exit 2; nothing is
    recorded, and the first sign-off stays current."""
    run_id = reviewed[1]
    first = approve(ws, run_id, "seed-60-40", "Jane Doe")
    cmd = [BALLAST, "approve", run_id, "-p", "seed-60-40", "--by", "John Roe", "-w", str(ws.root)]
    proc, line = run(cmd, tmp_path)
    assert proc.returncode == EXIT_USAGE
    assert "seed-60-40 in run" in line and "already approved by Jane Doe" in line
    assert "--supersede" in line
    with db.connect(ws.warehouse) as con:
        (only,) = approvals.approvals(con, run_id)
    assert only["row_hash"] == first["row_hash"]
    with pytest.raises(approvals.AlreadyApproved):
        approve(ws, run_id, "seed-60-40", "Jane Doe")  # the same approver too


def test_supersede_records_a_new_current_sign_off(ws: Workspace, reviewed) -> None:
    """--supersede keeps both sign-offs in the trail, the later one current, and says so."""
    run_id = reviewed[1]
    first = approve(ws, run_id, "seed-60-40", "Jane Doe")
    res = cli("approve", run_id, "-p", "seed-60-40", "--by", "John Roe", "--note", "re-vote",
              "--supersede", "-w", str(ws.root))  # fmt: skip
    assert res.exit_code == 0, res.output
    with db.connect(ws.warehouse) as con:
        old, new = approvals.approvals(con, run_id)
        assert audit.verify(con, ws) == []
    assert new["supersedes"] == old["seq"] and f"superseding seq {old['seq']}" in res.output
    assert new["proposal_sha256"] == first["proposal_sha256"]
    got = states(ws, run_id)["seed-60-40"]
    assert (got.status, got.approved_by, got.note, got.seq) == (
        "approved",
        "John Roe",
        "re-vote",
        new["seq"],
    )
    assert [s.by for s in got.superseded] == ["Jane Doe"]
    shown = cli("show", run_id, "-w", str(ws.root)).output
    assert "seed-60-40: superseded: approved by Jane Doe at " in shown
    assert f"(seq {old['seq']})" in shown
    assert "seed-60-40: approved by John Roe at " in shown and "(note: re-vote)" in shown


def test_supersede_with_nothing_to_supersede_is_refused(ws: Workspace, reviewed) -> None:
    """--supersede on a proposal with no sign-off yet is refused; nothing is recorded."""
    with pytest.raises(BallastError, match="has no approval to supersede"):
        approve(ws, reviewed[1], "seed-60-40", supersede=True)
    with db.connect(ws.warehouse) as con:
        assert approvals.approvals(con, reviewed[1]) == []


def test_edited_proposal_rows_are_not_approved(ws: Workspace, reviewed) -> None:
    """A proposal whose rows were edited after the run (its digest no longer the recorded one)
    is refused (exit 65): a sign-off names the proposal the run made."""
    run_id = reviewed[1]
    with db.connect(ws.warehouse) as con:
        con.execute(
            "update run_trades set quantity = quantity + 1 where run_id = ? and portfolio_id = ?",
            [run_id, "seed-60-40"],
        )
    with pytest.raises(Unproven, match="proposal were edited since the run") as caught:
        approve(ws, run_id, "seed-60-40")
    assert caught.value.exit_code == EXIT_UNPROVEN
    with db.connect(ws.warehouse) as con:
        assert approvals.approvals(con, run_id) == []


def test_note_is_shown_on_one_line(ws: Workspace, reviewed) -> None:
    """A note with a line break is shown escaped on the approval's line."""
    run_id = reviewed[1]
    with db.connect(ws.warehouse) as con:
        approvals.record_approval(
            con, ws, run_id, "seed-60-40", by="Jane", note="IC\nminutes", actor="t"
        )
    shown = cli("show", run_id, "-w", str(ws.root)).output
    assert "(note: IC\\nminutes)" in shown
