"""Prefect's temporary server for one command, launched before Prefect is imported.

This is the server Prefect itself starts for a process with no API configured (Prefect's
``SubprocessASGIServer``): ``uvicorn`` serving ``prefect.server.api.server:create_app`` on
loopback, the UI off, in ephemeral mode, stopped when the command exits. ballast launches the
same command itself, in ``orchestrator.prepare``, for two reasons measured on two cores:

- the command's own process does not import Prefect's server package (about 3 s of CPU), which
  only the server needs;
- the server boots (about 5 s) while the command imports its flows, Polars and DuckDB, instead
  of after.

``orchestrator.connected`` waits for its health check, then runs the flow with the server
named in Prefect's settings (``PREFECT_API_URL``, for that block only), as a configured server
is.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field

STARTUP_FAILURE = 3  # uvicorn's exit status when it cannot start (e.g. the port was taken)
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}


def command(port: int) -> list[str]:
    """The server's command line, as Prefect's ``SubprocessASGIServer`` runs it."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TemporaryServer:
    """The launched server: its process and port."""

    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def launch(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | SERVER_ENV
        self.process = subprocess.Popen(command(self.port), env=env)

    def healthy(self, timeout: float) -> bool:
        """Whether the server answers its health check now (a port taken by another process
        at launch: launched again on a new port)."""
        if self.process is not None and self.process.poll() == STARTUP_FAILURE:
            self.port = free_port()
            self.launch()
            return False
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=timeout) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def exit_status(self) -> int | None:
        """The server process's exit status, once it has exited."""
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """Terminate the server (killed when it does not end within 5 s); idempotent."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            end(proc, grace=5)


def end(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Terminate ``proc``; kill it when it has not ended ``grace`` seconds later."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def launch() -> TemporaryServer:
    """Launch the server on a free loopback port, stopped when this process exits; it answers
    some seconds later (``TemporaryServer.healthy``)."""
    server = TemporaryServer(free_port())
    server.launch()
    atexit.register(server.stop)
    return server
