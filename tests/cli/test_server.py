"""``ballast server``: one real Prefect server on loopback, started, used by a review, stopped.

Every command runs as its own process, as a user runs it, with ``BALLAST_STATE_DIR`` in the
test's folder (never the developer's server). The server is a real ``prefect server start``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from ballast.ops.local_server import INFO_NAME
from tests.conftest import copy_demo

BALLAST = str(Path(sys.executable).with_name("ballast"))
AS_OF = "2026-09-30"
TIMEOUT = 900  # seconds; a bound for a hung command on a loaded host, not a speed assertion
NOT_RUNNING = 69


def ballast(*args: str, state: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BALLAST_STATE_DIR": str(state), "XDG_CACHE_HOME": str(cwd / "cache")}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.run(
        [BALLAST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def flow_run_names(api: str) -> list[str]:
    """The flow runs the server knows of."""
    request = urllib.request.Request(
        f"{api}/flow_runs/filter",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        return [run["name"] for run in json.load(resp)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_use_and_stop_a_ballast_server(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ws = copy_demo(tmp_path / "ws")
    assert ballast("server", "status", state=state, cwd=tmp_path).returncode == NOT_RUNNING

    started = ballast("server", "start", "--timeout", "600", state=state, cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    info = json.loads((state / INFO_NAME).read_text())
    api, pid = info["api_url"], info["pid"]
    assert api.startswith("http://127.0.0.1:") and f"API {api}" in started.stdout
    try:
        again = ballast("server", "start", state=state, cwd=tmp_path)
        assert again.returncode == 0 and "already running" in again.stdout
        assert json.loads((state / INFO_NAME).read_text())["pid"] == pid  # not a second one

        status = ballast("server", "status", state=state, cwd=tmp_path)
        assert status.returncode == 0 and "answering" in status.stdout
        assert ballast("server", "status", "--api", state=state, cwd=tmp_path).stdout == api + "\n"

        review = ballast("review", "--as-of", AS_OF, "-w", str(ws.root), state=state, cwd=tmp_path)
        assert review.returncode in (0, 1), review.stderr
        assert flow_run_names(api), "the review's flow run is on the ballast server"
        # the command ran no temporary server of its own: its Prefect home holds no database
        assert not list((ws.root / ".ballast" / "prefect").glob("*.db"))
    finally:
        stopped = ballast("server", "stop", state=state, cwd=tmp_path)
    assert stopped.returncode == 0 and f"pid {pid}" in stopped.stdout
    assert not (state / INFO_NAME).exists() and not alive(pid)
    assert ballast("server", "status", state=state, cwd=tmp_path).returncode == NOT_RUNNING
    assert (
        "no ballast Prefect server" in ballast("server", "stop", state=state, cwd=tmp_path).stdout
    )
