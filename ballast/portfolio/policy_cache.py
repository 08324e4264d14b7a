"""IPS files parsed by an earlier command, kept by content, so a review of files it has seen
does not parse them again.

Parsing and validating an IPS (YAML, then pydantic) costs about 0.13 ms of CPU a file: 1.3 s of a
10,000-portfolio review, spent in the process that also computes and writes the run. A set of
IPS files read together (``policy_set.read_policies``: a review reads one shard at a time) is
kept, once parsed, in ``<workspace>/.ballast/cache/policies/<key>.pickle``; unpickling it takes a
fifth of the time. The key is a SHA-256 of everything the outcome depends on:

- each file's portfolio id, path and SHA-256 (or why it could not be read), and the files
  refused by name;
- the model catalog's fingerprint (its files' SHA-256);
- the code: Python's minor version, ballast's version and code digest, and the versions of the
  libraries that parse and validate (``ballast.ops.code_version.fingerprint``).

So a changed byte, model or line of code is a different key: nothing stale is ever taken. What
is kept is the parsed policies, the refusals and the models used; the texts and hashes come from
the files as read by this run, and the record stage archives and records those.

A cache file is a pickle, so like Python's own ``__pycache__`` it is code this user's process
trusts: it is read only when it is a regular file (not a link) owned by this user and writable
by no one else, and anything wrong with it (unreadable, truncated, from another version of a
library) counts as a miss: the files are parsed and the entry written again. Writing is best
effort (a read-only or full disk only costs the next run the parse). The folder is kept under
``MAX_BYTES``: the entries used longest ago go first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ballast.ops.code_version import fingerprint
from ballast.ops.memory import collector_paused
from ballast.portfolio.models import ModelCatalog, ModelFile
from ballast.portfolio.policy import Policy

VERSION = 1
"""Bumped when what an entry holds changes shape."""

MAX_BYTES = 256 * 1024 * 1024
"""The folder's size at most (a policy takes about 0.8 KB: some 330,000 portfolios)."""

_OPEN = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN |= getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class Parsed:
    """What parsing a set of IPS files gave: the valid policies (in portfolio id order), why
    the others were refused, and the model files they named (SHA-256 -> file)."""

    policies: list[Policy]
    errors: dict[str, str]
    models: dict[str, ModelFile]


def folder(root: Path) -> Path:
    """Where a workspace keeps its parsed IPS files."""
    return root / ".ballast" / "cache" / "policies"


def key(
    entries: list[tuple[str, str, str]],
    refused: dict[str, str],
    catalog: ModelCatalog,
    root: Path,
) -> str:
    """The cache key of a set of files: ``entries`` are (portfolio id, path, SHA-256 of the
    text or ``!`` and why it was not read), in portfolio id order; ``refused`` the files
    refused by name; ``root`` the workspace (left out of error messages)."""
    digest = hashlib.sha256(f"ballast-policy-cache {VERSION}\0{root}\0{_code()}\0".encode())
    digest.update(f"models {catalog.fingerprint}\0".encode())
    for pid, path, sha in entries:
        digest.update(f"{pid}\0{path}\0{sha}\0".encode())
    for pid, why in sorted(refused.items()):
        digest.update(f"refused {pid}\0{why}\0".encode())
    return digest.hexdigest()


@cache
def _code() -> str:
    """What of the code decides a parse, as text (``code_version.fingerprint``)."""
    return "\0".join(f"{name}={value}" for name, value in sorted(fingerprint().items()))


def kept(root: Path, cache_key: str) -> bool:
    """Whether an entry of ``cache_key`` is there (a regular file of this user's: ``load``
    still checks what is in it)."""
    try:
        st = os.lstat(folder(root) / f"{cache_key}.pickle")
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()


def load(root: Path, cache_key: str) -> Parsed | None:
    """The entry of ``cache_key``, or None (a miss: absent, not this user's own regular
    file, or unreadable in any way)."""
    path = folder(root) / f"{cache_key}.pickle"
    try:
        fd = os.open(path, _OPEN)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f, collector_paused():
            found = pickle.load(f)  # this user's own file: see the module docstring
        if not isinstance(found, Parsed) or not all(type(p) is Policy for p in found.policies):
            return None
        with contextlib.suppress(OSError):
            os.utime(fd)  # used now: pruned last
        return found
    except Exception:  # a damaged or foreign entry is a miss, never an error
        return None
    finally:
        os.close(fd)


def store(root: Path, cache_key: str, parsed: Parsed) -> None:
    """Keep ``parsed`` under ``cache_key`` (best effort), then prune the folder."""
    where = folder(root)
    tmp = where / f".{cache_key}.{os.getpid()}.tmp"
    try:
        where.mkdir(parents=True, exist_ok=True)
        data = pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, where / f"{cache_key}.pickle")
    except Exception:  # a cache: a read-only or full disk costs the next run a parse
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    prune(where)


def prune(where: Path, max_bytes: int = MAX_BYTES) -> None:
    """Remove the entries used longest ago until the folder holds at most ``max_bytes``."""
    entries = []
    with contextlib.suppress(OSError), os.scandir(where) as it:
        for e in it:
            if e.name.endswith(".pickle") and e.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    st = e.stat(follow_symlinks=False)
                    entries.append((st.st_mtime_ns, e.name, st.st_size))
    total = sum(size for _, _, size in entries)
    for _, name, size in sorted(entries):
        if total <= max_bytes:
            return
        with contextlib.suppress(OSError):
            (where / name).unlink()
        total -= size
