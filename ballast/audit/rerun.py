"""Re-creating a past review from what it read, and proving the outputs are the same.

A run's inputs are pinned as follows:

* IPS: each version the run recorded (``run_inputs`` role ``ips``), read from
  ``archive/ips/<sha256>.yaml`` and checked against its hash.
* positions: exactly the files the run used (``run_inputs`` role ``positions``); a restated
  file loaded later is ignored.
* security master: the file the run recorded (role ``securities``).
* lots, prices, FX rates and quarantined files: as the snapshot SQL picks them, but seeing
  only the ledger up to the run's *high-water mark* (the newest file loaded before the run
  ended, or the newest file the run recorded, whichever is later).

``rebuild(..., latest=True)`` takes today's data instead (the latest file of each account and
date, the current master and prices) with the run's own IPS versions: it shows what a
restatement changes. ``changed_inputs`` lists what differs between the two.

``rerun`` does not read the custodian rows from the warehouse: it rebuilds them in a scratch
warehouse from the archived bytes of every file the run could read (``ballast.audit.scratch``:
the files up to its high-water mark, so a restatement loaded after the run is not replayed),
after checking each archived copy against the hash recorded at ingest, and computes the review
from there. An archived file, a ledger row, a warehouse row, a run record or an output file
edited after the fact is named (``ballast.audit.provenance``, ``ballast.audit.evidence``) and
the run is not proven (``EXIT_UNPROVEN``). Warehouse rows that differ from what intact bytes
parse into today, while still digesting as recorded at ingest, are the code's doing: a note. A
run whose recorded input files were purged under retention cannot be replayed: one line.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ballast.audit import evidence, provenance, rerun_jobs, scratch
from ballast.audit.provenance import Tamper
from ballast.errors import BallastError, PolicyError, Unproven
from ballast.ops import runs
from ballast.portfolio import policy_set
from ballast.portfolio.models import ModelCatalog
from ballast.portfolio.policy import content_hash, load_policy
from ballast.reporting import outputs, results_text
from ballast.reporting.outputs import sha256_text
from ballast.warehouse import db, snapshot
from ballast.workspace import Workspace

LATEST = snapshot.LATEST
MAX_DIFF_LINES = 20
FINISHED = ("completed", "completed_with_errors")
# -- the run as recorded ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """A past run: its row in ``runs``, what it read and the hashes of what it wrote."""

    run_id: str
    kind: str
    as_of: dt.date
    trigger: str
    who: str
    reason: str | None
    code_version: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    status: str
    report_dir: str | None
    inputs: list[dict[str, Any]]
    outputs: dict[str, str]

    def role(self, role: str) -> list[dict[str, Any]]:
        return [i for i in self.inputs if i["role"] == role]

    def meta(self) -> dict[str, Any]:
        """The run metadata that results.json carries."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "kind": self.kind,
            "trigger": self.trigger,
        }


def _value(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> Any:
    """The single value a query returns (the result is read to its end)."""
    rows = con.execute(db.sql_text(name), params).fetchall()
    return rows[0][0] if rows else None


def load_run(con: duckdb.DuckDBPyConnection, run_id: str) -> RunRecord:
    """The recorded run, or a one-line error naming the id."""
    found = db.query(con, "audit/run", {"run_id": run_id}).to_dicts()
    if not found:
        raise BallastError(f"no run {run_id} in the warehouse (see 'ballast runs')")
    inputs = db.query(con, "audit/run_inputs", {"run_id": run_id}).to_dicts()
    outputs = db.query(con, "audit/run_outputs", {"run_id": run_id}).rows()
    return RunRecord(**found[0], inputs=inputs, outputs=dict(outputs))


def archived_models(ws: Workspace, run: RunRecord) -> ModelCatalog:
    """The model files the run's IPS files named (``run_inputs`` role ``model``), from
    ``archive/models/``, each checked against its recorded hash."""
    texts = {}
    for item in sorted(run.role("model"), key=lambda i: i["name"]):
        sha = item["sha256"]
        path = ws.archive / "models" / f"{sha}.yaml"
        if not path.exists():
            raise BallastError(
                f"{path}: model {item['name']} of run {run.run_id} is not archived; "
                "the run cannot be re-created"
            )
        text = path.read_text(encoding="utf-8")
        if (now := content_hash(text)) != sha:
            raise Unproven(
                f"{path}: the archived model {item['name']} of run {run.run_id} was edited "
                f"after the run (sha256 now {now[:12]}…, recorded {sha[:12]}…)"
            )
        texts[item["name"]] = text
    return ModelCatalog.from_texts(texts)


def archived_policies(ws: Workspace, run: RunRecord) -> policy_set.PolicySet:
    """The IPS versions the run read, from ``archive/ips/``, with the model versions they named
    (``archive/models/``), exactly as ``load_policies`` would have parsed them (a refused IPS is
    refused again, with the same message)."""
    pset = policy_set.PolicySet()
    models = archived_models(ws, run)
    pset.models = {m.sha256: m for m in models.files.values()}
    for item in sorted(run.role("ips"), key=lambda i: i["name"]):
        pid, sha = Path(item["name"]).stem, item["sha256"]
        path = ws.archive / "ips" / f"{sha}.yaml"
        if not path.exists():
            raise BallastError(
                f"{path}: IPS {item['name']} of run {run.run_id} is not archived; "
                "the run cannot be re-created"
            )
        text = path.read_text(encoding="utf-8")
        if (now := content_hash(text)) != sha:
            raise Unproven(
                f"{path}: the archived IPS {item['name']} of run {run.run_id} was edited after "
                f"the run (sha256 now {now[:12]}…, recorded {sha[:12]}…)"
            )
        pset.hashes[pid], pset.texts[pid] = sha, text
        try:
            pset.policies.append(load_policy(ws.ips / item["name"], text, models))
        except PolicyError as exc:
            pset.errors[pid] = str(exc).replace(str(ws.root) + "/", "")
    return pset


# -- pinned inputs ---------------------------------------------------------------------------

# snapshot fields computed from other inputs: a change shows up as the input it derives from
DERIVED = frozenset({"restatements"})


@dataclass(frozen=True)
class Pins:
    """Which custodian files a re-creation may read."""

    positions: list[int]  # exactly these positions files
    securities: int | None  # this master file (None: the latest up to the high-water mark)
    high_water: int  # every other kind: files up to this file id


def pins(con: duckdb.DuckDBPyConnection, run: RunRecord) -> Pins:
    """The files the run read (see the module docstring)."""
    ended = run.ended_at or run.started_at
    high = int(_value(con, "audit/high_water", {"ended_at": ended}) or 0)
    recorded = [i["file_id"] for i in run.inputs if i["file_id"] is not None]
    master = [i["file_id"] for i in run.role("securities") if i["file_id"] is not None]
    return Pins(
        positions=sorted(i["file_id"] for i in run.role("positions") if i["file_id"] is not None),
        securities=max(master) if master else None,
        high_water=max([high, *recorded]),
    )


def frames(snap: snapshot.Snapshot) -> dict[str, pl.DataFrame]:
    """The snapshot's frames by field name."""
    return {f.name: getattr(snap, f.name) for f in fields(snap) if f.name != "as_of"}


def pinned_snapshot(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    accounts: list[str],
    pinned: Pins,
    latest: snapshot.Snapshot | None = None,  # kept for callers; the bound query is enough
) -> snapshot.Snapshot:
    """The warehouse as a past run saw it: every snapshot query bounded by the run's
    high-water file id (file ids only grow, so the latest version among those files is
    exactly the version the run read)."""
    return snapshot.take(con, as_of, accounts, max_file_id=pinned.high_water)


# -- what changed since the run --------------------------------------------------------------


@dataclass(frozen=True)
class FileRef:
    """One version of an input: a ledger file, or an IPS text."""

    name: str
    sha256: str
    file_id: int | None = None
    loaded_at: dt.datetime | None = None

    def __str__(self) -> str:
        ident = f"file #{self.file_id}, " if self.file_id is not None else ""
        return f"{self.name} ({ident}sha256 {self.sha256[:12]}…)"


@dataclass(frozen=True)
class InputChange:
    """An input that differs between what a run read and what the workspace holds now."""

    kind: str  # a snapshot field (positions, lots, securities, prices, ...), ips or model
    subject: str  # account id, IPS or model file name, or "" for data every portfolio shares
    before: FileRef | None
    after: FileRef | None
    portfolios: tuple[str, ...] = ()  # the portfolios it concerns; () means all

    def concerns(self, portfolio_id: str) -> bool:
        return not self.portfolios or portfolio_id in self.portfolios

    def describe(self) -> str:
        after = self.after
        when = f", loaded {after.loaded_at:%Y-%m-%d %H:%M:%S}Z" if after and after.loaded_at else ""
        if self.kind in ("ips", "model"):
            assert self.before is not None
            now = f"is now sha256 {after.sha256[:12]}…" if after else "is gone"
            folder = "ips" if self.kind == "ips" else "models"
            return (
                f"{folder}/{self.subject}: the run used sha256 {self.before.sha256[:12]}…; "
                f"the file {now}"
            )
        if after is None:
            return f"{self.kind}: today's data differs from what the run read"
        if self.kind in ("positions", "lots"):
            used = f"the run used {self.before}" if self.before else "the run had none"
            return f"{self.kind} of {self.subject}: {used}; restated by {after}{when}"
        if self.kind == "securities":
            return f"security master: the run used {self.before}; now {after}{when}"
        if self.kind == "quarantined":
            return f"quarantined after the run: {after}{when}, which mentions {self.subject}"
        about = f" for {self.subject}" if self.subject else ""
        return f"{self.kind}{about}: {after}{when} was loaded after the run and changes them"


def _portfolios_of(pset: policy_set.PolicySet) -> dict[str, tuple[str, ...]]:
    owners: dict[str, list[str]] = {}
    for p in pset.policies:
        for a in p.accounts:
            owners.setdefault(a.id, []).append(p.id)
    return {k: tuple(sorted(v)) for k, v in owners.items()}


def _refs(con: duckdb.DuckDBPyConnection, ids: set[int]) -> dict[int, FileRef]:
    rows = db.query(con, "audit/files", {"file_ids": sorted(ids)}).to_dicts()
    return {
        r["file_id"]: FileRef(r["original_name"], r["sha256"], r["file_id"], r["loaded_at"])
        for r in rows
    }


def _file_of(frame: pl.DataFrame) -> dict[str, int]:
    """account → the file its rows came from."""
    return dict(frame.select("account_id", "file_id").unique().rows())


def _new_files(then: pl.DataFrame, now: pl.DataFrame) -> list[tuple[str, int]]:
    """(account, file id) rows of files in ``now`` that ``then`` did not read."""
    old = set(then["file_id"].to_list())
    rows = now.select("account_id", "file_id").unique().sort("file_id", "account_id").rows()
    return [(a, f) for a, f in rows if f not in old]


@dataclass(frozen=True)
class _Found:
    kind: str
    subject: str
    before: int | None
    after: int | None
    accounts: tuple[str, ...] = ()


def _find(
    con: duckdb.DuckDBPyConnection,
    run: RunRecord,
    then: dict[str, pl.DataFrame],
    now: dict[str, pl.DataFrame],
    pinned: Pins,
) -> list[_Found]:
    found: list[_Found] = []
    for kind in ("positions", "lots"):
        old, new = _file_of(then[kind]), _file_of(now[kind])
        found += [
            _Found(kind, a, old.get(a), f, (a,)) for a, f in sorted(new.items()) if old.get(a) != f
        ]
    for kind in ("quarantined", "transactions"):
        if kind in now and not then[kind].equals(now[kind]):
            found += [_Found(kind, a, None, f, (a,)) for a, f in _new_files(then[kind], now[kind])]
    if not then["securities"].equals(now["securities"]):
        master_then = pinned.securities or _value(
            con, "audit/master_file", {"max_file_id": pinned.high_water}
        )
        master_now = _value(con, "audit/master_file", {"max_file_id": LATEST})
        found.append(_Found("securities", "", master_then, master_now))
    newer = db.query(
        con, "audit/newer_rate_files", {"as_of": run.as_of, "max_file_id": pinned.high_water}
    ).rows()
    found += [_Found(kind, "", None, f) for kind, f in newer if not then[kind].equals(now[kind])]
    named = {f.kind for f in found}
    found += [
        _Found(name, "", None, None)
        for name in now
        if name not in named
        and name not in DERIVED
        and name in then
        and not then[name].equals(now[name])
    ]
    return found


def _data_changes(
    con: duckdb.DuckDBPyConnection, run: RunRecord, pset: policy_set.PolicySet, pinned: Pins
) -> list[InputChange]:
    accounts = policy_set.accounts_of(pset)
    latest = snapshot.take(con, run.as_of, accounts)
    then = frames(pinned_snapshot(con, run.as_of, accounts, pinned, latest))
    found = _find(con, run, then, frames(latest), pinned)
    refs = _refs(con, {f for x in found for f in (x.before, x.after) if f is not None})
    owners = _portfolios_of(pset)
    out = []
    for x in found:
        concerned = sorted({p for a in x.accounts for p in owners.get(a, ())})
        before = refs.get(x.before) if x.before is not None else None
        after = refs.get(x.after) if x.after is not None else None
        if x.accounts and not concerned:
            continue  # an account no reviewed portfolio holds
        out.append(InputChange(x.kind, x.subject, before, after, tuple(concerned)))
    return out


def _ips_changes(ws: Workspace, run: RunRecord) -> list[InputChange]:
    out = []
    for item in run.role("ips"):
        path = ws.ips / item["name"]
        now = content_hash(path.read_text(encoding="utf-8")) if path.exists() else None
        if now != item["sha256"]:
            pid = Path(item["name"]).stem
            before = FileRef(item["name"], item["sha256"])
            after = FileRef(item["name"], now) if now else None
            out.append(InputChange("ips", item["name"], before, after, (pid,)))
    users: dict[str, list[str]] = {}  # model id -> the portfolios on it in the run
    for p in archived_policies(ws, run).policies if run.role("model") else []:
        if p.model is not None:
            users.setdefault(p.model.id, []).append(p.id)
    for item in run.role("model"):
        path = ws.models / item["name"]
        now = content_hash(path.read_bytes()) if path.is_file() else None
        if now != item["sha256"]:
            before = FileRef(item["name"], item["sha256"])
            after = FileRef(item["name"], now) if now else None
            on = tuple(sorted(users.get(Path(item["name"]).stem, [])))
            out.append(InputChange("model", item["name"], before, after, on))
    return out


def changed_inputs(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run_id: str,
    portfolio_id: str | None = None,
) -> list[InputChange]:
    """What differs between a run's inputs and today's: restated positions or lots files,
    a newer security master, later prices or FX rates, new transactions, newly quarantined
    files, edited IPS files."""
    run = load_run(con, run_id)
    pset = archived_policies(ws, run)
    found = _data_changes(con, run, pset, pins(con, run)) + _ips_changes(ws, run)
    return [c for c in found if portfolio_id is None or c.concerns(portfolio_id)]


# -- rebuild and compare ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rebuilt:
    """A past review computed again."""

    entries: list[dict[str, Any]]
    documents: dict[str, str]  # file name → text, with the original run's metadata
    pins: Pins | None  # None when rebuilt from today's data


def documents(meta: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, str]:
    """results.json and (for a review) trades.csv and trade_lots.csv as a run with this
    metadata writes them."""
    docs = {"results.json": results_text.results_document(meta, entries)}
    if meta["kind"] != "monitor":
        docs["trades.csv"] = results_text.trades_csv(entries)
        docs["trade_lots.csv"] = results_text.trade_lots_csv(entries)
    return docs


NEWER_OUTPUTS = frozenset({"trade_lots.csv"})
"""Outputs that runs recorded before they existed do not have: compared only where recorded."""


def _check_status(run: RunRecord) -> None:
    if run.status == "purged":
        raise BallastError(
            f"run {run.run_id} was purged under retention: its outputs and archived inputs are "
            "gone, so it cannot be replayed ('ballast show' still lists what it recorded)"
        )
    if run.status not in FINISHED:
        raise BallastError(f"run {run.run_id} is {run.status}: it has no outputs to re-create")


def _replayable(run: RunRecord, found: list[scratch.ArchivedFile]) -> None:
    """Refuse, in one line, a run whose recorded input files were purged under retention:
    the custodian's bytes it read are gone."""
    used = {i["file_id"] for i in run.inputs if i["file_id"] is not None}
    gone = [f for f in found if f.file_id in used and f.purged]
    if not gone:
        return
    more = f" (and {len(gone) - 1} more)" if len(gone) > 1 else ""
    raise BallastError(
        f"run {run.run_id} cannot be replayed from the custodian's bytes: its input "
        f"{gone[0].label}, sha256 {gone[0].recorded[:12]}…, was purged under retention{more}"
    )


@dataclass(frozen=True)
class Sharded:
    """How to compute a rerun shard by shard elsewhere (a Dask cluster): ``run(jobs, count,
    run_id)`` returns the entries of ``count`` jobs in job order (or raises ``BallastError``).
    Given by the caller: the cluster's tasks are above this layer."""

    shard_size: int
    run: Callable[[Iterator[rerun_jobs.RerunJob], int, str], list[dict[str, Any]]]


def rebuild(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run: RunRecord,
    *,
    latest: bool = False,
    data: duckdb.DuckDBPyConnection | None = None,
    sharded: Sharded | None = None,
) -> Rebuilt:
    """Recompute the run with its own inputs (or today's data when ``latest``), reading the
    custodian rows from ``data`` (a scratch warehouse) when given, else from ``con``; here, or
    shard by shard as ``sharded`` says."""
    _check_status(run)
    pset = archived_policies(ws, run)
    pinned = None if latest else pins(con, run)
    source = con if data is None else data
    meta = {**run.meta(), "started_at": run.started_at}
    bound = None if pinned is None else pinned.high_water
    if sharded is None:
        entries = rerun_jobs.work(rerun_jobs.prepare(con, source, meta, pset, bound))
    else:
        shards = pset.split(sharded.shard_size)
        jobs = (rerun_jobs.prepare(con, source, meta, part, bound) for part in shards)
        entries = sharded.run(jobs, len(shards), run.run_id)
    return Rebuilt(entries, documents(run.meta(), entries), pinned)


def _key(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    for k in ("portfolio_id", "asset_class"):
        if k in item:
            return str(item[k])
    if {"account_id", "security_id", "side"} <= item.keys():
        return f"{item['account_id']}/{item['security_id']}/{item['side']}"
    return None


def _keyed(items: list[Any]) -> dict[str, Any]:
    keys = [_key(i) for i in items]
    if None in keys or len(set(keys)) != len(keys):
        return {str(i): v for i, v in enumerate(items)}
    return dict(zip(keys, items, strict=True))  # type: ignore[arg-type]


def json_diff(before: Any, after: Any, path: str = "") -> list[str]:
    """Field-by-field differences between two JSON values (lists matched by their ids)."""
    if isinstance(before, dict) and isinstance(after, dict):
        pairs = [(k, before.get(k, ...), after.get(k, ...)) for k in {**before, **after}]
        return [
            line for k, b, a in pairs for line in json_diff(b, a, f"{path}.{k}" if path else str(k))
        ]
    if isinstance(before, list) and isinstance(after, list):
        b, a = _keyed(before), _keyed(after)
        return [
            line
            for k in [*b, *(k for k in a if k not in b)]
            for line in json_diff(b.get(k, ...), a.get(k, ...), f"{path}[{k}]")
        ]
    if before == after:
        return []
    if before is ...:
        return [f"{path}: added"]
    if after is ...:
        return [f"{path}: removed"]
    return [f"{path}: {json.dumps(before)} → {json.dumps(after)}"]


def text_diff(name: str, before: str, after: str) -> list[str]:
    """Changed lines of a text file."""
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        f"{name} (run)",
        f"{name} (rerun)",
        n=0,
        lineterm="",
    )
    return [line for line in lines if not line.startswith(("---", "+++", "@@"))]


@dataclass(frozen=True)
class FileComparison:
    """One output file: the recorded hash, the rebuilt one, and what differs."""

    name: str
    recorded: str | None  # sha256 in run_outputs
    on_disk: str | None  # sha256 of the run folder's file now (None: not there)
    rebuilt: str
    differences: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        reference = self.recorded or self.on_disk
        return reference is not None and reference == self.rebuilt


def _run_folder(ws: Workspace, run: RunRecord) -> Path | None:
    """The run's folder: published, else still under its staging name (a run killed between
    its record and its publish, before the next run's recovery renamed it)."""
    named = [ws.reports / run.as_of.isoformat() / run.run_id]
    if run.report_dir:
        named.append(Path(run.report_dir))
    return next((f for f in [*named, *map(outputs.staging, named)] if f.is_dir()), None)


def _json_lines(original: str, rebuilt: str) -> list[str] | None:
    try:
        return json_diff(json.loads(original), json.loads(rebuilt))
    except ValueError:
        return None


def _differences(name: str, original: str | None, rebuilt: str) -> tuple[str, ...]:
    if original is None:
        return ("the run's file is not in its folder: only its hash can be compared",)
    lines = _json_lines(original, rebuilt) if name.endswith(".json") else None
    if lines is None:  # a CSV, or a results.json edited into something that is not JSON
        lines = text_diff(name, original, rebuilt)
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"… and {len(lines) - MAX_DIFF_LINES} more"]
    return tuple(lines) or ("the bytes differ (no field differs: whitespace or order)",)


def _read(path: Path | None) -> tuple[str | None, str | None]:
    """(text, sha256 of its bytes) of a run folder's file; (None, None) when it is not there."""
    if path is None or not path.is_file():
        return None, None
    data = path.read_bytes()
    return data.decode("utf-8", errors="replace"), hashlib.sha256(data).hexdigest()


def compare(
    ws: Workspace,
    run: RunRecord,
    docs: dict[str, str],
    recorded: dict[str, str] | None = None,
) -> list[FileComparison]:
    """Each rebuilt document against the run's recorded hash (``recorded``, by default its
    ``run_outputs`` rows) and its file on disk."""
    folder = _run_folder(ws, run)
    hashes = run.outputs if recorded is None else recorded
    out = []
    for name, text in docs.items():
        if name in NEWER_OUTPUTS and name not in hashes:
            continue
        original, on_disk = _read(folder / name if folder else None)
        rebuilt = sha256_text(text)
        cmp = FileComparison(name, hashes.get(name), on_disk, rebuilt)
        if not cmp.identical:  # from the run's file to the rebuilt one
            cmp = replace(cmp, differences=_differences(name, original, text))
        elif original is not None and on_disk != rebuilt:  # what an edit did to the file
            cmp = replace(cmp, differences=_differences(name, text, original))
        out.append(cmp)
    return out


@dataclass(frozen=True)
class RerunOutcome:
    """A re-creation and its verdict."""

    run: RunRecord
    mode: str  # pinned (the run's own inputs) | latest (today's data)
    files: list[FileComparison]
    changes: list[InputChange]  # inputs that differ from the run's today
    entries: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    tampered: list[Tamper] = field(default_factory=list)  # edits made after the fact

    @property
    def identical(self) -> bool:
        """The rebuilt outputs hash as the run recorded them."""
        return all(f.identical for f in self.files)

    @property
    def proven(self) -> bool:
        """Identical, and nothing the run rests on was edited after the fact."""
        return self.identical and not self.tampered

    def as_dict(self) -> dict[str, Any]:
        """For the audit trail."""
        return {
            "rerun_of": self.run.run_id,
            "mode": self.mode,
            "identical": self.identical,
            "proven": self.proven,
            "tampered": [t.as_dict() for t in self.tampered],
            "files": {
                f.name: {
                    "identical": f.identical,
                    "recorded": f.recorded,
                    "on_disk": f.on_disk,
                    "rebuilt": f.rebuilt,
                    "differences": list(f.differences),
                }
                for f in self.files
            },
            "inputs_changed": [c.describe() for c in self.changes],
            "notes": self.notes,
        }


def _edited_outputs(files: list[FileComparison]) -> list[Tamper]:
    """The run folder's files whose bytes are no longer the recorded ones; when the rebuild
    matches the record, with what the edit did (``compare``)."""
    out = []
    for f in files:
        if not (f.recorded and f.on_disk and f.recorded != f.on_disk):
            continue
        rows = f.differences if f.identical else ()
        what = f": {rows[0]}" if rows else ""
        line = (
            f"{f.name} in the run's folder was edited after the run "
            f"(sha256 now {f.on_disk[:12]}…, recorded {f.recorded[:12]}…){what}"
        )
        out.append(Tamper("output", line, rows))
    return out


def _notes(run: RunRecord, files: list[FileComparison]) -> list[str]:
    notes = []
    for f in files:
        if f.recorded and not f.on_disk:
            notes.append(f"{f.name} is not in the run's folder: only its hash was compared")
        if not f.recorded:
            notes.append(f"{f.name}: the run recorded no hash; compared with the file on disk")
    now = runs.code_version()
    if run.code_version != now:
        notes.append(f"code version: the run used {run.code_version}, now {now}")
    elif now.endswith(".dirty") and not all(f.identical for f in files):
        notes.append(f"code version {now} is an uncommitted checkout: its code may have changed")
    return notes


def _by_code(found: list[Tamper], recoded: dict[int, str]) -> tuple[list[Tamper], list[str]]:
    """Warehouse findings on files whose warehouse rows are still those recorded at ingest
    (their intact bytes parse differently today: the code changed) become notes."""
    labels = [f"{label}:" for label in recoded.values()]
    edits = [t for t in found if t.where != "warehouse" or not t.line.startswith(tuple(labels))]
    notes = [
        f"{label}: its archived bytes (intact) parse today into rows other than those loaded "
        "at ingest, which the warehouse still holds: the code changed since the run"
        for label in recoded.values()
    ]
    return edits, notes


def rerun(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run_id: str,
    *,
    latest: bool = False,
    sharded: Sharded | None = None,
) -> RerunOutcome:
    """Rebuild a past run from the archived bytes of its custodian files and compare its
    results.json and trades.csv with the originals; name every edit made after the fact. The
    computation runs here, or shard by shard as ``sharded`` says."""
    run = load_run(con, run_id)
    _check_status(run)
    recorded = evidence.run_evidence(con, run_id, run.outputs, run.inputs)
    bound = LATEST if latest else pins(con, run).high_water
    found = scratch.archived_files(con, ws, bound)
    _replayable(run, found)
    with scratch.warehouse(con, ws, bound, found) as built:
        tampered, recoded = _by_code(
            provenance.findings(con, built, bound), scratch.parsed_differently(con, built)
        )
        try:
            rebuilt = rebuild(con, ws, run, latest=latest, data=built.con, sharded=sharded)
        except BallastError as exc:  # e.g. an IPS hash in run_inputs rewritten: say so first
            if recorded.conflicts and not isinstance(exc, Unproven):
                raise Unproven(f"{recorded.conflicts[0]}; so: {exc}") from None
            raise
        notes = provenance.notes(built) + recoded
    tampered += [Tamper("run record", line) for line in recorded.conflicts]
    files = compare(ws, run, rebuilt.documents, recorded.outputs)
    tampered += _edited_outputs(files)
    changes = changed_inputs(con, ws, run_id)
    mode = "latest" if latest else "pinned"
    notes = _notes(run, files) + notes
    return RerunOutcome(run, mode, files, changes, rebuilt.entries, notes, tampered)
