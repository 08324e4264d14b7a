"""The migrated, empty Prefect database that seeds every new Prefect home
(``ballast.ops.prefect_template``): kept by the first server that creates a database, copied
into the next new homes, never taken from a home with history, skipped for a custom database.
End to end: two new workspaces, the second's database starts from the template and holds only
its own run."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from ballast.ops import prefect_template
from tests.conftest import copy_demo
from tests.support.one_line import env_for, ingest_demo


def _db(path: Path, table: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute(f"create table {table} (x int)")
        con.commit()
    return path


def _tables(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BALLAST_STATE_DIR", str(tmp_path / "state"))
    for name in prefect_template.CUSTOM_DB:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "state"


def test_template_is_named_for_the_installed_prefect(state: Path) -> None:
    from importlib import metadata

    path = prefect_template.template()
    assert path == state / "prefect-template" / f"prefect-{metadata.version('prefect')}.db"


def test_the_first_new_home_keeps_a_template_and_the_next_starts_from_it(
    tmp_path: Path, state: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert prefect_template.seed(first)  # no template yet: its server creates the database
    _db(first / "prefect.db", "migrated")
    prefect_template.keep(first)
    template = prefect_template.template()
    assert template is not None and _tables(template) == {"migrated"}
    assert not prefect_template.seed(second)  # seeded: nothing to keep
    assert _tables(second / "prefect.db") == {"migrated"}
    _db(tmp_path / "c" / "prefect.db", "other")
    prefect_template.keep(tmp_path / "c")  # a template is kept once
    assert _tables(template) == {"migrated"}
    assert list(template.parent.glob(".*part")) == [] and list(second.glob(".*part")) == []


def test_a_home_with_a_database_is_left_alone(tmp_path: Path, state: Path) -> None:
    home = tmp_path / "h"
    _db(home / "prefect.db", "history")
    template = prefect_template.template()
    assert template is not None
    _db(template, "migrated")
    assert not prefect_template.seed(home)
    assert _tables(home / "prefect.db") == {"history"}


def test_a_custom_database_is_neither_seeded_nor_kept(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db/prefect")
    home = tmp_path / "h"
    home.mkdir()
    assert not prefect_template.seed(home)
    _db(home / "prefect.db", "migrated")
    prefect_template.keep(home)
    template = prefect_template.template()
    assert template is not None and not template.exists()


def test_an_unwritable_state_folder_keeps_nothing_and_fails_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALLAST_STATE_DIR", "/proc/no/such/state")
    home = tmp_path / "h"
    _db(home / "prefect.db", "migrated")
    prefect_template.keep(home)  # no error
    new = tmp_path / "new"
    new.mkdir()
    assert prefect_template.seed(new)  # no template to copy: its server migrates as before


@pytest.mark.slow
def test_a_new_workspace_starts_from_the_template_and_keeps_its_own_runs(tmp_path: Path) -> None:
    """Two new workspaces, each with an ingest (a flow run on its temporary server): the first
    server's migrated database becomes the template (no run in it); the second workspace's
    database is a copy of it (a marker table put into the template shows it), holding only
    its own run."""
    state = tmp_path / "state"
    env = env_for(tmp_path, BALLAST_STATE_DIR=str(state))
    for name in prefect_template.CUSTOM_DB:
        env.pop(name, None)

    def ingest(ws: Path) -> None:
        ingest_demo(ws, tmp_path, env)

    def runs(db: Path) -> int:
        with contextlib.closing(sqlite3.connect(db)) as con:
            return int(con.execute("select count(*) from flow_run").fetchone()[0])

    first, second = copy_demo(tmp_path / "a").root, copy_demo(tmp_path / "b").root
    ingest(first)
    (template,) = (state / "prefect-template").glob("prefect-*.db")
    assert runs(template) == 0 and runs(first / ".ballast" / "prefect" / "prefect.db") == 1
    _db(template, "seeded_marker")
    ingest(second)
    db = second / ".ballast" / "prefect" / "prefect.db"
    assert "seeded_marker" in _tables(db) and runs(db) == 1
