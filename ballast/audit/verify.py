"""``ballast audit verify``: everything a report rests on, checked against the audit trail.

1. the chain and ``audit/head`` (``chain.check``), and the chain against the witness's signed
   anchors when one is configured or given (``anchoring``);
2. every row of ``runs`` against the events that set it, and the run tables against the digests
   ``run_finished`` kept (``verify_runs``);
3. every ledger row and the warehouse rows loaded from it against the digests its file event
   kept, the ledger and the trail against each other, and every archived file re-hashed
   (``verify_files``);
4. every output a finished run recorded re-hashed in its folder (``verify_outputs``).

Problems mean something was changed, added or removed outside ballast; notes mean nothing was
(a run that did not finish, an append interrupted before its head moved).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ballast.audit import anchoring, chain, trail, verify_files, verify_outputs, verify_runs
from ballast.audit.findings import Findings
from ballast.errors import BallastError
from ballast.workspace import Workspace


@dataclass(frozen=True)
class Report:
    """What ``verify`` found, and how much it checked."""

    findings: Findings
    rows: int
    head: chain.Head | None
    witness: str  # how far the chain is witnessed, or that it is not

    @property
    def intact(self) -> bool:
        return not self.findings.problems


def verify(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    *,
    witness_folder: Path | None = None,
    public_key: Path | None = None,
) -> Report:
    """Check the chain, the witness, the runs, the files and the outputs (module docstring)."""
    log = chain.rows(con)
    found = Findings()
    for p in chain.check(log, ws):
        (found.note if p.is_note else found.problem)(str(p))
    details = chain.StoredDetails(con, log)  # read and hashed once, for both uses below
    for p in chain.detail_problems(con, log, details):
        found.problem(str(p))
    witnessed, line = anchoring.check_configured(log, ws, witness_folder, public_key)
    found.extend(witnessed)
    told = trail.read(log, chain.expanded(con, log, details))
    runs, unfinished = verify_runs.check(con, told)
    found.extend(runs)
    found.extend(verify_files.check(con, ws, told, unfinished))
    found.extend(verify_outputs.check(ws, told))
    head = None
    with contextlib.suppress(BallastError):
        head = chain.read_head(ws)
    return Report(found, len(log), head, line)
