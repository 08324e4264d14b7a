"""Great Expectations (seconds to import) is imported only when a staged file needs validating.

Each check runs in a fresh Python process that refuses to import ``great_expectations``: a
finder at the head of ``sys.meta_path`` records the attempt and raises ``ImportError``. A run
with nothing to validate must finish without one; a file that does need validating must try.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ballast import workspace
from ballast.resources import examples_dir
from tests.conftest import copy_demo

# installed before anything else is imported in the child process
NO_GX = """
import sys

ATTEMPTS = []


class NoGX:
    def find_spec(self, name, path=None, target=None):
        if name == "great_expectations" or name.startswith("great_expectations."):
            ATTEMPTS.append(name)
            raise ImportError(f"{name} is not to be imported here")
        return None


sys.meta_path.insert(0, NoGX())
"""

STAGES = """
import json
from pathlib import Path

from ballast.ingest import inbox
from ballast.warehouse import db
from ballast.workspace import Workspace


def ingest(root):
    ws = Workspace(Path(root))
    with db.connect(ws.warehouse) as con:
        staged = inbox.stage_workspace(con, ws)
        try:
            validated = inbox.validate(staged)
        except ImportError:
            return {"staged": len(staged), "validate": "ImportError"}
        report = inbox.commit(con, ws, validated)
    return {"staged": len(staged), "report": report.as_dict()}


out = {}
for name in sys.argv[1:]:
    out[Path(name).name] = {"outcome": ingest(name), "attempts": list(ATTEMPTS)}
out["modules"] = "great_expectations" in sys.modules
print(json.dumps(out, default=str))
"""


def _child(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", NO_GX + code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _workspace(root: Path, inbox: dict[str, str]) -> Path:
    """IPS files of the demo, no security master, and ``inbox`` (name -> text)."""
    ws = workspace.init(root)
    for f in (examples_dir() / "demo" / "ips").iterdir():
        shutil.copyfile(f, ws.ips / f.name)
    for name, text in inbox.items():
        (ws.inbox / name).write_text(text, encoding="utf-8")
    return ws.root


def test_ingest_with_nothing_to_validate_does_not_import_gx(tmp_path: Path) -> None:
    """An empty inbox, then an inbox whose only file is refused before validation: staged,
    validated and committed without importing GX. A valid file then does try to import it
    (the check can fail)."""
    positions = examples_dir() / "demo" / "inbox" / "custodian-a_positions_2026-09-30.csv"
    empty = _workspace(tmp_path / "empty", {})
    refused = _workspace(tmp_path / "refused", {"notes.csv": "hello,world\n1,2\n"})
    valid = _workspace(tmp_path / "valid", {positions.name: positions.read_text("utf-8")})
    proc = _child(STAGES, str(empty), str(refused), str(valid), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    assert out["empty"]["outcome"]["staged"] == 0
    assert out["empty"]["attempts"] == []
    assert out["refused"]["outcome"]["staged"] == 1
    assert len(out["refused"]["outcome"]["report"]["quarantined"]) == 1
    assert out["refused"]["attempts"] == []

    assert out["valid"]["outcome"] == {"staged": 1, "validate": "ImportError"}
    assert out["valid"]["attempts"][:1] == ["great_expectations"]
    assert out["modules"] is False


REVIEW = """
from ballast.cli.app import main

try:
    main()
finally:
    print("GX-ATTEMPTS " + repr(ATTEMPTS), flush=True)
"""


@pytest.mark.slow
def test_review_with_an_empty_inbox_does_not_import_gx(tmp_path: Path) -> None:
    """``ballast review`` after the files were ingested (inbox empty, security master
    unchanged): the whole run, Prefect included, never imports GX."""
    from ballast.ingest import inbox
    from ballast.warehouse import db

    ws = copy_demo(tmp_path / "ws")
    with db.connect(ws.warehouse) as con:  # the earlier ingest (this process may import GX)
        inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
    assert not any(ws.inbox.iterdir())

    args = ["review", "--as-of", "2026-09-30", "--workspace", str(ws.root)]
    proc = _child(REVIEW, *args, cwd=tmp_path)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr  # 1: a portfolio with invalid data
    assert "reports:" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "GX-ATTEMPTS []"


@pytest.mark.slow
def test_review_validates_its_files_in_a_process_of_their_own(tmp_path: Path) -> None:
    """``ballast review`` with files to validate: Great Expectations runs in the command's
    validation process (``ballast.ingest.validator``), never in the command's own, which
    refuses to import it here; a file failing an expectation is still quarantined with the
    file, row and column GX found."""
    ws = copy_demo(tmp_path / "ws")
    src = ws.inbox / "custodian-a_positions_2026-09-30.csv"
    lines = src.read_text("utf-8").splitlines()
    # the same account and security twice: the suite's compound-unique rule fails
    (ws.inbox / "custodian-c_positions_2026-09-30.csv").write_text(
        "\n".join([lines[0], lines[1], lines[1]]) + "\n", encoding="utf-8"
    )
    args = ["review", "--as-of", "2026-09-30", "--workspace", str(ws.root)]
    proc = _child(REVIEW, *args, cwd=tmp_path)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 1, proc.stderr  # quarantined files and an invalid portfolio
    quarantined = [
        line for line in proc.stderr.splitlines() if line.startswith("quarantined custodian-c")
    ]
    assert len(quarantined) == 1, proc.stderr
    assert "row 2, columns as_of_date, account_id, security_id" in quarantined[0]
    assert "also on row 3" in quarantined[0]
    assert "files: 5 loaded, 2 quarantined" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "GX-ATTEMPTS []"
