"""What the audit trail says about files and runs, indexed for ``verify``: the chain's rows read
once, each payload parsed once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

FILE_EVENTS = ("file_loaded", "file_quarantined")
RUN_EVENTS = ("run_started", "run_finished", "run_crashed")


@dataclass(frozen=True)
class Event:
    """One audit row: its seq, event and parsed payload."""

    seq: int
    event: str
    run_id: str | None
    subject: str | None
    payload: dict[str, Any]


@dataclass
class Trail:
    """The chain's account of the warehouse and the workspace's files."""

    rows: int = 0
    files: dict[int, Event] = field(default_factory=dict)  # file id -> its load/quarantine
    runs: dict[str, list[Event]] = field(default_factory=dict)  # review run id -> its events
    reruns: dict[str, Event] = field(default_factory=dict)  # rerun id -> its run_finished
    purged_runs: set[str] = field(default_factory=set)
    purged_files: set[str] = field(default_factory=set)  # SHA-256 of archived files purged
    ips: dict[str, tuple[str, str]] = field(default_factory=dict)  # IPS sha256 -> (name, run)
    models: dict[str, tuple[str, str]] = field(default_factory=dict)  # model sha256 -> same

    def finished(self) -> dict[str, Event]:
        """Each review run's latest ``run_finished``."""
        out = {}
        for run_id, events in self.runs.items():
            done = [e for e in events if e.event == "run_finished"]
            if done:
                out[run_id] = done[-1]
        return out


def _payload(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:  # an edited row: the chain check names it
        return {}
    return found if isinstance(found, dict) else {}


def _file_id(payload: dict[str, Any]) -> int | None:
    value = payload.get("file_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read(rows: list[dict[str, Any]], payloads: dict[int, dict[str, Any]] | None = None) -> Trail:
    """Index the chain's rows (``chain.rows``); ``payloads``: the whole payload of the rows
    whose payload names a detail (``chain.expanded``), by seq."""
    trail = Trail(rows=len(rows))
    whole = payloads or {}
    for r in rows:
        payload = whole.get(r["seq"]) or _payload(r["payload"])
        e = Event(r["seq"], r["event"], r["run_id"], r["subject"], payload)
        p, file_id = e.payload, _file_id(e.payload)
        if e.event in FILE_EVENTS and file_id is not None:
            trail.files[file_id] = e
        elif e.event in RUN_EVENTS and e.run_id and "rerun_of" in p:
            if e.event == "run_finished":
                trail.reruns[e.run_id] = e
        elif e.event in RUN_EVENTS and e.run_id:
            trail.runs.setdefault(e.run_id, []).append(e)
            if e.event == "run_finished":
                for name, sha in (p.get("ips") or {}).items():
                    trail.ips.setdefault(str(sha), (str(name), e.run_id))
                for i in p.get("inputs") or []:
                    if isinstance(i, dict) and i.get("role") == "model":
                        named = (str(i.get("name")), e.run_id)
                        trail.models.setdefault(str(i.get("sha256")), named)
        elif e.event == "purge":
            for run_id in p.get("runs") or []:
                trail.purged_runs.add(str(run_id))
                trail.runs.setdefault(str(run_id), []).append(e)
            trail.purged_files |= {str(f.get("sha256")) for f in p.get("files") or []}
    return trail
