"""The audit trail: an append-only, hash-chained log in the warehouse (table ``audit_log``).

Row hash (the chain format)
    Each row holds ``seq`` (1, 2, 3, ... with no gaps), ``at`` (UTC), ``event``, ``actor``,
    ``run_id``, ``subject``, ``payload`` (JSON text), ``prev_hash`` and ``row_hash``::

        payload  = json.dumps(data, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False, default=str)
        at_text  = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")          # always six decimals, UTC
        message  = json.dumps([seq, at_text, event, actor, run_id, subject, payload, prev_hash],
                              separators=(",", ":"), ensure_ascii=False)
        row_hash = sha256(message.encode("utf-8")).hexdigest()    # 64 lower-case hex digits

    ``run_id`` and ``subject`` may be null (JSON ``null``); the payload enters as the stored
    text. ``prev_hash`` is the previous row's ``row_hash``, 64 zeros for seq 1.

Detail
    A ``run_finished`` payload's maps with an entry per IPS file, output or portfolio
    (``DETAIL_PARTS``) are stored as rows of ``audit_detail``; the chained payload names them
    as ``"detail": {"entries": n, "sha256": sha256(canonical JSON of {part: {key: value}})}``.
    Few rows holding megabytes made DuckDB rewrite them all at every append (docs/audit.md).

Head file
    After every append, ``audit/head`` in the workspace is replaced atomically with one line,
    ``<seq> <row_hash>``: the newest row. It lives outside the database, so a truncated or
    rewritten log no longer matches it.

Transactions
    ``transaction`` holds the caller's warehouse writes and the audit rows recording them in one
    DuckDB transaction: both are committed or neither (a run's row and its ``run_started``, its
    records and its ``run_finished``). The new head is written and synced to ``audit/.head.tmp``
    before the commit and renamed over ``audit/head`` after it, so a full disk rolls everything
    back, and an interruption after the commit leaves ``.head.tmp`` naming the newest row: an
    interrupted append, which ``check`` reports as a note, not as tampering.

Events and their subjects
    ``run_started``/``run_finished`` (subject: the re-created run's id for a rerun, else null),
    ``ingest`` (a summary), ``file_loaded``, ``file_quarantined``, ``file_restated`` (subject:
    the file name), ``approval`` (subject: the portfolio id), ``audit_anomaly`` (written before
    an append finds the log shorter than, or different from, its head file, or empty beside a
    warehouse that lists runs or files: the evidence is kept in the chain rather than
    overwritten). ``file_loaded``/``file_quarantined`` and ``run_finished`` carry digests of
    the warehouse rows they record (``ballast.audit.digests``).

Nothing here updates or deletes rows; ``verify`` names every edited, deleted or missing row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import polars as pl

from ballast.audit import digests
from ballast.errors import BallastError
from ballast.warehouse import db
from ballast.workspace import Workspace

GENESIS = "0" * 64
EVENTS = frozenset(
    {
        "run_started",
        "run_finished",
        "ingest",
        "file_loaded",
        "file_quarantined",
        "file_restated",
        "approval",
        "audit_anomaly",
        "run_crashed",
        "purge",
        "legal_hold",
        "hold_released",
    }
)
DETAILED_EVENTS = frozenset({"run_finished"})  # payloads whose DETAIL_PARTS go to audit_detail
_LOCK = threading.Lock()  # threads of one process share the database: one append at a time


# -- the chain -------------------------------------------------------------------------------


def canonical_payload(data: Any) -> str:
    """The payload's stored JSON text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# -- detail: the large maps of a payload, kept as rows of audit_detail -----------------------

DETAIL_PARTS = ("ips", "outputs", "portfolios", "portfolio_records")
"""The parts of a ``run_finished`` payload kept as ``audit_detail`` rows (maps with an entry
per IPS file, output or portfolio); everything else stays in the chained payload."""


@dataclass(frozen=True)
class Detail:
    """A payload's detail: its digest, its entry count and its rows (part, key, value text)."""

    sha256: str
    entries: int
    rows: pl.DataFrame

    @property
    def reference(self) -> dict[str, Any]:
        """What the chained payload keeps of it (``payload["detail"]``)."""
        return {"entries": self.entries, "sha256": self.sha256}


class StagedRows(Protocol):
    """A detail whose rows are staged in the warehouse already, under the digest its payload
    names: ``insert`` moves them to ``audit_detail``."""

    def insert(self, con: duckdb.DuckDBPyConnection) -> None: ...


def detail_digest(parts: dict[str, dict[str, Any]]) -> str:
    """SHA-256 of the detail's canonical JSON (``{part: {key: value}}``, keys sorted)."""
    return hashlib.sha256(canonical_payload(parts).encode("utf-8")).hexdigest()


def split_detail(payload: dict[str, Any]) -> tuple[dict[str, Any], Detail | None]:
    """The payload to chain (its non-empty ``DETAIL_PARTS`` replaced by ``detail``: their
    digest and entry count) and the detail (None when none of those parts has an entry)."""
    parts = {k: v for k in DETAIL_PARTS if isinstance(v := payload.get(k), dict) and v}
    if not parts:
        return payload, None
    digest = detail_digest(parts)
    names, keys, values = [], [], []
    for part, entries in parts.items():
        names += [part] * len(entries)
        keys += list(entries)
        values += [canonical_payload(v) for v in entries.values()]
    rows = pl.DataFrame(
        {"digest": [digest] * len(keys), "part": names, "key": keys, "value": values},
        schema={n: pl.String for n in ("digest", "part", "key", "value")},
    )
    detail = Detail(digest, len(keys), rows)
    kept = {k: v for k, v in payload.items() if k not in parts}
    return kept | {"detail": detail.reference}, detail


def _reference(payload: dict[str, Any]) -> tuple[str, int] | None:
    """(sha256, entries) of the detail a payload names, if it names one."""
    ref = payload.get("detail")
    if not isinstance(ref, dict):
        return None
    sha, entries = ref.get("sha256"), ref.get("entries")
    if isinstance(sha, str) and isinstance(entries, int) and not isinstance(entries, bool):
        return sha, entries
    return None


def _details(con: duckdb.DuckDBPyConnection, digests: list[str]) -> dict[str, dict[str, Any]]:
    """The stored detail of each digest, as ``{part: {key: value}}`` (an absent digest: none)."""
    if not digests:
        return {}
    found = db.query(con, "audit/detail_rows", {"digests": sorted(set(digests))})
    out: dict[str, dict[str, Any]] = {}
    for digest, part, key, value in found.iter_rows():
        entries = out.setdefault(digest, {}).setdefault(part, {})
        try:
            entries[key] = json.loads(value)
        except ValueError:  # an edited row: its digest no longer matches (``detail_problems``)
            entries[key] = value
    return out


def _merged(payload: dict[str, Any], parts: dict[str, Any] | None) -> dict[str, Any]:
    """The payload with its detail's parts, when they are stored and still match its digest."""
    ref = _reference(payload)
    if ref is None or parts is None or detail_digest(parts) != ref[0]:
        return payload
    return payload | parts


def expand(con: duckdb.DuckDBPyConnection, payload: dict[str, Any]) -> dict[str, Any]:
    """The whole payload: a chained payload naming a detail gets its parts back (a detail
    missing or edited gives none: ``verify`` names it)."""
    ref = _reference(payload)
    if ref is None:
        return payload
    return _merged(payload, _details(con, [ref[0]]).get(ref[0]))


def _naming(log: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any], str, int]]:
    """(row, payload, sha256, entries) of each row of ``log`` whose payload names a detail."""
    out = []
    for r in log:
        with contextlib.suppress(ValueError):
            payload = json.loads(r["payload"])
            if isinstance(payload, dict) and (ref := _reference(payload)) is not None:
                out.append((r, payload, *ref))
    return out


class StoredDetails:
    """The rows of a log whose payload names a detail, and what ``audit_detail`` holds for
    each: read with one query, each stored detail hashed at most once, for both
    ``detail_problems`` and ``expanded``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, log: list[dict[str, Any]]) -> None:
        self.named = _naming(log)
        self.stored = _details(con, [sha for _, _, sha, _ in self.named])
        self._digests: dict[str, str] = {}

    def digest(self, sha: str) -> str | None:
        """The digest of what is stored under ``sha`` now (none stored: None)."""
        parts = self.stored.get(sha)
        if parts is None:
            return None
        if sha not in self._digests:
            self._digests[sha] = detail_digest(parts)
        return self._digests[sha]


def expanded(
    con: duckdb.DuckDBPyConnection,
    log: list[dict[str, Any]],
    details: StoredDetails | None = None,
) -> dict[int, dict]:
    """The whole payload of each row of ``log`` that names a detail, by seq (one query): a
    detail missing or edited gives none (``detail_problems`` names it)."""
    d = details or StoredDetails(con, log)
    return {r["seq"]: p | d.stored[sha] if d.digest(sha) == sha else p for r, p, sha, _ in d.named}


def at_text(at: dt.datetime) -> str:
    """The timestamp as it enters the hash."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(
    seq: int,
    at: dt.datetime,
    event: str,
    actor: str,
    run_id: str | None,
    subject: str | None,
    payload: str,
    prev_hash: str,
) -> str:
    """SHA-256 of the row's canonical serialisation (see the module docstring)."""
    message = json.dumps(
        [seq, at_text(at), event, actor, run_id, subject, payload, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(message.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Head:
    """What ``audit/head`` says: the newest row's seq and hash."""

    seq: int
    row_hash: str


def head_path(ws: Workspace) -> Path:
    return ws.audit / "head"


def _tmp_path(ws: Workspace) -> Path:
    return ws.audit / ".head.tmp"


def read_head(ws: Workspace) -> Head | None:
    """The head file, or None when there is none; a garbled one raises ``BallastError``."""
    path = head_path(ws)
    if not path.exists():
        return None
    parts = path.read_text(encoding="utf-8").split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) != 64:
        raise BallastError(f"{path}: not an audit head (expected '<seq> <sha256>')")
    return Head(int(parts[0]), parts[1])


def _write_tmp(ws: Workspace, head: Head) -> Path:
    """The new head, written and synced beside ``audit/head`` (renamed over it after commit)."""
    tmp = _tmp_path(ws)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as f:
        f.write(f"{head.seq} {head.row_hash}\n")
        f.flush()
        os.fsync(f.fileno())
    return tmp


def _read_tmp(ws: Workspace) -> Head | None:
    """What an interrupted append left in ``audit/.head.tmp`` (None when nothing usable)."""
    try:
        parts = _tmp_path(ws).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) != 64:
        return None
    return Head(int(parts[0]), parts[1])


def _last(con: duckdb.DuckDBPyConnection) -> Head | None:
    found = con.execute(db.sql_text("audit/last_row")).fetchall()
    return Head(int(found[0][0]), found[0][1]) if found else None


def _insert(
    con: duckdb.DuckDBPyConnection,
    last: Head | None,
    event: str,
    actor: str,
    run_id: str | None,
    subject: str | None,
    payload: dict[str, Any],
    staged: StagedRows | None = None,
) -> Head:
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.row_hash
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if staged is not None:  # the payload names it already
        staged.insert(con)
    elif event in DETAILED_EVENTS:
        payload, detail = split_detail(payload)
        if detail is not None:
            detail_rows = detail.rows.to_arrow()  # noqa: F841 - named in the SQL
            con.execute(db.sql_text("audit/detail_insert"))
    text = canonical_payload(payload)
    digest = row_hash(seq, at, event, actor, run_id, subject, text, prev)
    db.execute(
        con,
        "audit/insert",
        {
            "seq": seq,
            "at": at,
            "event": event,
            "actor": actor,
            "run_id": run_id,
            "subject": subject,
            "payload": text,
            "prev_hash": prev,
            "row_hash": digest,
        },
    )
    return Head(seq, digest)


def _history(con: duckdb.DuckDBPyConnection, recording: Sequence[int]) -> str | None:
    """What the warehouse already lists besides the files about to be recorded, if anything."""
    found = con.execute(
        db.sql_text("audit/records/warehouse_counts"), {"file_ids": list(recording)}
    ).fetchall()
    runs, files = found[0] if found else (0, 0)
    return f"{runs} runs and {files} files" if runs or files else None


def _anomaly(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    last: Head | None,
    recording: Sequence[int] = (),
) -> str | None:
    """Why the log does not continue from the head file (None when it does)."""
    try:
        head = read_head(ws)
    except BallastError as exc:
        return str(exc)
    if head is None:
        if last is None:
            listed = _history(con, recording)
            return (
                None
                if listed is None
                else f"the audit log is empty and audit/head missing, but the warehouse lists "
                f"{listed}: the trail was deleted"
            )
        return f"audit/head is missing (the log ends at seq {last.seq})"
    if last is None or head.seq > last.seq:
        ends = "is empty" if last is None else f"ends at seq {last.seq}"
        return f"audit/head says seq {head.seq} but the log {ends}"
    stored = con.execute(db.sql_text("audit/row_hash_at"), {"seq": head.seq}).fetchall()
    if not stored:
        return f"audit/head says seq {head.seq} but that row is missing"
    if stored[0][0] != head.row_hash:
        return f"seq {head.seq} no longer has the hash audit/head gives ({head.row_hash[:12]}…)"
    return None


class Appender:
    """Appends audit rows inside one ``transaction``."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        last: Head | None,
        problem: str | None,
        old_head: Head | None,
    ) -> None:
        self._con, self._last, self._problem, self._old_head = con, last, problem, old_head
        self.head: Head | None = None  # the newest row this transaction added

    def append(
        self,
        event: str,
        *,
        actor: str,
        run_id: str | None = None,
        subject: str | None = None,
        payload: dict[str, Any],
        detail: StagedRows | None = None,
    ) -> str:
        """Add one event (an ``audit_anomaly`` first when the log was out of step); ``detail``:
        its detail, staged already, which the payload names (``ballast.audit.run_finished``)."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        if self._problem is not None:
            problem, self._problem = self._problem, None
            old = self._old_head
            self._last = _insert(
                self._con,
                self._last,
                "audit_anomaly",
                actor,
                None,
                None,
                {
                    "problem": problem,
                    "head_seq": old.seq if old else None,
                    "head_hash": old.row_hash if old else None,
                },
            )
        self._last = _insert(self._con, self._last, event, actor, run_id, subject, payload, detail)
        self.head = self._last
        return self._last.row_hash


@contextlib.contextmanager
def transaction(
    con: duckdb.DuckDBPyConnection, ws: Workspace, *, recording: Sequence[int] = ()
) -> Iterator[Appender]:
    """One DuckDB transaction for the caller's writes and the audit rows that record them.

    Both are committed or neither; ``audit/head`` moves after the commit (see the module
    docstring). ``recording``: ids of ledger files this transaction records, which an empty log
    may not yet know. Not reentrant; the caller must not be inside a transaction of its own.
    """
    with _LOCK:
        con.execute("begin transaction")
        tmp: Path | None = None
        try:
            last = _last(con)
            old_head = None
            with contextlib.suppress(BallastError):
                old_head = read_head(ws)
            appender = Appender(con, last, _anomaly(con, ws, last, recording), old_head)
            yield appender
            if appender.head is not None:
                tmp = _write_tmp(ws, appender.head)
            con.execute("commit")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("rollback")
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
        if tmp is not None:
            os.replace(tmp, head_path(ws))


def append(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    event: str,
    *,
    actor: str,
    run_id: str | None = None,
    subject: str | None = None,
    payload: dict[str, Any],
) -> str:
    """Add one event to the chain, move ``audit/head`` to it, return its hash.

    Call it outside the caller's own transaction (after its commit), or use ``transaction``
    to commit the caller's writes with it. If the log does not continue from the head file, an
    ``audit_anomaly`` row is written first, so the evidence stays in the chain.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    with transaction(con, ws) as t:
        return t.append(event, actor=actor, run_id=run_id, subject=subject, payload=payload)


# -- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One finding of ``verify``: what is wrong and at which row."""

    kind: str  # edited | deleted | relinked | reordered | truncated | rewritten | ...
    seq: int | None
    message: str

    def __str__(self) -> str:
        return self.message

    @property
    def is_note(self) -> bool:
        """A finding that is no sign of tampering (an append interrupted before its head moved)."""
        return self.kind in NOTE_KINDS


NOTE_KINDS = frozenset({"interrupted"})


def _label(row: dict[str, Any]) -> str:
    subject = f" {row['subject']}" if row["subject"] else ""
    return f"seq {row['seq']} ({row['event']}{subject}, {at_text(row['at'])[:19]}Z)"


def _chain_problems(
    rows: list[dict[str, Any]], first: int = 1, prev: str = GENESIS
) -> list[Problem]:
    """Problems of ``rows``, which should run from seq ``first`` on, the row before it hashing
    to ``prev`` (the whole log: 1 and the genesis hash)."""
    problems = []
    expected, prev_stored, prev_actual = first, prev, prev
    for r in rows:
        actual = row_hash(
            r["seq"],
            r["at"],
            r["event"],
            r["actor"],
            r["run_id"],
            r["subject"],
            r["payload"],
            r["prev_hash"],
        )
        if r["seq"] < expected:
            problems.append(
                Problem("reordered", r["seq"], f"seq {r['seq']}: duplicated or out of order")
            )
        elif r["seq"] > expected:
            gone = (
                f"row {expected} was deleted"
                if r["seq"] == expected + 1
                else f"rows {expected}..{r['seq'] - 1} were deleted"
            )
            problems.append(
                Problem(
                    "deleted", expected, f"seq {expected}: {gone} (the log jumps to seq {r['seq']})"
                )
            )
        elif r["prev_hash"] not in (prev_stored, prev_actual):
            problems.append(
                Problem(
                    "relinked",
                    r["seq"],
                    f"{_label(r)}: its prev_hash is not the hash of seq {r['seq'] - 1} "
                    "(a row was altered and re-hashed, or replaced)",
                )
            )
        if actual != r["row_hash"]:
            problems.append(
                Problem(
                    "edited",
                    r["seq"],
                    f"{_label(r)}: edited: its content hashes to {actual[:12]}…, "
                    f"not to its stored hash {r['row_hash'][:12]}…",
                )
            )
        if r["event"] == "audit_anomaly":
            what = json.loads(r["payload"]).get("problem", "")
            problems.append(
                Problem("anomaly", r["seq"], f"{_label(r)}: recorded before this append: {what}")
            )
        expected = max(expected, r["seq"] + 1)
        prev_stored, prev_actual = r["row_hash"], actual
    return problems


def _head_problems(
    rows: list[dict[str, Any]], head: Head | None, tmp: Head | None = None
) -> list[Problem]:
    last = rows[-1] if rows else None
    if head is None:
        if last is None:
            return []
        return [
            Problem(
                "head_missing", None, f"audit/head is missing (the log ends at seq {last['seq']})"
            )
        ]
    if last is None or head.seq > last["seq"]:
        end = 0 if last is None else last["seq"]
        return [
            Problem(
                "truncated",
                end + 1,
                f"seq {end + 1}: truncated: audit/head says the log ends at seq {head.seq} "
                f"(hash {head.row_hash[:12]}…) but it ends at seq {end}; rows "
                f"{end + 1}..{head.seq} are missing",
            )
        ]
    by_seq = {r["seq"]: r for r in rows}
    problems = []
    at_head = by_seq.get(head.seq)
    if at_head is not None and at_head["row_hash"] != head.row_hash:
        problems.append(
            Problem(
                "rewritten",
                head.seq,
                f"{_label(at_head)}: its hash {at_head['row_hash'][:12]}… is not the one in "
                f"audit/head ({head.row_hash[:12]}…): the log was rewritten up to here",
            )
        )
    if head.seq < last["seq"] and tmp == Head(last["seq"], last["row_hash"]):
        problems.append(
            Problem(
                "interrupted",
                head.seq + 1,
                f"seq {head.seq + 1}: audit/head still names seq {head.seq}: the append of "
                f"rows {head.seq + 1}..{last['seq']} was committed but interrupted before the "
                "head moved (audit/.head.tmp names the newest row); the next append moves it",
            )
        )
    elif head.seq < last["seq"]:
        problems.append(
            Problem(
                "head_behind",
                head.seq + 1,
                f"seq {head.seq + 1}: rows {head.seq + 1}..{last['seq']} come after the row "
                f"audit/head names (seq {head.seq}): added outside ballast, or a crash "
                "before the head was written",
            )
        )
    return problems


def rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every row of the log, in seq order."""
    return db.query(con, "audit/all_rows").to_dicts()


def rows_from(con: duckdb.DuckDBPyConnection, seq: int) -> list[dict[str, Any]]:
    """The rows of the log from ``seq`` on, in seq order."""
    return db.query(con, "audit/rows_from", {"seq": seq}).to_dicts()


def check(log: list[dict[str, Any]], ws: Workspace, trusted: Head | None = None) -> list[Problem]:
    """Every finding about the chain ``log`` (its rows) and its head file, in seq order: problems
    and notes (``Problem.is_note``). With ``trusted`` (a row already proven, e.g. witnessed),
    ``log`` is the rows from that seq on, the first of which must still have its hash."""
    try:
        head = read_head(ws)
        head_issues = _head_problems(log, head, _read_tmp(ws))
    except BallastError as exc:
        head_issues = [Problem("head_unreadable", None, str(exc))]
    if trusted is None:
        found = _chain_problems(log)
    elif not log or log[0]["seq"] != trusted.seq or log[0]["row_hash"] != trusted.row_hash:
        found = [
            Problem(
                "rewritten",
                trusted.seq,
                f"seq {trusted.seq}: the witness anchored hash {trusted.row_hash[:12]}…, the "
                "log no longer has it: the chain was rewritten",
            )
        ]
    else:
        found = _chain_problems(log, trusted.seq, log[0]["prev_hash"])
    found += head_issues
    return sorted(found, key=lambda p: (p.seq is None, p.seq or 0))


def detail_problems(
    con: duckdb.DuckDBPyConnection,
    log: list[dict[str, Any]],
    details: StoredDetails | None = None,
) -> list[Problem]:
    """Each row of ``log`` whose payload names a detail that ``audit_detail`` no longer holds
    as recorded (rows deleted, added or edited: their digest or count differs)."""
    d = details or StoredDetails(con, log)
    problems = []
    for r, _, sha, entries in d.named:
        parts, digest = d.stored.get(sha), d.digest(sha)
        if parts is None or digest is None:
            problems.append(
                Problem(
                    "detail_missing",
                    r["seq"],
                    f"{_label(r)}: its detail ({entries} entries, sha256 {sha[:12]}…) is "
                    "missing from audit_detail (rows were deleted)",
                )
            )
            continue
        count = sum(len(v) for v in parts.values())
        if count != entries or digest != sha:
            problems.append(
                Problem(
                    "detail_edited",
                    r["seq"],
                    f"{_label(r)}: its detail in audit_detail was edited: {count} entries "
                    f"hashing to {digest[:12]}…, recorded {entries} entries "
                    f"hashing to {sha[:12]}…",
                )
            )
    return problems


def verify(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[Problem]:
    """Every problem with the chain, its head file and the payload details, in seq order;
    empty when intact."""
    log = rows(con)
    found = [p for p in check(log, ws) if not p.is_note] + detail_problems(con, log)
    return sorted(found, key=lambda p: (p.seq is None, p.seq or 0))


# -- recording what happened -----------------------------------------------------------------


def run_started_payload(run: dict[str, Any]) -> dict[str, Any]:
    """The ``run_started`` payload: who started which run, why, with which code."""
    keys = ("kind", "as_of", "trigger", "who", "reason", "code_version", "started_at")
    payload = {k: run.get(k) for k in keys}
    if run.get("rerun_of"):
        payload["rerun_of"] = run["rerun_of"]
    return payload


def record_run_started(con: duckdb.DuckDBPyConnection, ws: Workspace, run: dict[str, Any]) -> str:
    """``run_started``: who started which run, why, with which code."""
    payload = run_started_payload(run)
    return append(
        con,
        ws,
        "run_started",
        actor=run["who"],
        run_id=run["run_id"],
        subject=run.get("rerun_of"),
        payload=payload,
    )


def run_head(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """A recorded run as the ``run_finished`` payload gives it, but for the maps with an entry
    per IPS, output or portfolio (``DETAIL_PARTS``): its fields, inputs and validation."""
    found = db.query(con, "audit/run", {"run_id": run_id}).to_dicts()
    if not found:
        raise BallastError(f"no run {run_id} in the warehouse (see 'ballast runs')")
    run = found[0]
    others = db.query(con, "audit/run_files", {"run_id": run_id})
    file_ids = others["file_id"].drop_nulls().to_list()
    checks = db.query(con, "audit/validation", {"file_ids": file_ids}).to_dicts()
    return {
        **{k: run[k] for k in ("kind", "as_of", "trigger", "who", "reason", "code_version")},
        **{k: run[k] for k in ("started_at", "ended_at", "status", "report_dir")},
        "inputs": others.to_dicts(),
        "validation": {
            "passed": sum(bool(c["success"]) for c in checks),
            "failed": sum(c["success"] is False for c in checks),
            "files": [
                {
                    "file_id": c["file_id"],
                    "file": c["original_name"],
                    "success": c["success"],
                    "evaluated": c["evaluated"],
                    "failures": list(c["failures"] or []),
                }
                for c in checks
            ],
        },
    }


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """A recorded run as the ``run_finished`` payload gives it (inputs, validation, outputs)."""
    head = run_head(con, run_id)
    # the per-IPS, per-output and per-portfolio maps are taken column by column: at 50,000
    # portfolios a dict per row of each, only to be taken apart, cost tens of MiB
    ips = db.query(con, "audit/run_ips", {"run_id": run_id})
    outputs = db.query(con, "audit/run_outputs", {"run_id": run_id})
    portfolios = db.query(con, "audit/run_portfolios", {"run_id": run_id})
    return head | {
        "ips": dict(zip(ips["name"].to_list(), ips["sha256"].to_list(), strict=True)),
        "outputs": dict(zip(outputs["name"].to_list(), outputs["sha256"].to_list(), strict=True)),
        "portfolios": {
            pid: {"status": status, "breached": breached, "trades": trades}
            for pid, status, breached, trades in portfolios.select(
                "portfolio_id", "status", "breached", "trades"
            ).iter_rows()
        },
    }


def superseded(con: duckdb.DuckDBPyConnection, file_id: int) -> list[dict[str, Any]]:
    """Earlier positions/lots files that reported the same account and date as this one."""
    return db.query(con, "audit/superseded_files", {"file_id": file_id}).to_dicts()


def _restated(e: dict[str, Any], replaced: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "file_id": e["file_id"],
        "file": e["file"],
        "sha256": e["sha256"],
        "kind": e.get("kind"),
        "replaces": [
            {
                "file_id": r["file_id"],
                "file": r["original_name"],
                "sha256": r["sha256"],
                "kind": r["kind"],
                "account_id": r["account_id"],
                "as_of_date": r["as_of_date"],
            }
            for r in replaced
        ],
    }


def record_ingest(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    report: dict[str, list[dict[str, Any]]],
    *,
    actor: str,
    run_id: str | None = None,
) -> list[str]:
    """Events for one ingest (``IngestReport.as_dict()``), appended together: each file loaded
    (with the digests of its ledger row and warehouse rows), restated or quarantined, then an
    ``ingest`` summary; nothing when the inbox was empty."""
    loaded, quarantined = report.get("loaded", []), report.get("quarantined", [])
    ids = [e["file_id"] for e in loaded + quarantined]
    hashes = []
    with transaction(con, ws, recording=ids) as t:
        records = digests.file_payload(con, ids)
        for e in loaded:
            payload = e | records[e["file_id"]]
            hashes.append(
                t.append(
                    "file_loaded", actor=actor, run_id=run_id, subject=e["file"], payload=payload
                )
            )
            replaced = superseded(con, e["file_id"])
            if replaced:
                restated = _restated(e, replaced)
                hashes.append(
                    t.append(
                        "file_restated",
                        actor=actor,
                        run_id=run_id,
                        subject=e["file"],
                        payload=restated,
                    )
                )
        for e in quarantined:
            payload = e | records[e["file_id"]]
            hashes.append(
                t.append(
                    "file_quarantined",
                    actor=actor,
                    run_id=run_id,
                    subject=e["file"],
                    payload=payload,
                )
            )
        counts = {k: len(report.get(k, [])) for k in ("loaded", "quarantined", "duplicates")}
        if any(counts.values()):
            summary = counts | {"duplicates_of": report.get("duplicates", [])}
            hashes.append(t.append("ingest", actor=actor, run_id=run_id, payload=summary))
    return hashes
