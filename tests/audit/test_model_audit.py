"""A model portfolio's file is part of what a run records (issue #14 item 6): its version is in
``run_inputs`` (role ``model``) and the ``run_finished`` event, its bytes in
``archive/models/<sha256>.yaml``; ``verify`` re-hashes the archived copy, ``rerun`` reads it
back (byte-identical outputs), and an edit to either side is named.

One real review (a real DuckDB file, a real Prefect run) of a small workspace whose one
portfolio takes its classes from ``models/growth.yaml``; each test works on a copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ballast import errors, workspace
from ballast.audit import rerun
from ballast.audit import verify as proof
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.audit.test_rerun import clone
from tests.portfolio.test_models import CLASSES, GROWTH_V1, HOLDINGS, ON_MODEL, PRICES, sha

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
AS_OF = "2026-09-30"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, dict]:
    from ballast.flows.review import quarterly_review

    ws = workspace.init(tmp_path_factory.mktemp("model-audit") / "ws")
    ws.securities.write_text(
        "security_id,symbol,name,asset_class,identical_group\n"
        + "".join(f"{s},{s},{s},{c},\n" for s, c in CLASSES.items())
    )
    (ws.models / "growth.yaml").write_text(GROWTH_V1, encoding="utf-8")
    (ws.ips / "p1.yaml").write_text(ON_MODEL, encoding="utf-8")
    (ws.inbox / "pos.csv").write_text(HOLDINGS, encoding="utf-8")
    (ws.inbox / "px.csv").write_text(PRICES, encoding="utf-8")
    return ws, quarterly_review(workspace=str(ws.root), as_of=AS_OF, html=True)


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    return clone(reviewed[0], tmp_path / "ws")


def problems(ws: Workspace) -> list[str]:
    with db.connect(ws.warehouse) as con:
        return proof.verify(con, ws).findings.problems


def test_the_run_records_and_archives_the_model(ws: Workspace, reviewed) -> None:
    """results.json names the model (full SHA-256), the report its 12-character version; the
    run's inputs and its run_finished event carry the model file's hash; the archive holds
    its bytes; verify finds nothing wrong and rerun re-creates the outputs byte for byte."""
    summary = reviewed[1]
    folder = Path(summary["report_dir"])
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    (entry,) = doc["portfolios"]
    assert entry["model"] == {"id": "growth", "name": "Growth 60/40", "sha256": sha(GROWTH_V1)}
    assert f">{sha(GROWTH_V1)[:12]}</span>" in (folder / "p1.html").read_text(encoding="utf-8")
    with db.connect(ws.warehouse) as con:
        rows = con.execute(
            "select role, name, sha256 from run_inputs where run_id = ? and role = 'model'",
            [summary["run_id"]],
        ).fetchall()
        (payload,) = con.execute(
            "select payload from audit_log where event = 'run_finished' and run_id = ?",
            [summary["run_id"]],
        ).fetchone()
    assert rows == [("model", "growth.yaml", sha(GROWTH_V1))]
    assert {"role": "model", "name": "growth.yaml", "sha256": sha(GROWTH_V1)}.items() <= next(
        i for i in json.loads(payload)["inputs"] if i["role"] == "model"
    ).items()
    archived = ws.archive / "models" / f"{sha(GROWTH_V1)}.yaml"
    assert archived.read_text(encoding="utf-8") == GROWTH_V1
    assert problems(ws) == []
    with db.connect(ws.warehouse) as con:
        again = rerun.rerun(con, ws, summary["run_id"])
    assert again.identical and again.changes == []


def test_an_edited_archived_model_is_named(ws: Workspace, reviewed) -> None:
    run_id = reviewed[1]["run_id"]
    archived = ws.archive / "models" / f"{sha(GROWTH_V1)}.yaml"
    archived.write_text(GROWTH_V1 + "# edited\n", encoding="utf-8")
    (found,) = problems(ws)
    assert found.startswith(f"model growth.yaml of run {run_id}: archive/models/")
    assert "was edited" in found
    with db.connect(ws.warehouse) as con, pytest.raises(errors.Unproven) as caught:
        rerun.rerun(con, ws, run_id)
    assert str(caught.value).startswith(
        f"{archived}: the archived model growth.yaml of run {run_id} was edited after the run"
    )


def test_a_model_edited_since_the_run_is_a_changed_input(ws: Workspace, reviewed) -> None:
    """The model in models/ edited after the run: the rerun still uses the archived version
    (identical outputs) and lists the model among what changed, for the portfolio on it."""
    run_id = reviewed[1]["run_id"]
    (ws.models / "growth.yaml").write_text(GROWTH_V1.replace("60%", "55%", 1), encoding="utf-8")
    with db.connect(ws.warehouse) as con:
        changes = rerun.changed_inputs(con, ws, run_id)
    (change,) = changes
    assert change.kind == "model" and change.portfolios == ("p1",)
    assert change.describe().startswith(
        f"models/growth.yaml: the run used sha256 {sha(GROWTH_V1)[:12]}…; the file is now"
    )
