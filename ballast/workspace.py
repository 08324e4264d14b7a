"""The workspace: one folder holding all of ballast's state (see docs/file-formats.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ballast.errors import BallastError

SUBDIRS = ("inbox", "reference", "ips", "archive", "quarantine", "reports", "audit")


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace folder."""

    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def reference(self) -> Path:
        return self.root / "reference"

    @property
    def securities(self) -> Path:
        return self.reference / "securities.csv"

    @property
    def ips(self) -> Path:
        return self.root / "ips"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def audit(self) -> Path:
        return self.root / "audit"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    def check(self) -> Workspace:
        """Raise a one-line error unless this looks like a workspace."""
        if not self.root.is_dir():
            raise BallastError(f"{self.root}: no such workspace (create one with 'ballast init')")
        missing = [d for d in ("inbox", "ips") if not (self.root / d).is_dir()]
        if missing:
            raise BallastError(f"{self.root}: not a workspace (missing {', '.join(missing)}/)")
        for d in SUBDIRS:
            (self.root / d).mkdir(exist_ok=True)
        return self


def resolve(path: str | Path | None) -> Workspace:
    """``--workspace``, else ``$BALLAST_HOME``, else ``./workspace``."""
    chosen = path or os.environ.get("BALLAST_HOME") or "workspace"
    return Workspace(Path(chosen).expanduser().resolve())


def init(path: str | Path) -> Workspace:
    """Create an empty workspace (idempotent: existing files are kept)."""
    ws = Workspace(Path(path).expanduser().resolve())
    if ws.root.exists() and not ws.root.is_dir():
        raise BallastError(f"{ws.root}: exists and is not a folder")
    for d in SUBDIRS:
        (ws.root / d).mkdir(parents=True, exist_ok=True)
    return ws
