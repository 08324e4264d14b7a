"""Recovery at the start of a run: what a killed run (``kill -9``, power loss) left behind.

``recover(workspace, run)`` is the first thing ``run_review`` does. It

0. takes the workspace's run lock (``.ballast/run.lock``, ``flock``): one review at a time
   per workspace, for the whole run (DuckDB's own lock is only held while a stage writes, so
   two runs could otherwise interleave and both load the same inbox files). A second run waits
   up to the lock timeout (``warehouse.lock_timeout_seconds``, ``$BALLAST_LOCK_TIMEOUT``), then
   fails with one clear line. The lock goes with the process (also on ``kill -9``), or with
   ``release``;
1. records this process (pid, host) for the new run in ``<workspace>/.ballast/procs/``, before
   the run's row exists, so a concurrent run never mistakes it for a dead one;
2. marks ``crashed`` every run still ``running`` whose process is gone (same host, pid not
   alive; or no process record at all), filling ``runs.pid``/``runs.host``, and appends a
   ``run_crashed`` audit event for each;
3. settles the staging folders (``reports/<as_of>/.<run_id>.partial``) of runs that are not
   alive: a run recorded as finished (``completed``/``completed_with_errors`` in ``runs``, or
   a rerun's ``run_finished`` event) was killed between its record and its publish, so its
   folder is rolled forward (renamed to ``<run_id>``, see ``ballast.reporting.outputs``); any
   other is removed. A visible folder of a crashed run (left by a version that renamed before
   recording) is hidden as ``.<run_id>.crashed``, kept as evidence, never read as a run;
4. removes the result files (``ballast.warehouse.result_files``) of runs not alive: a recorded
   run's rows are in the warehouse, any other's are never recorded;
5. appends the ``file_loaded``/``file_quarantined`` events of ledger files committed by a run
   that died before writing them (the ledger and the audit trail agree again).

Nothing is lost: a file committed before the crash stays loaded (its inbox copy is gone, its
archive copy is kept); a file not yet committed is still in the inbox and the next run loads it.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ballast.audit import chain as audit
from ballast.audit import digests
from ballast.errors import BallastError
from ballast.ops import runs
from ballast.reporting import outputs
from ballast.warehouse import db, result_files
from ballast.workspace import Workspace


@dataclass(frozen=True)
class Proc:
    """The process that runs (or ran) a run."""

    pid: int
    host: str

    @classmethod
    def current(cls) -> Proc:
        return cls(os.getpid(), socket.gethostname())

    def alive(self) -> bool | None:
        """True/False on this host; None (unknown) for another host's process."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


@dataclass
class Recovered:
    """What ``recover`` did, for the log and the tests."""

    crashed: list[str] = field(default_factory=list)
    removed_partial: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)  # rolled forward: recorded, not renamed
    hidden: list[str] = field(default_factory=list)
    files_audited: list[str] = field(default_factory=list)
    removed_results: list[str] = field(default_factory=list)  # result files never recorded

    def __bool__(self) -> bool:
        return any(
            (
                self.crashed,
                self.removed_partial,
                self.published,
                self.hidden,
                self.files_audited,
                self.removed_results,
            )
        )

    def describe(self) -> str:
        """One line for the run log."""
        parts = {
            "runs marked crashed": self.crashed,
            "unfinished run folders removed": self.removed_partial,
            "recorded run folders published": self.published,
            "crashed run folders hidden": self.hidden,
            "files audited": self.files_audited,
            "unrecorded result files removed": self.removed_results,
        }
        return "; ".join(
            f"{k}: {', '.join(Path(v).name for v in vs)}" for k, vs in parts.items() if vs
        )


def procs_dir(ws: Workspace) -> Path:
    return ws.root / ".ballast" / "procs"


def register(ws: Workspace, run_id: str, proc: Proc | None = None) -> Path:
    """Write ``procs/<run_id>.json`` (atomically) for this process."""
    proc = proc or Proc.current()
    folder = procs_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.json"
    tmp = folder / f".{run_id}.tmp"
    tmp.write_text(json.dumps({"pid": proc.pid, "host": proc.host}), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_proc(ws: Workspace, run_id: str) -> Proc | None:
    path = procs_dir(ws) / f"{run_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Proc(int(data["pid"]), str(data["host"]))
    except (OSError, ValueError, KeyError):
        return None


def _dead(ws: Workspace, run_id: str) -> tuple[bool, Proc | None]:
    proc = read_proc(ws, run_id)
    if proc is None:  # started by a ballast without process records, or the record is gone
        return True, None
    return proc.alive() is False, proc


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _mark_crashed(
    con: duckdb.DuckDBPyConnection, ws: Workspace, row: dict[str, Any], proc: Proc | None, by: str
) -> None:
    ended = _now()
    payload = {
        "kind": row["kind"],
        "as_of": row["as_of"],
        "started_at": row["started_at"],
        "ended_at": ended,
        "pid": proc.pid if proc else None,
        "host": proc.host if proc else None,
        "detected_by": by,
    }
    with audit.transaction(con, ws) as t:  # the row and its event, together
        params = {k: payload[k] for k in ("ended_at", "pid", "host")}
        db.execute(con, "audit/recovery/mark_crashed", params | {"run_id": row["run_id"]})
        t.append("run_crashed", actor=runs.who(), run_id=row["run_id"], payload=payload)


def _days(ws: Workspace) -> list[Path]:
    """The ``reports/<as_of>`` folders."""
    return [d for d in ws.reports.iterdir() if d.is_dir()] if ws.reports.exists() else []


def _staged_folders(ws: Workspace) -> list[tuple[Path, str]]:
    """(staging folder, run id) of every ``reports/<as_of>/.<run_id>.partial``."""
    return [
        (d, d.name[1 : -len(".partial")])
        for day in _days(ws)
        for d in day.iterdir()
        if d.name.startswith(".") and d.name.endswith(".partial") and d.is_dir()
    ]


def _tidy_reports(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    keep: set[str],
    crashed: set[str],
    out: Recovered,
) -> None:
    """Roll forward staging folders of recorded runs, drop those of runs never recorded (both
    only for runs not alive); hide visible folders of crashed runs."""
    staged = [(d, run_id) for d, run_id in _staged_folders(ws) if run_id not in keep]
    ids = sorted({run_id for _, run_id in staged})
    done = (
        set(db.query(con, "audit/recovery/completed_runs", {"run_ids": ids})["run_id"])
        if ids
        else set()
    )
    for d, run_id in staged:
        if run_id in done:
            out.published.append(str(outputs.publish(d.with_name(run_id))))
        else:
            shutil.rmtree(d, ignore_errors=True)
            out.removed_partial.append(str(d))
    for day in _days(ws) if crashed else []:
        for d in day.iterdir():
            if d.is_dir() and d.name in crashed:
                hidden = d.with_name(f".{d.name}.crashed")
                os.replace(d, hidden)
                out.hidden.append(str(hidden))


def _audit_orphan_files(con: duckdb.DuckDBPyConnection, ws: Workspace, out: Recovered) -> None:
    orphans = db.query(con, "audit/recovery/unaudited_files").to_dicts()
    if not orphans:
        return
    ids = [f["file_id"] for f in orphans]
    with audit.transaction(con, ws, recording=ids) as t:
        records = digests.file_payload(con, ids)  # what the crashed run loaded, as it is now
        for f in orphans:
            event = "file_loaded" if f["status"] == "loaded" else "file_quarantined"
            payload = {
                "file": f["original_name"],
                "file_id": f["file_id"],
                "sha256": f["sha256"],
                "kind": f["kind"],
                "rows": f["rows"],
                "reason": f["reason"],
                "recovered": "committed by a run that crashed before recording it",
            } | records[f["file_id"]]
            t.append(event, actor=runs.who(), subject=f["original_name"], payload=payload)
            out.files_audited.append(f["original_name"])


def _forget_finished(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    """Process records are only needed while their run is running."""
    folder = procs_dir(ws)
    ids = [p.stem for p in folder.glob("*.json")] if folder.exists() else []
    if ids:
        done = db.query(con, "audit/recovery/finished_runs", {"run_ids": ids})["run_id"]
        for run_id in done.to_list():
            (folder / f"{run_id}.json").unlink(missing_ok=True)


_HELD: dict[Path, int] = {}  # workspace root -> fd of its run lock, held by this process


def acquire(ws: Workspace, timeout: float) -> None:
    """Take the workspace's run lock, waiting up to ``timeout`` seconds (no-op if held here)."""
    root = ws.root.resolve()
    if root in _HELD:
        return
    path = ws.root / ".ballast" / "run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline, delay = time.monotonic() + timeout, 0.05
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise BallastError(
                    f"{ws.root}: another ballast run is using this workspace (waited "
                    f"{timeout:.0f} s); try again when it has finished"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    _HELD[root] = fd


def release(workspace: str | Path) -> None:
    """Give the workspace's run lock back (at the end of a run; also done at exit)."""
    fd = _HELD.pop(Path(workspace).resolve(), None)
    if fd is not None:
        os.close(fd)


def abandon(workspace: str | Path, run_id: str) -> None:
    """A run whose recording failed (a full disk) in a process that lives on (``ballast
    serve``): forget its process record, so the next run marks it crashed, and give the lock
    back."""
    with contextlib.suppress(OSError):
        (procs_dir(Workspace(Path(workspace))) / f"{run_id}.json").unlink(missing_ok=True)
    release(workspace)


@atexit.register
def _release_all() -> None:
    for root in list(_HELD):
        release(root)


def recover(workspace: str, run_id: str, *, lock_timeout: float | None = None) -> Recovered:
    """Register this run's process, then clean up after dead runs (see the module docstring)."""
    ws = Workspace(Path(workspace))
    timeout = db.lock_timeout_for(ws.warehouse) if lock_timeout is None else lock_timeout
    acquire(ws, timeout)
    register(ws, run_id)
    out = Recovered()
    with db.connect(ws.warehouse, lock_timeout=timeout) as con:
        alive: set[str] = {run_id}
        for row in db.query(con, "audit/recovery/running_runs").iter_rows(named=True):
            if row["run_id"] == run_id:
                continue
            dead, proc = _dead(ws, row["run_id"])
            if dead:
                _mark_crashed(con, ws, row, proc, by=run_id)
                out.crashed.append(row["run_id"])
            else:
                alive.add(row["run_id"])
        _tidy_reports(con, ws, alive, set(out.crashed), out)
        out.removed_results += result_files.tidy(ws, alive)
        _audit_orphan_files(con, ws, out)
        _forget_finished(con, ws)
    return out
