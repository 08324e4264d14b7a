"""``verify`` for runs: each row of ``runs`` against the events that set it, and the run tables
(inputs, outputs, portfolios, allocations, trades) against the digests ``run_finished`` kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from ballast.audit import digests
from ballast.audit.findings import Findings, change, names
from ballast.audit.trail import RUN_EVENTS, Event, Trail
from ballast.warehouse import db

STARTED = ("kind", "as_of", "trigger", "who", "reason", "code_version", "started_at")
FINISHED = (*STARTED, "ended_at", "status", "report_dir")
PORTFOLIO_TABLES = frozenset({"run_portfolios", "run_allocations", "run_trades"})


def expected_row(events: list[Event]) -> tuple[dict[str, Any], Event | None]:
    """The ``runs`` row the trail implies (the fields it knows), and the event that last set it."""
    row: dict[str, Any] = {}
    last = None
    for e in events:
        p = e.payload
        if e.event == "run_started":
            blank = dict.fromkeys(("ended_at", "report_dir", "pid", "host"))
            row = {k: p.get(k) for k in STARTED} | blank | {"status": "running"}
        elif e.event == "run_finished":
            row = {k: p.get(k) for k in FINISHED} | {"pid": None, "host": None}
        elif e.event == "run_crashed":
            row |= {"status": "crashed", "pid": p.get("pid"), "host": p.get("host")}
            if "ended_at" in p:
                row["ended_at"] = p["ended_at"]
            else:  # recorded before the crash time was kept
                row.pop("ended_at", None)
        elif e.event == "purge":
            row |= {"status": "purged", "report_dir": None}
        else:
            continue
        last = e
    return row, last


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _row_problem(run_id: str, row: dict[str, Any], events: list[Event]) -> str | None:
    want, last = expected_row(events)
    wrong = [k for k in want if _text(row[k]) != _text(want[k])]
    if not wrong or last is None:
        return None
    said = "; ".join(f"{k} is {_text(row[k])!r}, not {_text(want[k])!r}" for k in wrong)
    return f"run {run_id}: its runs row was changed: {said} (as seq {last.seq} recorded)"


def unfinished_line(row: dict[str, Any]) -> str:
    return (
        f"run {row['run_id']} ({row['kind']} as of {row['as_of']}, started {row['started_at']}Z) "
        "did not finish: it is still running, or it stopped (killed, or a write failed, e.g. a "
        "full disk) before its results were recorded. Nothing was altered; the next run marks "
        "it crashed"
    )


def check_rows(con: duckdb.DuckDBPyConnection, trail: Trail, found: Findings) -> list[dt.datetime]:
    """Every runs row against the trail, and every run of the trail against the table; returns
    the start times of runs that did not finish."""
    rows = {r["run_id"]: r for r in db.query(con, "audit/records/runs").iter_rows(named=True)}
    unfinished = []
    for run_id, row in rows.items():
        events = trail.runs.get(run_id, [])
        found.count("runs")
        if not any(e.event in RUN_EVENTS for e in events):
            found.problem(
                f"run {run_id}: in the runs table ({row['kind']} as of {row['as_of']}, "
                f"{row['status']}) but not in the audit trail: a row added outside ballast"
            )
            continue
        wrong = _row_problem(run_id, row, events)
        if wrong:
            found.problem(wrong)
        elif row["status"] == "running":
            found.note(unfinished_line(row))
            unfinished.append(row["started_at"])
    for run_id, events in sorted(trail.runs.items()):
        started = [e for e in events if e.event in RUN_EVENTS]
        if run_id not in rows and started:
            found.problem(
                f"run {run_id}: in the audit trail (seq {started[0].seq}) but missing from the "
                "runs table: its row was deleted"
            )
    return unfinished


def _portfolios(recorded: dict[str, str], now: dict[str, str]) -> str:
    changed = sorted(p for p in set(recorded) | set(now) if recorded.get(p) != now.get(p))
    if not changed:
        return ""
    return f" (portfolio {changed[0]})" if len(changed) == 1 else f" (portfolios {names(changed)})"


def check_tables(con: duckdb.DuckDBPyConnection, trail: Trail, found: Findings) -> None:
    """The run tables against the digests each ``run_finished`` recorded."""
    actual = digests.run_records(con)
    by_portfolio = digests.portfolio_records(con)
    finished = trail.finished()
    for run_id, e in sorted(finished.items()):
        recorded = e.payload.get("records")
        if not isinstance(recorded, dict):
            found.note(
                f"run {run_id}: recorded (seq {e.seq}) before row digests were kept: its rows "
                "in the run tables are not covered"
            )
            continue
        now = actual.get(run_id, {})
        for table in sorted(set(recorded) | set(now)):
            what = change(recorded.get(table), now.get(table))
            if what is None:
                continue
            where = ""
            if table in PORTFOLIO_TABLES:
                kept = e.payload.get("portfolio_records") or {}
                where = _portfolios(kept, by_portfolio.get(run_id, {}))
            found.problem(f"run {run_id}: {table}: {what}{where} (recorded at seq {e.seq})")
        found.count("run table rows", sum(int(t["rows"]) for t in now.values()))
    for run_id in sorted(set(actual) - set(finished)):
        tables = ", ".join(sorted(actual[run_id]))
        found.problem(
            f"run {run_id}: {tables} hold rows of it, but the audit trail records no finished "
            f"run {run_id}: rows added outside ballast"
        )


def check(con: duckdb.DuckDBPyConnection, trail: Trail) -> tuple[Findings, list[dt.datetime]]:
    """Runs and run tables against the trail; also returns when unfinished runs started."""
    found = Findings()
    unfinished = check_rows(con, trail, found)
    check_tables(con, trail, found)
    return found, unfinished
