"""What the terminal shows after a run (issue 14): the demo's table at 80 columns, the monitor's
action, the PDFs a run wrote, `ballast runs` with whole run ids and reruns, and `demo` saying
that it replaces an earlier demo workspace. Real reviews of the demo workspace (Prefect flows,
DuckDB), printed through the command's own console at a fixed width."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ballast.cli import app as cli
from ballast.reporting.pdf import PdfChoice
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.audit_cli import cli as audit_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
AS_OF = "2026-09-30"
BALLAST = str(Path(sys.executable).with_name("ballast"))
AMOUNTS = {  # the demo's totals, hand-checked in README.md
    "harbor-foundation": "25,000,000.00",
    "okafor-household": "1,655,000.00",
    "ridge-endowment": "50,000,000.00",
    "seed-60-40": "11,300,000.00",
}


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, dict[str, Any]]:
    """One quarterly review of the demo with PDFs for the portfolios that need action."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("terminal") / "ws")
    return ws, quarterly_review(workspace=str(ws.root), as_of=AS_OF, pdf="action")


def printed(monkeypatch: pytest.MonkeyPatch, width: int, fn: Any, *args: Any) -> str:
    """What ``fn`` prints on the command's standard output at ``width`` columns."""
    console = Console(width=width, file=io.StringIO(), record=True)
    monkeypatch.setattr(cli, "out", console)
    monkeypatch.setattr(cli, "err", Console(width=width, file=io.StringIO(), stderr=True))
    fn(*args)
    return console.export_text()


def test_demo_table_fits_80_columns(reviewed, monkeypatch) -> None:
    """At 80 columns every portfolio id and every amount is whole, on one line, and no line is
    wider than the terminal; the single currency is in the title."""
    _, summary = reviewed
    text = printed(monkeypatch, 80, cli._print_summary, summary)
    lines = text.splitlines()
    table = [ln for ln in lines if not ln.startswith("reports: ")]  # a path: the terminal wraps
    assert max(map(len, table)) <= 80
    assert "…" not in text
    assert f"run {summary['run_id']} (completed_with_errors)" in lines
    assert f"quarterly review as of {AS_OF}, amounts in USD" in text
    for pid, amount in AMOUNTS.items():
        (row,) = [ln for ln in lines if f" {pid} " in ln]
        assert amount in row, row
    (lakeside,) = [ln for ln in lines if " lakeside-pension " in ln]
    assert "data" in lakeside and "—" in lakeside  # "data invalid" may wrap: a status, not a name


def test_mixed_currencies_keep_the_currency_in_each_cell(reviewed, monkeypatch) -> None:
    """With two base currencies the header cannot name one: each amount carries its own."""
    _, summary = reviewed
    rows = [dict(r) for r in summary["rows"]]
    for r in rows:
        if r["portfolio_id"] == "seed-60-40":
            r["base_currency"] = "EUR"
    text = printed(monkeypatch, 120, cli._print_summary, summary | {"rows": rows})
    assert "EUR 11,300,000.00" in text and "USD 25,000,000.00" in text
    assert "amounts in" not in text


def test_monitor_says_review_not_rebalance(tmp_path, monkeypatch) -> None:
    """The monitor proposes no trades: a breach is to be reviewed, there is no trades column,
    and the command says which command proposes the trades."""
    from ballast.flows.review import monitor

    ws = copy_demo(tmp_path / "ws")
    summary = monitor(workspace=str(ws.root), as_of=AS_OF)
    text = printed(monkeypatch, 120, cli._print_summary, summary)
    assert "rebalance" not in text and "trades" not in text.splitlines()[2]
    (seed,) = [ln for ln in text.splitlines() if " seed-60-40 " in ln]
    assert "review" in seed and "yes" in seed
    (harbor,) = [ln for ln in text.splitlines() if " harbor-foundation " in ln]
    assert "none" in harbor
    assert f"`ballast review --as-of {AS_OF}` proposes them" in text


def test_pdf_run_says_how_many_and_where(reviewed, monkeypatch) -> None:
    """--pdf action: one PDF per portfolio to rebalance or with invalid data (3 + 1 in the
    demo), and the command says so with the folder."""
    _, summary = reviewed
    folder = Path(summary["report_dir"])
    assert len(list(folder.glob("*.pdf"))) == 4
    text = printed(monkeypatch, 200, cli._print_pdfs, summary, PdfChoice.ACTION)
    assert text.strip() == f"PDFs: 4 written (portfolios that need action) in {folder}"
    assert printed(monkeypatch, 200, cli._print_pdfs, summary, PdfChoice.NONE) == ""


def ballast(*args: str, cwd: Path, columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [BALLAST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_runs_lists_whole_ids_and_reruns(reviewed, tmp_path) -> None:
    """At 120 columns `ballast runs` shows every run id whole, reruns included (with what they
    re-created and their outcome), and the ids it shows are the ones `show` takes."""
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(reviewed[0].root, ws.root)
    run_id = reviewed[1]["run_id"]
    res = audit_cli("rerun", run_id, "--reason", "audit sample", "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    proc = ballast("runs", "-w", str(ws.root), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert max(map(len, proc.stdout.splitlines())) <= 120
    ids = re.findall(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b", proc.stdout)
    (rerun_id,) = {i for i in ids if i != run_id}
    assert ids.count(run_id) == 2  # whole, in its own row and in the rerun's reason
    lines = proc.stdout.splitlines()
    (row,) = [ln for ln in lines if ln.startswith(f"│ {rerun_id} ")]
    assert "│ review │ rerun " in row and "identical" in row and AS_OF in row
    assert "rerun of" in row and f"{run_id}: " in lines[lines.index(row) + 1]
    (own,) = [ln for ln in lines if ln.startswith(f"│ {run_id} ")]
    assert "manual" in own and "completed with" in own
    assert lines.index(row) < lines.index(own)  # newest first
    shown = audit_cli("show", run_id, "-w", str(ws.root))
    assert shown.exit_code == 0 and run_id in shown.output


def test_demo_says_it_replaces_the_previous_demo(reviewed, tmp_path, monkeypatch) -> None:
    """A second `ballast demo` in the same folder says, before deleting it, that the earlier
    demo workspace is replaced; the first says nothing of the kind. (The review itself is the
    module's: the flow is not run again.)"""
    monkeypatch.setattr(cli, "_run_flow", lambda *a, **k: reviewed[1])
    folder = tmp_path / "demo"
    first = CliRunner().invoke(cli.app, ["demo", "-w", str(folder)])
    assert first.exit_code == 0, first.output
    assert "replacing" not in first.output
    (folder / "reports" / "kept-by-the-user.txt").write_text("x", encoding="utf-8")
    second = CliRunner().invoke(cli.app, ["demo", "-w", str(folder)])
    assert second.exit_code == 0, second.output
    assert (
        f"replacing the previous demo workspace {folder.resolve()}: its runs, reports and "
        "approvals are deleted" in " ".join(second.output.split())
    )
    assert not (folder / "reports" / "kept-by-the-user.txt").exists()


def test_demo_help_names_its_own_default(tmp_path) -> None:
    """`demo --help` names ./demo-workspace, not the other commands' ./workspace."""
    proc = ballast("demo", "--help", cwd=tmp_path, columns=200)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "default: ./demo-workspace" in text and "else ./workspace" not in text
    assert "replaces that demo workspace" in text


def test_pdf_line_when_none_was_written(tmp_path, monkeypatch) -> None:
    """--pdf action on a run where nothing needs action: the command says none was written."""
    summary = {"report_dir": str(tmp_path)}
    text = printed(monkeypatch, 200, cli._print_pdfs, summary, PdfChoice.ACTION)
    assert text.strip() == "PDFs: none written (--pdf action: no portfolio called for one)"
