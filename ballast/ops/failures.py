"""What a failed command says: one line and an exit status, and for a bug its traceback in a
log file (``ballast.cli.app.main`` calls ``describe``).

| exit | failure | the line |
|---:|---|---|
| 2 | ``BallastError``: a mistake in the command, the workspace or its files | its message |
| 65 | ``Unproven``: what a past run rests on was edited since (rerun, report) | what was edited |
| 69 | ``OrchestratorError``: no Prefect API could be had | what to do |
| 74 | the workspace cannot be written: read-only, full, no permission | the path, what to do |
| 71 | DuckDB ran out of the memory it may use | the limit to raise |
| 70 | anything else (a bug) | its type and message, and where its traceback is |
| 130 | Ctrl+C | that it was interrupted |
| 141 | the output pipe was closed (``ballast runs | head -1``) | nothing: the reader has gone |

The traceback of an unexpected error is appended to ``<workspace>/logs/ballast-errors.log``
when the command names a workspace that can be written, else to ``$XDG_CACHE_HOME/ballast/
errors.log`` (``~/.cache/ballast/errors.log``), else to ``<temp dir>/ballast-errors-<uid>.log``.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ballast.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_MEMORY,
    EXIT_STORAGE,
    BallastError,
)

EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away
ERROR_LOG = Path("logs") / "ballast-errors.log"
MAX_MESSAGE = 400  # characters of an unexpected error's message on the line (all of it in the log)
FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
IN_THE_WAY = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST})
STORAGE = FULL | READ_ONLY | IN_THE_WAY | {errno.EIO}
_BREAKS = re.compile(r"\s*\n\s*")


@dataclass(frozen=True)
class Failure:
    """What the command prints (after ``error: ``) and the status it exits with."""

    line: str
    exit_code: int


def one_line(text: str) -> str:
    """``text`` with its line breaks folded into spaces."""
    return _BREAKS.sub(" ", text).strip()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it (``raise … from``) or was being handled when it came."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 20:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` (a ``SystemExit`` from Typer: it turns Ctrl+C into exit 130 silently)
    comes from a ``KeyboardInterrupt``."""
    return any(isinstance(e, KeyboardInterrupt) for e in _chain(exc))


def workspace_hint(argv: Sequence[str]) -> Path:
    """The workspace a command line names (``--workspace``/``-w``, else ``$BALLAST_HOME``, else
    ``./workspace``; ``demo`` defaults to ``./demo-workspace``), without asking Typer."""
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg in ("--workspace", "-w") and i + 1 < len(args):
            return Path(args[i + 1]).expanduser().resolve()
        if arg.startswith("--workspace="):
            return Path(arg.split("=", 1)[1]).expanduser().resolve()
        if arg.startswith("-w") and len(arg) > 2 and not arg.startswith("--"):
            return Path(arg[2:]).expanduser().resolve()
    if args and args[0] == "demo":
        return Path("demo-workspace").resolve()
    return Path(os.environ.get("BALLAST_HOME") or "workspace").expanduser().resolve()


def _storage(exc: BaseException) -> tuple[int, str | None, str] | None:
    """(errno, path, text) when ``exc`` or its cause is a storage failure (an ``OSError``, or a
    library's I/O error that quotes the system's message, as DuckDB's do)."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in STORAGE:
            path = e.filename if isinstance(e.filename, str) else None
            return e.errno, path, e.strerror or os.strerror(e.errno)
    for e in _chain(exc):
        if "IOException" in type(e).__name__ or "IOError" in type(e).__name__:
            text = one_line(str(e))
            for code in (errno.ENOSPC, errno.EROFS, errno.EACCES):
                if os.strerror(code) in text:
                    return code, None, text
    return None


def _storage_line(code: int, path: str | None, text: str, workspace: Path) -> str:
    where = path or str(workspace)
    if code in FULL:
        return (
            f"no space left for {where} ({text}); free some space on that disk (or raise the "
            "quota), then run the command again"
        )
    if code == errno.EROFS:
        detail = "" if text == os.strerror(code) else f" ({text})"
        return (
            f"cannot write {where}: the file system is read-only{detail}; ballast needs a "
            "writable workspace: remount it read-write or work on a copy, then run it again"
        )
    if code in READ_ONLY:
        return (
            f"no permission to write {where} ({text}); ballast must be able to read and write "
            "its workspace: check the folder's owner, permissions and mount, then run it again"
        )
    if code in IN_THE_WAY:
        return (
            f"cannot use {where} ({text}): a file stands where ballast expects a folder, or the "
            "reverse; move it aside, then run the command again"
        )
    return f"cannot read or write {where} ({text}); check that disk, then run the command again"


def _log_candidates(workspace: Path) -> list[Path]:
    paths = []
    if workspace.is_dir() and any((workspace / d).exists() for d in ("ips", "inbox", "logs")):
        paths.append(workspace / ERROR_LOG)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    paths.append(cache / "ballast" / "errors.log")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    paths.append(Path(tempfile.gettempdir()) / f"ballast-errors-{uid}.log")
    return paths


def save_traceback(exc: BaseException, argv: Sequence[str], workspace: Path) -> Path | None:
    """Append ``exc``'s traceback to the first error log that can be written; its path."""
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = f"--- {stamp} pid {os.getpid()} python {sys.version.split()[0]}: {' '.join(argv)}\n"
    text = head + "".join(traceback.format_exception(exc)) + "\n"
    for path in _log_candidates(workspace):
        try:
            path.parent.mkdir(parents=path.parent.name != "logs", exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(text)
        except OSError:
            continue
        return path
    return None


def pipe_closed(exc: BaseException) -> bool:
    """Whether ``exc`` comes from writing to a pipe whose reader has gone."""
    return any(isinstance(e, BrokenPipeError) for e in _chain(exc))


def quiet_stdout() -> None:
    """Point standard output at ``/dev/null`` (its pipe is closed: what is still buffered or
    printed at exit must not fail again)."""
    import contextlib

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _duckdb_out_of_memory(exc: BaseException) -> str | None:
    """The line for DuckDB's out-of-memory error in ``exc`` or its cause, else None."""
    for e in _chain(exc):
        if type(e).__name__ == "OutOfMemoryException":
            said = one_line(str(e)).split(" Possible solutions:")[0]
            return (
                f"the warehouse ran out of memory ({said}); a review's DuckDB memory is capped by "
                "warehouse.review_memory_limit in ballast.yaml: raise it (null: DuckDB's "
                "default, 80 % of RAM) or lower execution.shard_size, then run the command again"
            )
    return None


def describe(exc: BaseException, argv: Sequence[str]) -> Failure:
    """The one line and exit status for ``exc``, raised by the command ``argv``."""
    if isinstance(exc, BallastError):
        return Failure(one_line(str(exc)), exc.exit_code)
    if isinstance(exc, KeyboardInterrupt) or interrupted(exc):
        return Failure(
            "interrupted; a run cut short is cleaned up by the next run on its workspace",
            EXIT_INTERRUPTED,
        )
    workspace = workspace_hint(argv)
    if found := _storage(exc):
        return Failure(_storage_line(*found, workspace), EXIT_STORAGE)
    if out_of_memory := _duckdb_out_of_memory(exc):
        path = save_traceback(exc, argv, workspace)
        return Failure(out_of_memory + (f" (traceback in {path})" if path else ""), EXIT_MEMORY)
    message = one_line(str(exc))
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "…"
    path = save_traceback(exc, argv, workspace)
    where = f"traceback in {path}" if path else "its traceback could not be saved anywhere"
    return Failure(
        f"unexpected {type(exc).__name__}: {message or '(no message)'} ({where}); please "
        "report it with that file",
        EXIT_INTERNAL,
    )
