"""Which Prefect API a command uses, where Prefect keeps its state, how long a command waits
(``ballast.ops.orchestrator``), without starting Prefect: the command-line side is in
``tests/cli/test_one_line_errors.py``."""

from __future__ import annotations

import dataclasses
import errno
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ballast import config
from ballast.errors import EXIT_STORAGE, BallastError, OrchestratorError
from ballast.ops import orchestrator, temporary_server

TOUCHED = (
    "PREFECT_HOME",
    "PREFECT_API_URL",
    "PREFECT_PROFILES_PATH",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
    "PREFECT_SERVER_LOGGING_LEVEL",
    config.STARTUP_TIMEOUT_ENV,
)
# (BALLAST_STATE_DIR points at a folder of the test session: no developer's `ballast server`)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The variables ``prepare`` sets, cleared now and restored after the test (set first:
    ``delenv`` records nothing for a variable that is absent, and ``prepare`` sets them)."""
    for name in TOUCHED:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(orchestrator, "_HELD", {})
    return monkeypatch


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_prefect_section_defaults_and_checks(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    cfg = config.load_prefect(tmp_path)
    assert cfg.api_url is None and cfg.startup_timeout_seconds == 120
    assert cfg.home_path(tmp_path) == tmp_path.resolve() / ".ballast" / "prefect"
    (tmp_path / "ballast.yaml").write_text(
        "prefect:\n  api_url: http://127.0.0.1:4200/api/\n  startup_timeout_seconds: 300\n"
        "  home: ~/prefect-state\n"
    )
    cfg = config.load_prefect(tmp_path)
    assert cfg.api_url == "http://127.0.0.1:4200/api" and cfg.startup_timeout_seconds == 300
    assert cfg.home_path(tmp_path) == Path("~/prefect-state").expanduser().resolve()
    env.setenv(config.STARTUP_TIMEOUT_ENV, "45")
    assert config.load_prefect(tmp_path).startup_timeout_seconds == 45
    env.setenv(config.STARTUP_TIMEOUT_ENV, "soon")
    with pytest.raises(BallastError, match="BALLAST_PREFECT_STARTUP_TIMEOUT='soon'"):
        config.load_prefect(tmp_path)
    env.delenv(config.STARTUP_TIMEOUT_ENV)
    (tmp_path / "ballast.yaml").write_text("prefect:\n  api_url: 127.0.0.1:4200\n")
    with pytest.raises(BallastError, match=r"field prefect.api_url: '127.0.0.1:4200' is not"):
        config.load_prefect(tmp_path)
    (tmp_path / "ballast.yaml").write_text("prefect:\n  startup_timeout_seconds: 0\n")
    with pytest.raises(BallastError, match=r"field prefect\.startup_timeout_seconds"):
        config.load_prefect(tmp_path)


def test_prepare_gives_each_workspace_its_prefect_home(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    env.setenv("PREFECT_HOME", str(tmp_path / "inherited"))  # replaced, as documented
    orch = orchestrator.prepare(tmp_path / "ws")
    home = (tmp_path / "ws" / ".ballast" / "prefect").resolve()
    assert orch.home == home and orch.api_url is None and not orch.private
    assert os.environ["PREFECT_HOME"] == str(home) and home.is_dir()
    assert (home / orchestrator.LOCK_NAME).exists()
    assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "120"
    assert "PREFECT_API_URL" not in os.environ


def test_prepare_keeps_the_users_prefect_profiles(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    old_home = tmp_path / "old-home"
    old_home.mkdir()
    (old_home / "profiles.toml").write_text('active = "ephemeral"\n')
    env.setenv("PREFECT_HOME", str(old_home))
    orchestrator.prepare(tmp_path / "ws")
    assert os.environ["PREFECT_PROFILES_PATH"] == str(old_home / "profiles.toml")


def test_a_home_in_use_gives_a_private_one(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    """Another process holds the workspace's Prefect home: this one gets its own beside it, so
    two temporary servers never share one SQLite file; a dead process's private home goes."""
    home = (tmp_path / "ws" / ".ballast" / "prefect").resolve()
    home.mkdir(parents=True)
    stale = home.with_name("prefect.999999999")  # no such process
    stale.mkdir()
    code = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(home / orchestrator.LOCK_NAME)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        orch = orchestrator.prepare(tmp_path / "ws")
    finally:
        holder.communicate(timeout=60)
    assert orch.private and orch.home == home.with_name(f"prefect.{os.getpid()}")
    assert os.environ["PREFECT_HOME"] == str(orch.home) and orch.home.is_dir()
    assert not stale.exists()


def test_configured_server_from_ballast_yaml(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    """``prefect.api_url`` is used (and asked at once); a refused connection is one error."""
    port = closed_port()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "ballast.yaml").write_text(f"prefect:\n  api_url: http://127.0.0.1:{port}/api\n")
    with pytest.raises(OrchestratorError) as caught:
        orchestrator.prepare(ws)
    line = str(caught.value)
    assert f"the Prefect API at http://127.0.0.1:{port}/api (set by prefect.api_url in " in line
    assert "connection refused" in line and "\n" not in line


def test_environment_wins_over_ballast_yaml(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "ballast.yaml").write_text("prefect:\n  api_url: http://127.0.0.1:1/api\n")
    with serving(200) as api:
        env.setenv("PREFECT_API_URL", api)
        orch = orchestrator.prepare(ws)
    assert orch.api_url == api and orch.source == "PREFECT_API_URL"
    assert os.environ["PREFECT_HOME"] == str(orch.home) and not orch.private


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        pass


class serving:
    """A tiny HTTP server on loopback answering every GET with ``status``; yields its API URL."""

    def __init__(self, status: int) -> None:
        handler = type("Handler", (_Health,), {"status": status})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def __exit__(self, *args: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status", [200, 401, 404])
def test_any_answer_but_a_server_error_counts(status: int, tmp_path: Path) -> None:
    with serving(status) as api:
        orchestrator.wait_for_api(api, 30, "PREFECT_API_URL", tmp_path / "ballast.yaml")


def test_a_server_that_never_answers_is_waited_for_then_one_error(tmp_path: Path) -> None:
    """A port that accepts connections but never answers: the wait runs out (1 s here)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # never accepted: connections hang
        api = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
        with pytest.raises(OrchestratorError) as caught:
            orchestrator.wait_for_api(api, 1, "PREFECT_API_URL", tmp_path / "ballast.yaml")
    line = str(caught.value)
    assert line.startswith(f"the Prefect API at {api} (set by PREFECT_API_URL) did not answer")
    assert "within 1 s" in line and "prefect.startup_timeout_seconds" in line


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Prefect's temporary server replaced by a process that never answers (the script it
    runs can be changed: e.g. one that exits at once)."""
    from ballast.ops import temporary_server

    script = ["import time; time.sleep(300)"]
    monkeypatch.setattr(temporary_server, "command", lambda port: [sys.executable, "-c", script[0]])
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return script


def _launched(orch: orchestrator.Orchestrator) -> temporary_server.TemporaryServer:
    server = orchestrator.launch(orch).server
    assert server is not None and "PREFECT_API_URL" not in os.environ  # not left behind
    return server


def test_temporary_server_not_up_in_time(tmp_path: Path, fake_server: list[str]) -> None:
    orch = orchestrator.Orchestrator(
        workspace=tmp_path, home=tmp_path / "h", api_url=None, source=None, timeout=1.2
    )
    server = _launched(orch)
    proc = server.process
    with pytest.raises(OrchestratorError) as caught:
        orchestrator._await_temporary(orch, server)
    line = str(caught.value)
    assert line.startswith("the Prefect API did not answer within 1 s: the temporary Prefect")
    assert f"raise prefect.startup_timeout_seconds in {tmp_path / 'ballast.yaml'}" in line
    assert "`ballast server start`" in line and "\n" not in line and "exited" not in line
    assert proc is not None and proc.poll() is not None and server.process is None  # stopped


def test_temporary_server_that_exits_says_so_at_once(
    tmp_path: Path, fake_server: list[str]
) -> None:
    """A server that exits before it answers: the error names its exit status, without
    waiting out the start-up time."""
    fake_server[0] = "import sys; sys.exit(1)"
    orch = orchestrator.Orchestrator(
        workspace=tmp_path, home=tmp_path / "h", api_url=None, source=None, timeout=600
    )
    with pytest.raises(OrchestratorError) as caught:
        orchestrator._await_temporary(orch, _launched(orch))
    assert "was not up in time; it exited with status 1 (on a busy host" in str(caught.value)


ANSWERING = (
    "import http.server, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers()\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
)


def test_a_server_launched_after_prefect_is_imported_is_the_one_used(
    tmp_path: Path, fake_server: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``connected`` without an earlier ``launch`` (Prefect already imported, its settings
    read): the server it launches is the API the block runs against."""
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setattr(
        temporary_server,
        "command",
        lambda port: [sys.executable, "-c", ANSWERING, str(port)],
    )
    launched: list[temporary_server.TemporaryServer] = []
    real = temporary_server.launch
    monkeypatch.setattr(temporary_server, "launch", lambda: launched.append(real()) or launched[-1])
    orch = orchestrator.Orchestrator(
        workspace=tmp_path, home=tmp_path / "h", api_url=None, source=None, timeout=600
    )
    try:
        with orchestrator.connected(orch) as api:
            assert api.startswith("http://127.0.0.1:") and PREFECT_API_URL.value() == api
    finally:
        for server in launched:
            server.stop()
    assert len(launched) == 1 and PREFECT_API_URL.value() != api  # named for the block only


def test_no_temporary_server_when_one_is_configured(tmp_path: Path, fake_server: list[str]) -> None:
    orch = orchestrator.Orchestrator(
        workspace=tmp_path,
        home=tmp_path / "h",
        api_url="http://127.0.0.1:9/api",
        source="x",
        timeout=1,
    )
    assert orchestrator.launch(orch) is orch and "PREFECT_API_URL" not in os.environ


def test_no_temporary_server_when_the_prefect_profile_sets_an_api(
    tmp_path: Path, fake_server: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's Prefect profile names a server: ``connected`` asks it, nothing is launched."""
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://10.0.0.5:4200/api"\n'
    )
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(profiles))
    orch = orchestrator.Orchestrator(
        workspace=tmp_path, home=tmp_path / "h", api_url=None, source=None, timeout=1
    )
    assert orchestrator.launch(orch).server is None


# -- the user's `ballast server` --------------------------------------------------------------


def record_server(state: Path, api: str, pid: int) -> Path:
    """A ``server.json`` as ``ballast server start`` writes it."""
    from ballast.ops import local_server

    state.mkdir(parents=True, exist_ok=True)
    port = int(api.rsplit(":", 1)[1].split("/")[0])
    info = local_server.ServerInfo(pid, api, port, str(state / "prefect"), "2026-12-04T00:00:00")
    path = state / local_server.INFO_NAME
    path.write_text(json.dumps(dataclasses.asdict(info)))
    return path


@pytest.fixture
def state(tmp_path: Path, env: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    env.setenv("BALLAST_STATE_DIR", str(folder))
    return folder


def test_a_running_ballast_server_is_used(tmp_path: Path, state: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with serving(200) as api:
        record_server(state, api, os.getpid())
        orch = orchestrator.prepare(ws)
    assert orch.api_url == api and orch.source == orchestrator.LOCAL_SOURCE
    assert os.environ["PREFECT_API_URL"] == api
    assert orch.home == ws.resolve() / ".ballast" / "prefect" and not orch.private


def test_the_environment_and_ballast_yaml_win_over_the_ballast_server(
    tmp_path: Path, state: Path, env: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with serving(200) as mine, serving(200) as configured:
        record_server(state, mine, os.getpid())
        (ws / "ballast.yaml").write_text(f"prefect:\n  api_url: {configured}\n")
        assert orchestrator.prepare(ws).api_url == configured
        env.delenv("PREFECT_API_URL")
        (ws / "ballast.yaml").write_text("prefect:\n  local_server: false\n")
        assert orchestrator.prepare(ws).api_url is None  # a temporary server


def test_a_stale_record_gives_a_temporary_server(tmp_path: Path, state: Path) -> None:
    """A recorded process that is gone: the record is removed. One alive whose port refuses
    (the pid was reused): ignored. Either way the command starts its own temporary server."""
    ws = tmp_path / "ws"
    ws.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone = int(done.stdout)
    path = record_server(state, f"http://127.0.0.1:{closed_port()}/api", gone)
    assert orchestrator.prepare(ws).api_url is None and not path.exists()
    path = record_server(state, f"http://127.0.0.1:{closed_port()}/api", os.getpid())
    os.environ.pop("PREFECT_API_URL", None)
    assert orchestrator.prepare(ws).api_url is None and path.exists()


def test_temporary_server_on_a_full_disk_is_a_storage_failure(
    tmp_path: Path, fake_server: list[str]
) -> None:
    """The server did not come up and its home cannot be written (every write: ``ENOSPC``):
    the storage's fault (exit status 74), not the orchestrator's (69)."""
    from ballast.ops import failures

    home = tmp_path / "h"
    home.mkdir()
    (home / f".ballast-probe-{os.getpid()}").symlink_to("/dev/full")
    orch = orchestrator.Orchestrator(
        workspace=tmp_path, home=home, api_url=None, source=None, timeout=1
    )
    fake_server[0] = "import sys; sys.exit(1)"
    with pytest.raises(OSError) as caught:
        orchestrator._await_temporary(orch, _launched(orch))
    assert caught.value.errno == errno.ENOSPC
    assert failures.describe(caught.value, ["ballast", "review"]).exit_code == EXIT_STORAGE
