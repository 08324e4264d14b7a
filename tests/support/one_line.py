"""Running a ``ballast`` command as a user does, and checking it fails in one line: the
subprocess helpers of the one-line-error tests (tests/cli/test_one_line_errors.py, the audit
tests), and a workspace made read-only for one command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ballast.workspace import Workspace

BALLAST = str(Path(sys.executable).with_name("ballast"))
TIMEOUT = 900  # seconds; a bound for a hung command on a loaded host, not a speed assertion


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment, with the per-user error log under ``tmp_path``."""
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **extra}


def run(
    cmd: list[str], tmp_path: Path, **extra: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``cmd``; its result and its one stderr line (asserted: exactly one, no traceback)."""
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,
        env=env_for(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return proc, lines[0]


def _unshare_prefix() -> list[str] | None:
    """A command prefix giving a private mount namespace, if this host allows one."""
    if not shutil.which("unshare"):
        return None
    for prefix in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=60, check=False)
        if probe.returncode == 0:
            return prefix
    return None


@contextmanager
def read_only(ws: Workspace, cmd: list[str]) -> Iterator[list[str]]:
    """``cmd`` made to run with ``ws`` read-only: in a private mount namespace where the host
    allows one (the workspace bind-mounted read-only), else, for a user other than root, with
    its folders' write bits removed for the block. Skips the test only on a host that allows
    neither (root, whom chmod does not stop, without ``unshare``)."""
    prefix = _unshare_prefix()
    if prefix is not None:
        mount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        yield [*prefix, "sh", "-c", mount, "sh", str(ws.root), *cmd]
        return
    if os.geteuid() == 0:
        pytest.skip("no private mount namespace here, and chmod does not stop root")
    for folder, _, _ in os.walk(ws.root):
        os.chmod(folder, 0o555)
    try:
        yield cmd
    finally:
        for folder, _, _ in os.walk(ws.root):
            os.chmod(folder, 0o755)


def ingest_demo(ws: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``ballast ingest`` of a copy of the demo workspace, as a process: exit status 1 (the
    demo's inbox has one bad file), no traceback."""
    proc = subprocess.run(
        [BALLAST, "ingest", "-w", str(ws)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc
