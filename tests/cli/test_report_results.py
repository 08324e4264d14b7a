"""`ballast report` checks the run's results.json against the hash the run recorded before it
uses a figure of it: an edited, truncated or deleted results.json (a portfolio removed from it
included) is refused in one line with exit 65, never a traceback, and nothing is written.

The recorded hash is the one in the run's ``run_finished`` audit event (``run_outputs`` is a
plain table: rewriting its row does not make an edited file pass)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ballast.errors import EXIT_UNPROVEN, EXIT_USAGE
from ballast.ops import failures
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.audit.test_rerun import clone
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
AS_OF, SEED = "2026-09-30", "seed-60-40"
BALLAST = str(Path(sys.executable).with_name("ballast"))


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, str]:
    """One quarterly review of the demo with its HTML reports (tests work on copies)."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("report-results") / "ws")
    return ws, quarterly_review(workspace=str(ws.root), as_of=AS_OF)["run_id"]


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    return clone(reviewed[0], tmp_path / "ws")


def results_path(ws: Workspace, run_id: str) -> Path:
    return ws.reports / AS_OF / run_id / "results.json"


def without(ws: Workspace, run_id: str, portfolio: str) -> None:
    """Remove one portfolio from the run's results.json."""
    path = results_path(ws, run_id)
    doc = json.loads(path.read_text())
    doc["portfolios"] = [p for p in doc["portfolios"] if p["portfolio_id"] != portfolio]
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def refused(ws: Workspace, run_id: str, portfolio: str = SEED) -> failures.Failure:
    """Run `ballast report`; what main() would print for its failure (asserted: one)."""
    res = cli("report", run_id, "-p", portfolio, "-w", str(ws.root))
    assert res.exception is not None and not isinstance(res.exception, SystemExit), res.output
    assert not (ws.reports / AS_OF / run_id / f"{portfolio}.approved.html").exists()
    return failures.describe(res.exception, ["ballast", "report", run_id])


def test_untouched_results_are_used(ws: Workspace, reviewed) -> None:
    res = cli("report", reviewed[1], "-p", SEED, "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    assert f"{SEED}: pending; wrote" in res.output


def test_removed_portfolio_is_one_line_no_traceback(ws: Workspace, reviewed, tmp_path) -> None:
    """As a user runs it: the portfolio removed from results.json (which once crashed with
    StopIteration) gives one line on stderr and exit 65."""
    run_id = reviewed[1]
    without(ws, run_id, SEED)
    proc = subprocess.run(
        [BALLAST, "report", run_id, "--portfolio", SEED, "-w", str(ws.root)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert proc.returncode == EXIT_UNPROVEN == 65, proc.stderr
    path = results_path(ws, run_id)
    assert line.startswith(f"error: {path}: altered since the run (sha256 now ")
    assert line.endswith("nothing was written")


def test_other_portfolio_is_refused_too(ws: Workspace, reviewed) -> None:
    """Any edit to results.json refuses every portfolio's report: its figures are suspect."""
    without(ws, reviewed[1], "harbor-foundation")
    failure = refused(ws, reviewed[1], SEED)
    assert failure.exit_code == 65 and "altered since the run" in failure.line


def test_rewritten_hash_row_does_not_help(ws: Workspace, reviewed) -> None:
    """results.json edited and its run_outputs row rewritten to match: the run_finished event
    still holds the original hash, so the file is refused."""
    run_id = reviewed[1]
    without(ws, run_id, SEED)
    with db.connect(ws.warehouse) as con:
        con.execute(
            "update run_outputs set sha256 = sha256(?) where run_id = ? and name = 'results.json'",
            [results_path(ws, run_id).read_text(), run_id],
        )
    failure = refused(ws, run_id)
    assert failure.exit_code == 65 and "altered since the run" in failure.line


def test_deleted_results(ws: Workspace, reviewed) -> None:
    results_path(ws, reviewed[1]).unlink()
    failure = refused(ws, reviewed[1])
    assert failure.exit_code == 65
    assert failure.line.endswith("not found: the run's results.json is gone")


def test_edited_html_report_is_refused_with_the_same_status(ws: Workspace, reviewed) -> None:
    path = ws.reports / AS_OF / reviewed[1] / f"{SEED}.html"
    path.write_text(path.read_text().replace("Pending", "Approved"), encoding="utf-8")
    failure = refused(ws, reviewed[1])
    assert failure.exit_code == 65 and failure.line.startswith(f"{path}: altered since the run")


def test_unknown_portfolio_is_a_usage_error(ws: Workspace, reviewed) -> None:
    failure = refused(ws, reviewed[1], "nosuch")
    assert failure.exit_code == EXIT_USAGE
    assert failure.line == f"run {reviewed[1]} did not review portfolio nosuch"


def test_portfolio_missing_from_intact_results(ws: Workspace, reviewed) -> None:
    """results.json intact, but the run's table lists a portfolio it has no entry for (a row
    added to run_portfolios): one line, exit 65, no StopIteration."""
    run_id = reviewed[1]
    with db.connect(ws.warehouse) as con:
        con.execute(
            "insert into run_portfolios (run_id, portfolio_id, status, breached, action, "
            "errors, warnings) values (?, 'ghost', 'ok', false, 'none', [], [])",
            [run_id],
        )
    failure = refused(ws, run_id, "ghost")
    assert failure.exit_code == 65
    assert failure.line == (
        f"{results_path(ws, run_id)}: no entry for portfolio ghost, which the run recorded as "
        "reviewed"
    )
