"""Retention: which old runs, report folders and archived files may be purged, and the purge.

Settings: the ``retention:`` section of ``<workspace>/ballast.yaml`` (optional)::

    retention:
      years: 5        # keep this many whole years plus the current one (default 5)

A record is past retention when its date (a run's start date, a file's ingest date) is before
1 January of (this year - years). A file still read by a run inside the period is kept, and so
is anything under a legal hold (``legal_hold``/``hold_released`` audit events, on a run id or a
file's SHA-256; a held run keeps its input files too). A purge deletes report folders and
archived files, marks the runs ``purged`` and writes a ``purge`` audit event listing what went;
audit rows are never deleted.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from ballast import config as ballast_config
from ballast.audit import chain as audit
from ballast.errors import BallastError
from ballast.warehouse import db
from ballast.workspace import Workspace


class RetentionConfig(BaseModel):
    """How long records are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: int = Field(5, ge=1, le=100)


def load_config(root: Path) -> RetentionConfig:
    """The workspace's retention settings; defaults without ``ballast.yaml`` or the section."""
    return ballast_config.section(Path(root), "retention", RetentionConfig)


def cutoff(config: RetentionConfig, today: dt.date | None = None) -> dt.date:
    """1 January of (this year - years): records dated before it are past retention."""
    today = today or dt.datetime.now(dt.UTC).date()
    return dt.date(today.year - config.years, 1, 1)


def active_holds(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Subjects (run ids, file hashes) under legal hold now, with the hold's reason."""
    held: dict[str, str] = {}
    for r in db.query(con, "audit/retention/holds").iter_rows(named=True):
        if r["event"] == "legal_hold":
            held[r["subject"]] = r["reason"] or ""
        else:
            held.pop(r["subject"], None)
    return held


@dataclass
class Plan:
    """What a purge would remove, and what it keeps only because of a legal hold."""

    cutoff: dt.date
    runs: list[dict[str, Any]] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.runs or self.folders or self.files)

    def as_payload(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "runs": [r["run_id"] for r in self.runs],
            "folders": [str(f) for f in self.folders],
            "files": [{"sha256": f["sha256"], "name": f["name"]} for f in self.files],
            "kept_under_hold": self.held,
        }


def _archive_file(ws: Workspace, f: dict[str, Any]) -> Path:
    if f.get("ips"):
        return ws.archive / "ips" / f"{f['sha256']}.yaml"
    return ws.archive / Path(f["archive_path"]).name


def _old_runs(runs: list[dict], limit: dt.date, held: dict[str, str], plan: Plan) -> set[str]:
    """Fill ``plan.runs``; return the ids of runs kept (inside the period or held)."""
    kept = set()
    for r in runs:
        if r["status"] == "purged":
            continue
        if r["run_date"] >= limit:
            kept.add(r["run_id"])
        elif r["run_id"] in held:
            kept.add(r["run_id"])
            plan.held.append(f"run {r['run_id']}: {held[r['run_id']]}")
        else:
            plan.runs.append(r)
    return kept


def plan(con: duckdb.DuckDBPyConnection, ws: Workspace, limit: dt.date) -> Plan:
    """Everything dated before ``limit`` that nothing inside the period or under hold needs."""
    held = active_holds(con)
    out = Plan(limit)
    kept = _old_runs(db.query(con, "audit/retention/runs").to_dicts(), limit, held, out)
    folders = (ws.reports / r["as_of"].isoformat() / r["run_id"] for r in out.runs)
    out.folders = [f for f in folders if f.is_dir()]
    files = db.query(con, "audit/retention/files").to_dicts()
    ips = [f | {"ips": True} for f in db.query(con, "audit/retention/ips_files").to_dicts()]
    for f in files + ips:
        if (not f.get("ips") and f["loaded_on"] >= limit) or kept & set(f["run_ids"]):
            continue
        if f["sha256"] in held:
            out.held.append(f"file {f['sha256']} ({f['name']}): {held[f['sha256']]}")
        elif _archive_file(ws, f).exists():
            out.files.append(f | {"path": _archive_file(ws, f)})
    return out


def purge(
    con: duckdb.DuckDBPyConnection, ws: Workspace, p: Plan, *, by: str, reason: str, actor: str
) -> str:
    """Mark the plan's runs purged and record a ``purge`` event (together), then delete its
    folders and files: what the trail says was purged may still be there after a failure,
    never gone without a record."""
    if not by.strip() or not reason.strip():
        raise BallastError("a purge needs --by and --reason")
    held = active_holds(con)
    clash = [r["run_id"] for r in p.runs if r["run_id"] in held]
    clash += [f["sha256"] for f in p.files if f["sha256"] in held]
    if clash:
        raise BallastError(f"refused: under legal hold: {', '.join(clash)}")
    payload = p.as_payload() | {"by": by.strip(), "reason": reason.strip()}
    with audit.transaction(con, ws) as t:
        db.execute(con, "audit/retention/mark_purged", {"run_ids": [r["run_id"] for r in p.runs]})
        digest = t.append("purge", actor=actor, payload=payload)
    for folder in p.folders:
        shutil.rmtree(folder, ignore_errors=True)
    for f in p.files:
        f["path"].unlink(missing_ok=True)
    return digest


def _subject_kind(con: duckdb.DuckDBPyConnection, ws: Workspace, target: str) -> str:
    if db.scalar(con, "audit/retention/run_exists", {"run_id": target}) is not None:
        return "run"
    files = db.query(con, "audit/retention/files")["sha256"].to_list()
    ips = db.query(con, "audit/retention/ips_files")["sha256"].to_list()
    if target in files or target in ips:
        return "file"
    raise BallastError(f"{target}: neither a run id nor the SHA-256 of an archived file")


def hold(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    target: str,
    *,
    reason: str,
    actor: str,
    release: bool = False,
) -> str:
    """Record a legal hold on (or its release from) a run or an archived file."""
    if not reason.strip():
        raise BallastError("--reason is required")
    kind = _subject_kind(con, ws, target)
    under = target in active_holds(con)
    if release and not under:
        raise BallastError(f"{target} is not under legal hold")
    event = "hold_released" if release else "legal_hold"
    payload = {"kind": kind, "reason": reason.strip(), "already_held": under and not release}
    return audit.append(con, ws, event, actor=actor, subject=target, payload=payload)
