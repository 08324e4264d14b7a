"""A run's identity: its id, who runs it, and the code version."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import secrets
import subprocess
from functools import cache
from pathlib import Path

from ballast import __version__


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: ``20261124T193500Z-3f9a1c``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def who() -> str:
    """The person or service running ballast (``$BALLAST_USER``, else the OS user)."""
    try:
        return os.environ.get("BALLAST_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@cache
def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return f"{__version__}+{sha}{'.dirty' if dirty else ''}" if sha else __version__
    except (OSError, subprocess.SubprocessError):
        return __version__
