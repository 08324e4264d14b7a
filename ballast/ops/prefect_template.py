"""An empty, migrated Prefect database, kept once per user and Prefect version, that seeds every
new Prefect home.

Each workspace has its own Prefect home (``ballast.ops.orchestrator``), and a command on a busy
workspace runs on a private one. A new home's temporary server used to create its SQLite
database and run every Prefect migration first: about 11 s of a command on two cores (15.9 s
to start the server, against 5.2 s with a migrated database). Instead, the first server that
creates a database leaves a copy of it, just migrated and before any run is recorded, in the
user's ballast state folder (``<state>/prefect-template/prefect-<version>.db``; see
``ballast.ops.local_server.state_dir``), and every later new home starts from a copy. Prefect
still checks the migrations when it starts, so a copy behind the installed Prefect is brought
up to date; the version in the name keeps an upgrade from seeding an older schema.

Nothing is seeded when Prefect is told to use another database
(``PREFECT_API_DATABASE_CONNECTION_URL`` or ``PREFECT_SERVER_DATABASE_CONNECTION_URL``). A
template that cannot be read or written (a read-only home folder) is skipped: the server then
migrates as before. Nothing here imports Prefect.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from importlib import metadata
from pathlib import Path

from ballast.ops import local_server

DB_NAME = "prefect.db"  # Prefect's SQLite file in its home, by default
CUSTOM_DB = ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL")


def template() -> Path | None:
    """Where the template for the installed Prefect is kept (None: Prefect is not installed)."""
    try:
        version = metadata.version("prefect")
    except metadata.PackageNotFoundError:
        return None
    return local_server.state_dir() / "prefect-template" / f"prefect-{version}.db"


def _default_db() -> bool:
    return not any(os.environ.get(name) for name in CUSTOM_DB)


def seed(home: Path) -> bool:
    """Give ``home`` a copy of the template when it has no database yet; True when the home
    has no database afterwards (its server will create one: ``keep`` it then)."""
    db = home / DB_NAME
    if not _default_db() or db.exists():
        return False
    path = template()
    if path is None or not path.is_file():
        return True
    part = db.with_name(f".{DB_NAME}.{os.getpid()}.part")
    try:
        shutil.copyfile(path, part)
        os.replace(part, db)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()
        return True
    return False


def keep(home: Path) -> None:
    """Copy ``home``'s database, just created and migrated by its server, as the template (a
    consistent copy through SQLite's backup, the server running); unless one is kept already."""
    path = template()
    db = home / DB_NAME
    if path is None or path.exists() or not db.is_file() or not _default_db():
        return
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with (
            contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(part)) as dst,
        ):
            src.backup(dst)
        os.replace(part, path)
    except (OSError, sqlite3.Error):
        with contextlib.suppress(OSError):
            part.unlink()
