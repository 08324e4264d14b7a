"""Every failure of the ``ballast`` command is one line on stderr with its exit status, never a
traceback (docs/user-guide.md, "Exit status"). Each test runs the command as a user does, in a
subprocess, and holds stderr to exactly one line.

How the failures are made, also when the tests run as root (for whom ``chmod`` stops nothing):

- a read-only workspace: the workspace bind-mounted read-only in a private mount namespace
  (``unshare --mount``: a real ``EROFS``), else, for a user other than root, ``chmod``; and, on
  any host, the workspace's ``.ballast/`` folder pointing into sysfs, where nobody, root
  included, may create a file (``EACCES``, or ``EROFS`` where /sys is mounted read-only);
- a full disk: the run log ``logs/ballast.jsonl`` pointing at ``/dev/full`` (every write:
  ``ENOSPC``);
- an unreachable Prefect API: ``PREFECT_API_URL`` (or ``prefect.api_url``) on a loopback port
  nothing listens on; a temporary server that cannot come up: its database on a path that
  cannot exist;
- a bug: a wrapper script that replaces one function by one that raises.

Nothing here asserts how long anything took.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ballast.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_ORCHESTRATOR,
    EXIT_STORAGE,
    EXIT_USAGE,
)
from tests.conftest import copy_demo
from tests.support.one_line import BALLAST, TIMEOUT, env_for, ingest_demo, read_only, run

AS_OF = "2026-09-30"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrapper(tmp_path: Path, body: str) -> Path:
    """A script that patches ballast with ``body`` and then runs ``main()``."""
    path = tmp_path / "patched_ballast.py"
    path.write_text(f"import ballast.workspace\n{body}\nfrom ballast.cli.app import main\nmain()\n")
    return path


# --- a bug ---------------------------------------------------------------------------------


BOOM = """
def boom(*args, **kwargs):
    raise RuntimeError("boom [red]x[/red]\\nsecond line")
ballast.workspace.resolve = boom
"""


def test_unexpected_error_is_one_line_and_a_logged_traceback(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "ws")
    script = wrapper(tmp_path, BOOM)
    proc, line = run([sys.executable, str(script), "runs", "-w", str(ws.root)], tmp_path)
    log = ws.root / "logs" / "ballast-errors.log"
    assert proc.returncode == EXIT_INTERNAL
    assert line == (  # markup is not interpreted: the [red] stays
        f"error: unexpected RuntimeError: boom [red]x[/red] second line (traceback in {log}); "
        "please report it with that file"
    )
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in boom" in text


def test_unexpected_error_without_a_workspace_logs_per_user(tmp_path: Path) -> None:
    script = wrapper(tmp_path, BOOM)
    proc, line = run(
        [sys.executable, str(script), "runs", "-w", str(tmp_path / "nowhere")], tmp_path
    )
    log = tmp_path / "cache" / "ballast" / "errors.log"
    assert proc.returncode == EXIT_INTERNAL and f"(traceback in {log})" in line
    assert "RuntimeError: boom" in log.read_text()
    assert not (tmp_path / "nowhere").exists()


def test_ctrl_c_is_one_line_and_130(tmp_path: Path) -> None:
    script = wrapper(
        tmp_path,
        "import sys, time\n"
        "def wait(*args, **kwargs):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(3600)\n"
        "ballast.workspace.resolve = wait\n",
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), "runs", "-w", str(tmp_path)],
        env=env_for(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("error: interrupted")


def test_brackets_in_a_user_error_are_kept(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "ws")
    proc, line = run(
        [BALLAST, "review", "--as-of", AS_OF, "-p", "ghost[bold]", "-w", str(ws.root)], tmp_path
    )
    assert proc.returncode == EXIT_USAGE and line.endswith("no IPS for portfolio(s) ghost[bold]")


# --- a workspace that cannot be written ------------------------------------------------------


def test_read_only_workspace(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "ws")
    with read_only(ws, [BALLAST, "review", "--as-of", AS_OF, "-w", str(ws.root)]) as cmd:
        proc, line = run(cmd, tmp_path)
    assert proc.returncode == EXIT_STORAGE, line
    assert line.startswith(f"error: cannot write {ws.root}/.ballast") or line.startswith(
        f"error: no permission to write {ws.root}/.ballast"
    )
    assert "run it again" in line


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs")
def test_workspace_folder_on_a_file_system_that_refuses_writes(tmp_path: Path) -> None:
    """Works as root too: nobody may create a file in sysfs."""
    ws = copy_demo(tmp_path / "ws")
    (ws.root / ".ballast").symlink_to("/sys/kernel")
    proc, line = run([BALLAST, "review", "--as-of", AS_OF, "-w", str(ws.root)], tmp_path)
    assert proc.returncode == EXIT_STORAGE, line
    assert f"{ws.root}/.ballast/run.lock" in line
    assert "read-only" in line or "no permission to write" in line


def test_a_closed_output_pipe_exits_141_quietly(tmp_path: Path) -> None:
    """The reader is gone before the command writes anything (the pipe's read end is closed
    before it starts): no traceback, no line, exit status 141 (Rich's own would be 1)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [BALLAST, "schedule", "--year", "2027"],
            cwd=tmp_path,
            env=env_for(tmp_path),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""


@pytest.mark.slow
def test_full_disk(tmp_path: Path) -> None:
    """Every write of the run log fails with ENOSPC: the run stops with one line."""
    ws = copy_demo(tmp_path / "ws")
    (ws.root / "logs").mkdir()
    (ws.root / "logs" / "ballast.jsonl").symlink_to("/dev/full")
    proc, line = run([BALLAST, "review", "--as-of", AS_OF, "-w", str(ws.root)], tmp_path)
    assert proc.returncode == EXIT_STORAGE, line
    assert line.startswith(f"error: no space left for {ws.root} (No space left on device)")


# --- no Prefect API --------------------------------------------------------------------------


def test_unreachable_configured_api(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "ws")
    api = f"http://127.0.0.1:{closed_port()}/api"
    proc, line = run(
        [BALLAST, "review", "--as-of", AS_OF, "-w", str(ws.root)], tmp_path, PREFECT_API_URL=api
    )
    assert proc.returncode == EXIT_ORCHESTRATOR
    assert line.startswith(
        f"error: the Prefect API at {api} (set by PREFECT_API_URL) did not answer (connection "
        "refused"
    )
    assert not list(ws.reports.iterdir())  # nothing was run


def test_unreachable_api_from_ballast_yaml(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "ws")
    api = f"http://127.0.0.1:{closed_port()}/api"
    (ws.root / "ballast.yaml").write_text(f"prefect:\n  api_url: {api}\n")
    proc, line = run([BALLAST, "ingest", "-w", str(ws.root)], tmp_path)
    assert proc.returncode == EXIT_ORCHESTRATOR
    assert f"the Prefect API at {api} (set by prefect.api_url in {ws.root}/ballast.yaml)" in line
    assert list(ws.inbox.iterdir())  # nothing was loaded


@pytest.mark.slow
def test_temporary_server_that_cannot_start(tmp_path: Path) -> None:
    """Its database cannot be created, so it never answers: one line once the wait is out."""
    ws = copy_demo(tmp_path / "ws")
    proc, line = run(
        [BALLAST, "ingest", "-w", str(ws.root)],
        tmp_path,
        PREFECT_SERVER_DATABASE_CONNECTION_URL="sqlite+aiosqlite:////proc/no/such/dir/p.db",
        BALLAST_PREFECT_STARTUP_TIMEOUT="2",
    )
    assert proc.returncode == EXIT_ORCHESTRATOR, line
    assert line.startswith(
        "error: the Prefect API did not answer within 2 s: the temporary Prefect server"
    )


# --- where Prefect's state is ----------------------------------------------------------------


@pytest.mark.slow
def test_prefect_state_lives_in_the_workspace(tmp_path: Path) -> None:
    """A temporary server keeps its database in ``<workspace>/.ballast/prefect``, not in the
    user's ``~/.prefect`` nor in an inherited ``PREFECT_HOME``."""
    ws = copy_demo(tmp_path / "ws")
    home = tmp_path / "home"
    home.mkdir()
    ingest_demo(
        ws.root,
        tmp_path,
        env_for(tmp_path, HOME=str(home), PREFECT_HOME=str(tmp_path / "inherited")),
    )
    assert (ws.root / ".ballast" / "prefect" / "prefect.db").is_file()
    assert not (home / ".prefect").exists() and not (tmp_path / "inherited").exists()
