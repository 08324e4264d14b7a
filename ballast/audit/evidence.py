"""The hashes the audit trail recorded for a run's files, beside what the tables say now.

The tables (``file_ledger``, ``run_inputs``, ``run_outputs``) can be edited with plain SQL; a
row of the hash chain cannot be without ``ballast audit verify`` naming it. So a hash is taken
from the chain where it holds one (``file_loaded``/``file_quarantined`` for an ingested file,
the run's ``run_finished`` event for its IPS versions, input files and outputs), and a table
row that disagrees with the chain is itself evidence of an edit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ballast.audit import chain
from ballast.warehouse import db


def ingested(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """File id → the SHA-256 its ``file_loaded``/``file_quarantined`` event recorded."""
    found: dict[int, str] = {}
    for file_id, sha in db.query(con, "audit/rerun/ingested_hashes").rows():
        if file_id is not None and sha:
            found.setdefault(int(file_id), sha)
    return found


def purged(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The SHA-256 of every archived file a retention purge removed."""
    return {r[0] for r in db.query(con, "audit/rerun/purged_files").rows() if r[0]}


def _finished(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """The run's own ``run_finished`` payload (the first that lists outputs), if any."""
    for (payload,) in db.query(con, "audit/rerun/run_finished", {"run_id": run_id}).rows():
        data = json.loads(payload)
        if isinstance(data, dict):
            data = chain.expand(con, data)
        if isinstance(data, dict) and data.get("outputs"):
            return data
    return None


def recorded_outputs(
    con: duckdb.DuckDBPyConnection, run_id: str, outputs: dict[str, str]
) -> dict[str, str]:
    """Each output's recorded sha256: the ``run_finished`` event's, else ``outputs`` (the
    run's ``run_outputs`` rows)."""
    finished = _finished(con, run_id)
    if finished is None:
        return dict(outputs)
    return {str(k): str(v) for k, v in finished["outputs"].items()}


@dataclass(frozen=True)
class RunEvidence:
    """A run's recorded hashes, the chain's where it has them, and where the tables differ."""

    outputs: dict[str, str]  # output file name → sha256
    conflicts: list[str] = field(default_factory=list)  # one line per disagreeing table row


def _conflicts(table: str, run_id: str, chain: dict[str, str], rows: dict[str, str]) -> list[str]:
    out = []
    for name in sorted(chain.keys() | rows.keys()):
        want, got = chain.get(name), rows.get(name)
        if want == got:
            continue
        says = f"says sha256 {got[:12]}…" if got else "has no row"
        was = f"sha256 {want[:12]}…" if want else "nothing"
        out.append(
            f"{table} of run {run_id}: {name} {says}; the audit trail recorded {was} "
            "when the run finished (the table was edited)"
        )
    return out


def _label(i: dict[str, Any]) -> str:
    """How an input is named in a message: ``ips/x.yaml``, ``models/m.yaml`` or a file."""
    if i.get("role") == "ips":
        return f"ips/{i['name']}"
    if i.get("role") == "model":
        return f"models/{i['name']}"
    return f"{i['name']} (file #{i['file_id']})"


def run_evidence(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    outputs: dict[str, str],
    inputs: list[dict[str, Any]],
) -> RunEvidence:
    """The run's output hashes, checked with its ``run_outputs`` (``outputs``) and
    ``run_inputs`` (``inputs``) rows against its ``run_finished`` event."""
    finished = _finished(con, run_id)
    if finished is None:
        return RunEvidence(dict(outputs))
    chain_outputs = recorded_outputs(con, run_id, outputs)
    chain_inputs = {f"ips/{k}": str(v) for k, v in (finished.get("ips") or {}).items()}
    chain_inputs |= {_label(i): str(i["sha256"]) for i in finished.get("inputs", [])}
    rows = {_label(i): str(i["sha256"]) for i in inputs}
    found = _conflicts("run_outputs", run_id, chain_outputs, outputs)
    found += _conflicts("run_inputs", run_id, chain_inputs, rows)
    return RunEvidence(chain_outputs, found)
