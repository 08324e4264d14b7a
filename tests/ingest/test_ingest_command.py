"""``ballast ingest`` as a user runs it on a hostile inbox: each refused entry is named with its
reason on one line, the regular files load, no traceback, and nothing is read through a link."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ballast import workspace
from tests.ingest.test_ingest import HEADER

BALLAST = str(Path(sys.executable).with_name("ballast"))


@pytest.mark.slow
def test_ingest_names_each_refused_entry_on_one_line(tmp_path: Path) -> None:
    ws = workspace.init(tmp_path / "ws")
    outside = tmp_path / "outside.csv"
    outside.write_text(HEADER + "2026-09-30,X9,GEQ,10,100.00,1000.00,USD\n", encoding="utf-8")
    (ws.inbox / "link.csv").symlink_to(outside)
    (ws.inbox / "sub").mkdir()
    os.mkfifo(ws.inbox / "feed.csv")
    (ws.inbox / "good.csv").write_text(
        HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n", encoding="utf-8"
    )
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "300"}
    proc = subprocess.run(
        [BALLAST, "ingest", "--workspace", str(ws.root)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a FIFO that blocked would end here, not hang the suite
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "loaded good.csv (positions, 1 rows)" in proc.stdout
    lines = (proc.stdout + proc.stderr).splitlines()
    for reason in (
        f"link.csv: a symbolic link (to {str(outside)!r}), not a regular file: not read, "
        "left where it is",
        "sub: a folder, not a regular file: not read, left where it is",
        "feed.csv: a named pipe (FIFO), not a regular file: not read, left where it is",
    ):
        assert any(reason in line for line in lines), (reason, proc.stderr)
    assert "X9" not in proc.stdout + proc.stderr
