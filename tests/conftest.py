"""Shared fixtures: a session-wide Prefect test harness and workspaces built in tmp folders.

Prefect under test, also on a loaded host:

- this process keeps its Prefect state in a temporary ``PREFECT_HOME`` of the session, never in
  ``~/.prefect``; a ``ballast`` command started as a subprocess replaces it with its workspace's
  own (``<workspace>/.ballast/prefect``, each test's workspace is in its own tmp folder);
- no developer's server is used (``PREFECT_API_URL`` is dropped, and ``BALLAST_STATE_DIR``
  points at a folder of the session, so a running ``ballast server`` is not found): commands
  start their own temporary server, and wait up to ``STARTUP_TIMEOUT`` seconds for it instead
  of 20 (120 for ``ballast`` by default), as does the session's one harness;
- nothing asserts how long something took.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballast import workspace
from ballast.config import STARTUP_TIMEOUT_ENV
from ballast.ops.prefect_settings import quiet_prefect
from ballast.resources import examples_dir

STARTUP_TIMEOUT = 600  # seconds a Prefect API may take to answer in a test (a loaded host)

_PREFECT_HOME = tempfile.mkdtemp(prefix="ballast-tests-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME  # before Prefect is imported anywhere
os.environ.pop("PREFECT_API_URL", None)
_STATE_DIR = tempfile.mkdtemp(prefix="ballast-tests-state-")
atexit.register(shutil.rmtree, _STATE_DIR, True)
os.environ["BALLAST_STATE_DIR"] = _STATE_DIR  # no developer's `ballast server`
os.environ.setdefault(STARTUP_TIMEOUT_ENV, str(STARTUP_TIMEOUT))  # ballast subprocesses
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(STARTUP_TIMEOUT))
quiet_prefect()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect backend for the whole session (starting one costs seconds)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=STARTUP_TIMEOUT),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


def copy_demo(root: Path) -> workspace.Workspace:
    """A fresh copy of the bundled demo workspace at ``root``."""
    ws = workspace.init(root)
    src = examples_dir() / "demo"
    for sub in ("inbox", "ips", "reference"):
        for f in (src / sub).iterdir():
            shutil.copyfile(f, ws.root / sub / f.name)
    return ws


@pytest.fixture
def demo_ws(tmp_path: Path) -> workspace.Workspace:
    """The bundled demo workspace, copied into a temporary folder."""
    return copy_demo(tmp_path / "ws")


@pytest.fixture
def empty_ws(tmp_path: Path) -> workspace.Workspace:
    """An empty workspace in a temporary folder."""
    return workspace.init(tmp_path / "ws")
