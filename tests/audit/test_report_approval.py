"""The Approval section: pending in the run's report; `ballast report` writes a copy with the
state recorded in the audit trail (approved by whom and when, flagged when inputs changed)."""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest

from ballast.audit import approvals
from ballast.audit import chain as audit
from ballast.cli import audit as cli_audit
from ballast.errors import BallastError
from ballast.ingest import inbox
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
SEED = "seed-60-40"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, str]:
    """One quarterly review of the demo with HTML reports (tests work on copies)."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("report-approval") / "ws")
    summary = quarterly_review(workspace=str(ws.root), as_of="2026-09-30")
    return ws, summary["run_id"]


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    shutil.copytree(reviewed[0].root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def folder(ws: Workspace, run_id: str):
    return ws.reports / "2026-09-30" / run_id


def section(html: str) -> str:
    return html.split("<!-- ballast:approval:begin -->")[1].split("<!-- ballast:approval:end -->")[
        0
    ]


def test_run_report_has_a_blank_sign_off_block(ws: Workspace, reviewed) -> None:
    """The report written by the run is pending, with blank approved-by / date / signature
    lines and one line of small print on `ballast approve`, not CLI instructions."""
    html = (folder(ws, reviewed[1]) / f"{SEED}.html").read_text()
    got = section(html)
    assert "<strong>Pending</strong>" in got
    for line in ("Approved by</th>", "Date (UTC)</th>", "Signature</th>"):
        assert line in got
    assert got.count("<code>") == 2 and f"ballast approve {reviewed[1]} --portfolio {SEED}" in got
    assert "ballast show" not in got
    invalid = section((folder(ws, reviewed[1]) / "lakeside-pension.html").read_text())
    assert "Not applicable" in invalid


def test_report_command_shows_approval_and_keeps_the_original(ws: Workspace, reviewed) -> None:
    """After `approve`, the copy says by whom, when and the note (escaped, accounts masked);
    the original report is untouched and the rest of the page is identical."""
    run_id = reviewed[1]
    original = (folder(ws, run_id) / f"{SEED}.html").read_text()
    res = cli("approve", run_id, "-p", SEED, "--by", "Jane <b>Doe</b>",
              "--note", "IC minutes, acct INST-001", "-w", str(ws.root))  # fmt: skip
    assert res.exit_code == 0, res.output
    res = cli("report", run_id, "-p", SEED, "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    assert f"{SEED}: approved; wrote" in res.output
    copy = (folder(ws, run_id) / f"{SEED}.approved.html").read_text()
    got = section(copy)
    assert ">Approved</strong>" in got and "Jane &lt;b&gt;Doe&lt;/b&gt;" in got
    assert "IC minutes, acct ••••-001" in got and "INST-001" not in got and " UTC" in got
    assert "Signature</th>" not in got  # the blank block is for a proposal not yet signed off
    with db.connect(ws.warehouse) as con:
        (a,) = approvals.approvals(con, run_id)
        proposal = approvals.proposal_sha256(con, run_id, SEED)
    assert a["proposal_sha256"] == proposal and len(proposal) == 64
    assert f'<dt>Proposal SHA-256</dt><dd><code class="hash" title="{proposal}">' in got
    assert f"<dt>Audit record</dt><dd>seq {a['seq']}</dd>" in got
    assert (folder(ws, run_id) / f"{SEED}.html").read_text() == original
    assert copy.replace(got, "") == original.replace(section(original), "")
    with db.connect(ws.warehouse) as con:
        recorded = audit.run_summary(con, run_id)["outputs"][f"{SEED}.html"]
    assert hashlib.sha256(original.encode()).hexdigest() == recorded


def test_pending_copy_and_flag_after_restatement(ws: Workspace, reviewed) -> None:
    """Before sign-off the copy says pending; an approval whose inputs were restated is
    flagged, with the change listed and account ids masked."""
    run_id = reviewed[1]
    cli("report", run_id, "-p", SEED, "-w", str(ws.root))
    pending = section((folder(ws, run_id) / f"{SEED}.approved.html").read_text())
    assert "<strong>Pending</strong>: not approved as of" in pending and "Signature</th>" in pending
    with db.connect(ws.warehouse) as con:
        approvals.record_approval(con, ws, run_id, SEED, by="Jane", note=None, actor="t")
    (ws.inbox / "restated.csv").write_text(
        "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
        "2026-09-30,INST-001,GEQ,76000,100.00,7600000.00,USD\n"
        "2026-09-30,INST-001,IGB,38000,100.00,3800000.00,USD\n",
        encoding="utf-8",
    )
    with db.connect(ws.warehouse) as con:
        inbox.commit(con, ws, inbox.stage_workspace(con, ws))
    res = cli("report", run_id, "-p", SEED, "-w", str(ws.root))
    assert "approved, FLAGGED" in res.output
    got = section((folder(ws, run_id) / f"{SEED}.approved.html").read_text())
    assert "Flagged: inputs changed since" in got and "restated by restated.csv" in got
    assert "<dt>Approved by</dt><dd>Jane</dd>" in got
    assert "positions of ••••-001" in got and "INST-001" not in got


def test_altered_original_is_refused(ws: Workspace, reviewed) -> None:
    """A report edited since the run (its hash no longer the recorded one) is not re-rendered."""
    path = folder(ws, reviewed[1]) / f"{SEED}.html"
    path.write_text(path.read_text() + "<!-- edited -->")
    res = cli("report", reviewed[1], "-p", SEED, "-w", str(ws.root))
    assert isinstance(res.exception, BallastError) and "altered since the run" in str(res.exception)
    assert not (path.parent / f"{SEED}.approved.html").exists()


def test_reports_without_the_section_get_it_before_the_footer() -> None:
    """A report older than the Approval section gets it inserted before its footer."""
    old = '<main>figures</main>\n<footer class="colophon">x</footer>'
    new = cli_audit.with_approval(old, "<section>S</section>")
    assert new == '<main>figures</main>\n<section>S</section>\n<footer class="colophon">x</footer>'
    with pytest.raises(BallastError):
        cli_audit.with_approval("<p>no footer</p>", "<section>S</section>")


def test_superseded_sign_off_in_the_copy(ws: Workspace, reviewed) -> None:
    """A superseding approval is the current one in the copy; the one it replaced is listed."""
    run_id = reviewed[1]
    cli("approve", run_id, "-p", SEED, "--by", "Ann", "--note", "first", "-w", str(ws.root))
    res = cli("approve", run_id, "-p", SEED, "--by", "Bob", "--note", "IC re-vote",
              "--supersede", "-w", str(ws.root))  # fmt: skip
    assert res.exit_code == 0, res.output
    cli("report", run_id, "-p", SEED, "-w", str(ws.root))
    got = section((folder(ws, run_id) / f"{SEED}.approved.html").read_text())
    assert "<dt>Approved by</dt><dd>Bob</dd>" in got and "<dt>Note</dt><dd>IC re-vote</dd>" in got
    assert "Superseded sign-offs" in got and "Ann on " in got and "(note: first)" in got


def test_approved_copy_as_pdf(ws: Workspace, reviewed) -> None:
    """--pdf prints the copy too; its text has the sign-off block with the proposal's hash."""
    run_id = reviewed[1]
    cli("approve", run_id, "-p", SEED, "--by", "Ann", "--note", "IC", "-w", str(ws.root))
    res = cli("report", run_id, "-p", SEED, "--pdf", "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    assert f"and {SEED}.approved.pdf" in res.output
    data = (folder(ws, run_id) / f"{SEED}.approved.pdf").read_bytes()
    assert data.startswith(b"%PDF")


def _index_row(page: str, portfolio: str) -> str:
    """The table row of ``portfolio`` in an index page."""
    (found,) = re.findall(
        rf'<tr data-s="[^"]*"[^>]*>\s*<th scope="row"><a href="{portfolio}\.html".*?</tr>',
        page,
        re.S,
    )
    return found


def _awaiting_count(page: str) -> int:
    got = re.search(r'count--awaiting"><div class="count__n">([\d,]+)<', page)
    assert got is not None
    return int(got.group(1).replace(",", ""))


def test_index_copy_lists_sign_offs(ws: Workspace, reviewed) -> None:
    """`report --index` writes index.approved.html: an Approval column, the awaiting list and
    count as the audit trail has them now (the run's own index, written before anyone could
    sign off, is left as it was); an approved portfolio leaves the awaiting filter."""
    run_id = reviewed[1]
    original = (folder(ws, run_id) / "index.html").read_bytes()
    res = cli("report", run_id, "--index", "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    assert "0 approved," in res.output and "index.approved.html" in res.output
    before = (folder(ws, run_id) / "index.approved.html").read_text()
    assert '<th scope="col">Approval</th>' in before
    row = _index_row(before, SEED)
    assert 'data-a="1"' in row and ">Awaiting</span>" in row
    assert "Sign-offs as recorded in the audit trail at" in before
    waiting = _awaiting_count(before)
    assert waiting == _awaiting_count(original.decode()) >= 1

    cli("approve", run_id, "-p", SEED, "--by", "Jane <b>Doe</b>", "-w", str(ws.root))
    res = cli("report", run_id, "--index", "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    assert "1 approved," in res.output
    after = (folder(ws, run_id) / "index.approved.html").read_text()
    row = _index_row(after, SEED)
    assert 'data-a="1"' not in row and "Awaiting" not in row
    assert "✓</span> Approved</span>" in row and "by Jane &lt;b&gt;Doe&lt;/b&gt;, 20" in row
    assert _awaiting_count(after) == waiting - 1
    invalid = _index_row(after, "lakeside-pension")
    assert "Approved" not in invalid and "Awaiting" not in invalid
    assert (folder(ws, run_id) / "index.html").read_bytes() == original


@pytest.mark.parametrize(
    "args", [[], ["-p", SEED, "--index"], ["--index", "--pdf"]], ids=["neither", "both", "pdf"]
)
def test_report_wants_one_portfolio_or_the_index(ws: Workspace, reviewed, args) -> None:
    """A usage error (exit 2 at the top-level handler), and nothing written."""
    res = cli("report", reviewed[1], *args, "-w", str(ws.root))
    assert isinstance(res.exception, BallastError) and res.exception.exit_code == 2
    assert not list(folder(ws, reviewed[1]).glob("*.approved.*"))
