"""``ballast serve`` end to end, and the calendar-gated entry flows.

``ballast serve`` runs in a subprocess with no ``PREFECT_API_URL``, so it starts its own Prefect
server on a free loopback port (as a user's plain ``ballast serve`` does on 4200); the test
triggers ``quarterly-review/adhoc`` by name with ``run_deployment``, as the UI or ``prefect
deployment run`` would, and waits for it. Everything runs in one process group, killed at the
end. The entry-flow tests use the session's ``prefect_harness``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballast import calendar
from ballast.audit import records
from ballast.warehouse import db
from tests.conftest import copy_demo

pytestmark = pytest.mark.slow
AS_OF = "2026-09-30"
STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 60.0


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the serve process group (the runner and any flow-run child), then SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen, str]]:
    """A demo workspace served by ``ballast serve`` (and its own Prefect server)."""
    ws = copy_demo(tmp_path / "ws")
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),  # a fresh database, not ~/.prefect
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL", None)
    log = (tmp_path / "serve.log").open("w")
    cmd = [sys.executable, "-c", "from ballast.cli.app import main; main()", "serve"]
    proc = subprocess.Popen(
        [*cmd, "-w", str(ws.root), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield ws.root, proc, f"http://127.0.0.1:{port}/api"
    finally:
        _stop(proc)
        log.close()


def _wait_for_deployment(name: str, proc: subprocess.Popen, log: Path) -> None:
    from prefect import get_client

    deadline = time.monotonic() + STARTUP_TIMEOUT
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"ballast serve exited {proc.returncode}:\n{log.read_text()}")
            try:
                client.read_deployment_by_name(name)
                return
            except Exception:
                time.sleep(0.5)
    pytest.fail(f"{name} not registered within {STARTUP_TIMEOUT}s:\n{log.read_text()}")


def test_serve_runs_adhoc_review_by_name(served, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    root, proc, api = served
    log = tmp_path / "serve.log"
    with temporary_settings(updates={PREFECT_API_URL: api}):
        for name in (
            "quarterly-review/adhoc",
            "quarterly-review/scheduled",
            "daily-monitor/scheduled",
        ):
            _wait_for_deployment(name, proc, log)
        with urllib.request.urlopen(api.removesuffix("/api") + "/", timeout=10) as ui:
            assert ui.status == 200 and b"<html" in ui.read(2000).lower()  # the UI is there
        run = run_deployment(
            "quarterly-review/adhoc",
            parameters={"as_of": AS_OF, "reason": "test rerun"},
            timeout=RUN_TIMEOUT,
            poll_interval=1,
        )
        bad = run_deployment(
            "quarterly-review/adhoc",
            parameters={"as_of": "2026-13-45"},
            timeout=RUN_TIMEOUT,
            poll_interval=1,
        )
    # the demo's broken custodian file: a named, non-green final state (reports written)
    assert run.state is not None, log.read_text()
    assert (run.state.type.value, run.state.name) == ("FAILED", "Completed with exceptions"), (
        f"{run.state}\n{log.read_text()}"
    )
    assert {"ballast", "trigger:adhoc", "reason:test rerun"} <= set(run.tags)
    assert any(t.startswith("who:") for t in run.tags)
    # a parameter error: Failed, one line naming the parameter, no traceback where serve prints
    assert bad.state is not None and bad.state.is_failed(), f"{bad.state}\n{log.read_text()}"
    assert "parameter as_of: '2026-13-45' is not a date" in (bad.state.message or "")
    assert "\n" not in (bad.state.message or "")

    (results,) = (root / "reports" / AS_OF).glob("*/results.json")
    doc = json.loads(results.read_text(encoding="utf-8"))
    assert (doc["as_of"], doc["kind"], doc["trigger"]) == (AS_OF, "quarterly_review", "adhoc")
    seed = next(p for p in doc["portfolios"] if p["portfolio_id"] == "seed-60-40")
    assert seed["breached"] and seed["action"] == "rebalance"

    _stop(proc)  # release the warehouse before reading the audit trail
    with db.connect(root / "warehouse.duckdb") as con:
        row = records.list_runs(con).row(0, named=True)
    assert (row["trigger"], row["reason"]) == ("adhoc", "test rerun")
    printed = log.read_text()
    assert "Traceback" not in printed, printed


def _at(monkeypatch, *when: int) -> None:
    """Pretend the entry flow was scheduled at ``when`` (New York time)."""
    import ballast.flows.scheduled

    moment = dt.datetime(*when, tzinfo=calendar.EXCHANGE_TZ)
    monkeypatch.setattr(ballast.flows.scheduled, "_scheduled_time", lambda: moment)


@pytest.mark.usefixtures("prefect_harness")
def test_scheduled_monitor_skips_thanksgiving(monkeypatch, tmp_path: Path) -> None:
    from ballast.flows.scheduled import scheduled_monitor

    ws = copy_demo(tmp_path / "ws")
    _at(monkeypatch, 2026, 11, 26, 16, 30)
    state = scheduled_monitor(workspace=str(ws.root), return_state=True)
    assert state.is_completed() and state.name == "Skipped"
    assert "not an NYSE session" in state.message
    assert not any((ws.root / "reports").iterdir())


@pytest.mark.usefixtures("prefect_harness")
def test_scheduled_review_runs_on_review_day_as_of_quarter_end(monkeypatch, tmp_path) -> None:
    from ballast.flows.scheduled import scheduled_review

    ws = copy_demo(tmp_path / "ws")
    # the demo's lakeside file is broken on purpose: do not wait for it (tests/test_wait.py does)
    (ws.root / "ballast.yaml").write_text("schedule: {wait_for_files_minutes: 0}\n")
    _at(monkeypatch, 2026, 10, 2, 7, 0)  # 2nd session after 2026-09-30: not yet
    assert scheduled_review(workspace=str(ws.root), return_state=True).name == "Skipped"
    _at(monkeypatch, 2026, 10, 5, 7, 0)  # 3rd session
    summary = scheduled_review(workspace=str(ws.root))
    assert (summary["as_of"], summary["kind"]) == (AS_OF, "quarterly_review")
    doc = json.loads((Path(summary["report_dir"]) / "results.json").read_text())
    assert doc["trigger"] == "schedule"
