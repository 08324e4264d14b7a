"""Custodian layouts reach the same warehouse state as the canonical files they stand for."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from ballast import workspace
from ballast.ingest import inbox
from ballast.warehouse import db
from tests.support.paths import FIXTURES

FIXTURES = FIXTURES


def _ingest(root: Path, files: list[Path]) -> workspace.Workspace:
    ws = workspace.init(root)
    shutil.copyfile(FIXTURES / "adapters" / "securities.csv", ws.securities)
    for f in files:
        shutil.copyfile(f, ws.inbox / f.name)
    with db.connect(ws.warehouse) as con:
        report = inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
    assert report.quarantined == [], report.quarantined
    return ws


def _state(ws: workspace.Workspace) -> pl.DataFrame:
    with db.connect(ws.warehouse) as con:
        frame = con.sql("select * exclude (file_id, line) from positions").pl()
    return frame.sort(frame.columns)


@pytest.mark.parametrize(
    ("layout", "canonical"),
    [
        ("schwab_Balances_417.csv", "schwab_positions_canonical.csv"),
        ("fidelity_Statement09302026.csv", "fidelity_positions_canonical.csv"),
    ],
)
def test_layout_equals_canonical_in_the_warehouse(
    tmp_path: Path, layout: str, canonical: str
) -> None:
    """Ingested through the real pipeline, both files leave identical positions."""
    a = _ingest(tmp_path / "a", [FIXTURES / "adapters" / layout])
    b = _ingest(tmp_path / "b", [FIXTURES / "adapters" / canonical])
    assert _state(a).height > 0
    assert _state(a).equals(_state(b))
