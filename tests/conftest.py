"""Shared fixtures: a session-wide Prefect test harness and workspaces built in tmp folders."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballast import workspace
from ballast.ops.prefect_settings import quiet_prefect
from ballast.resources import examples_dir

quiet_prefect()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect backend for the whole session (starting one costs seconds)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(),
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
