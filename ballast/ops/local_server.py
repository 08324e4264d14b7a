"""One Prefect server per user, on loopback, that ``ballast`` commands reuse (``ballast server``).

Without it every command starts Prefect's temporary server and stops it again: 10-20 s of a
command's time on two cores, most of a small review. ``ballast server start`` starts
``prefect server start --host 127.0.0.1`` once, detached, with its state in the user's ballast
state folder; every later command (and ``ballast serve``) finds it and runs against it, which
costs a command about a second. ``ballast server stop`` ends it.

State folder: ``$BALLAST_STATE_DIR``, else ``$XDG_STATE_HOME/ballast``, else
``~/.local/state/ballast``. In it:

- ``prefect/``: the server's ``PREFECT_HOME`` (its SQLite database: the run history the UI shows);
- ``server.json``: ``{"pid", "api_url", "port", "home", "started_at"}`` of the running server,
  written once it answers its health check, removed by ``stop``;
- ``server.log``: the server's output;
- ``server.lock``: held while a ``start`` or ``stop`` is in progress, so two never race.

A ``server.json`` whose process is gone is stale: it is removed and ignored. Nothing here
imports Prefect: ``find`` is called before Prefect is imported.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ballast.errors import OrchestratorError

STATE_ENV = "BALLAST_STATE_DIR"
INFO_NAME = "server.json"
LOG_NAME = "server.log"
LOCK_NAME = "server.lock"
STOP_WAIT_SECONDS = 20.0
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ServerInfo:
    """A running ballast-started Prefect server."""

    pid: int
    api_url: str
    port: int
    home: str
    started_at: str

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def state_dir() -> Path:
    """The user's ballast state folder (see the module docstring)."""
    if explicit := os.environ.get(STATE_ENV):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return Path(base).expanduser() / "ballast"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_info(folder: Path) -> ServerInfo | None:
    path = folder / INFO_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ServerInfo(**{k: raw[k] for k in ServerInfo.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find() -> ServerInfo | None:
    """The running server recorded in the state folder, or None (a stale record is removed)."""
    folder = state_dir()
    info = _read_info(folder)
    if info is None:
        return None
    if not _alive(info.pid):
        with contextlib.suppress(OSError):
            (folder / INFO_NAME).unlink()
        return None
    return info


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check at ``api_url``."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, words: int = 30) -> str:
    try:
        return " ".join(path.read_text(encoding="utf-8", errors="replace").split()[-words:])
    except OSError:
        return ""


def start(port: int | None = None, timeout: float = 120.0) -> tuple[ServerInfo, bool]:
    """The running server, or a new one started and answering; ``(info, started)``."""
    folder = state_dir()
    with _locked(folder):
        if (info := find()) is not None:
            return info, False
        port = port or free_port()
        home = folder / "prefect"
        home.mkdir(parents=True, exist_ok=True)
        api = f"http://127.0.0.1:{port}/api"
        if healthy(api, timeout=1.0):
            raise OrchestratorError(
                f"something already answers on 127.0.0.1:{port}; choose another --port"
            )
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PREFECT_API_URL", "PREFECT_PROFILES_PATH")
        }
        env |= {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(port),
        }
        cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        log_path = folder / LOG_NAME
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [*cmd, "--port", str(port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this command, and its Ctrl+C
            )
        deadline = time.monotonic() + timeout
        while not healthy(api):
            if proc.poll() is not None:
                raise OrchestratorError(
                    f"the Prefect server exited with status {proc.returncode} while starting "
                    f"(log: {log_path}): {_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                _terminate(proc.pid)
                raise OrchestratorError(
                    f"the Prefect server did not answer within {timeout:.0f} s (log: {log_path}); "
                    "on a busy host try again with a longer --timeout"
                )
            time.sleep(POLL_SECONDS)
        info = ServerInfo(
            pid=proc.pid,
            api_url=api,
            port=port,
            home=str(home),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        tmp = folder / f"{INFO_NAME}.tmp"
        tmp.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder / INFO_NAME)
        return info, True


def _terminate(pid: int) -> None:
    """SIGTERM to the server's process group, SIGKILL after ``STOP_WAIT_SECONDS``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def stop() -> ServerInfo | None:
    """Stop the running server; the one stopped, or None when none was running."""
    folder = state_dir()
    with _locked(folder):
        info = find()
        if info is None:
            return None
        _terminate(info.pid)
        with contextlib.suppress(OSError):
            (folder / INFO_NAME).unlink()
        return info
