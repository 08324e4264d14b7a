"""The workspace: one folder holding all of ballast's state (see docs/file-formats.md).

The folders users write (``inbox/``, ``ips/``, ``models/``, ``reference/``) are read one way:
hidden names (``.x``) are not there for ballast, and only regular files are read (``entries``,
``opened``); a link, folder, pipe, socket or device is named with what it is, never followed or
read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ballast.errors import BallastError, printable

SUBDIRS = ("inbox", "reference", "ips", "models", "archive", "quarantine", "reports", "audit")


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
    def models(self) -> Path:
        """Model portfolios an IPS may take its classes from (``ballast.portfolio.models``)."""
        return self.root / "models"

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


# --- what users put in the workspace ----------------------------------------------------------

_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_READ |= getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_WHAT = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISCHR, "a character device"),
)

Identity = tuple[int, int, int, int]
"""(device, inode, size, modification time in ns): a file as it was seen."""


class NotRegular(Exception):
    """The path is not (or is no longer) a regular file; the message says what it is."""


def hidden(name: str) -> bool:
    """A hidden name (``.x``, and so ``..yaml`` or ``...yaml``): ignored in every folder."""
    return name.startswith(".")


def what_is(mode: int) -> str | None:
    """None for a regular file, else what the entry is (``a symbolic link``, ``a folder`` …)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _WHAT if test(mode)), "not a regular file")


def identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _link(path: str) -> str:
    """What a symbolic link is, for a message, without reading through it."""
    try:
        target = printable(os.readlink(path))
    except OSError:
        return "a symbolic link"
    try:
        os.stat(path)
    except FileNotFoundError:
        return f"a dangling symbolic link (to {target!r})"
    except OSError:
        return f"a symbolic link that cannot be resolved (to {target!r})"
    return f"a symbolic link (to {target!r})"


def describe(path: Path) -> str | None:
    """None for a regular file, else what ``path`` is (``lstat``: a link is not followed)."""
    what = what_is(os.lstat(path).st_mode)
    return _link(str(path)) if what == "a symbolic link" else what


@dataclass(frozen=True)
class Entries:
    """A folder's visible entries: the regular files, and everything else with what it is."""

    files: list[Path] = field(default_factory=list)
    others: list[tuple[Path, str]] = field(default_factory=list)


def entries(folder: Path) -> Entries:
    """The entries of ``folder`` in name order, hidden names left out; nothing is followed."""
    found = Entries()
    with os.scandir(folder) as it:
        for e in it:
            if hidden(e.name):
                continue
            try:
                what = describe(Path(e.path))
            except FileNotFoundError:  # gone meanwhile
                continue
            if what is None:
                found.files.append(Path(e.path))
            else:
                found.others.append((Path(e.path), what))
    found.files.sort()
    found.others.sort()
    return found


@contextmanager
def opened(path: Path) -> Iterator[tuple[int, os.stat_result]]:
    """A read descriptor of ``path`` and its status, only if it is a regular file: a link is
    never followed and a FIFO never waited on (the type is checked on the open descriptor, so
    nothing swapped in after a check is read); ``NotRegular`` otherwise."""
    try:
        fd = os.open(path, _READ)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegular(describe(path) or "a symbolic link") from None
        if exc.errno == errno.ENXIO:  # opening a socket
            raise NotRegular("a socket") from None
        raise
    try:
        st = os.fstat(fd)
        if (what := what_is(st.st_mode)) is not None:
            raise NotRegular(what)
        yield fd, st
    finally:
        os.close(fd)


def read_regular(path: Path) -> str:
    """The UTF-8 text of a regular file; ``NotRegular`` for anything else."""
    with opened(path) as (fd, _):
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8")
