"""Commands over the audit trail: ``audit verify``, ``rerun``, ``show`` and ``approve``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ballast import audit, outputs, rerun, runs, warehouse, workspace
from ballast.errors import BallastError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $BALLAST_HOME, else ./workspace).",
        show_default=False,
    ),
]
RunIdArg = Annotated[str, typer.Argument(help="The run's id (see 'ballast runs').")]

audit_app = typer.Typer(
    help="The audit trail: an append-only, hash-chained log in the warehouse.",
    no_args_is_help=True,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@audit_app.command("verify")
def verify(ws_path: WorkspaceOpt = None) -> None:
    """Check that the audit trail is complete and unaltered; name each problem."""
    ws = workspace.resolve(ws_path).check()
    with warehouse.connect(ws.warehouse) as con:
        problems = audit.verify(con, ws)
        count = len(audit.rows(con))
    for p in problems:
        err.print(f"audit: {p}", markup=False)
    if problems:
        raise typer.Exit(1)
    head = audit.read_head(ws)
    where = f", head seq {head.seq} sha256 {head.row_hash[:16]}…" if head else ""
    out.print(f"audit trail intact: {count} rows{where}", markup=False)


def _rerun_meta(original: rerun.RunRecord, reason: str | None) -> dict[str, Any]:
    return {
        "run_id": runs.new_run_id(),
        "as_of": original.as_of.isoformat(),
        "kind": original.kind,
        "trigger": "rerun",
        "who": runs.who(),
        "reason": reason,
        "code_version": runs.code_version(),
        "started_at": _now().isoformat(timespec="seconds") + "Z",
        "rerun_of": original.run_id,
    }


def _print_outcome(outcome: rerun.RerunOutcome, folder: Path) -> None:
    run = outcome.run
    source = "today's data" if outcome.mode == "latest" else "its own archived inputs"
    out.print(f"rerun of {run.run_id} ({run.kind} as of {run.as_of}) from {source}", markup=False)
    for f in outcome.files:
        if f.identical:
            out.print(f"  {f.name}: identical (sha256 {f.rebuilt[:16]}…)", markup=False)
            continue
        was = f.recorded or f.on_disk or "unknown"
        out.print(
            f"  {f.name}: DIFFERENT (run sha256 {was[:16]}…, rerun {f.rebuilt[:16]}…)",
            markup=False,
        )
        for line in f.differences:
            out.print(f"    {line}", markup=False)
    if outcome.changes:
        out.print("inputs changed since the run:", markup=False)
        for c in outcome.changes:
            out.print(f"  {c.describe()}", markup=False)
    for note in outcome.notes:
        out.print(f"note: {note}", markup=False)
    if outcome.identical:
        verdict = "identical: byte for byte the run's outputs, apart from run id and trigger"
    elif outcome.changes:
        verdict = "different: the inputs above changed since the run"
    else:
        verdict = "different, with the same inputs: the code changed (see the notes)"
    out.print(verdict, markup=False)
    out.print(f"rerun outputs: {folder}", markup=False)


def rerun_cmd(
    run_id: RunIdArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why this rerun (kept in the audit trail).")
    ] = None,
    ws_path: WorkspaceOpt = None,
    latest: Annotated[
        bool,
        typer.Option("--latest", help="Use today's data (restated files) instead of the run's."),
    ] = False,
) -> None:
    """Run a past review again from its archived inputs and compare the outputs."""
    ws = workspace.resolve(ws_path).check()
    with warehouse.connect(ws.warehouse) as con:
        original = rerun.load_run(con, run_id)
        meta = _rerun_meta(original, reason)
        audit.record_run_started(con, ws, meta)
        finished = {"rerun_of": run_id, "kind": original.kind, "as_of": meta["as_of"]}
        try:
            outcome = rerun.rerun(con, ws, run_id, latest=latest)
            folder, hashes = outputs.write_run(ws.reports, meta, outcome.entries, [], html=False)
        except BallastError as exc:
            finished |= {"status": "failed", "error": str(exc), "ended_at": _now()}
            audit.append(
                con,
                ws,
                "run_finished",
                actor=meta["who"],
                run_id=meta["run_id"],
                subject=run_id,
                payload=finished,
            )
            raise
        finished |= outcome.as_dict() | {
            "status": "completed",
            "ended_at": _now(),
            "outputs": hashes,
            "report_dir": str(folder),
        }
        audit.append(
            con,
            ws,
            "run_finished",
            actor=meta["who"],
            run_id=meta["run_id"],
            subject=run_id,
            payload=finished,
        )
    _print_outcome(outcome, folder)
    if not outcome.identical:
        raise typer.Exit(1)


def _short(sha: str | None) -> str:
    return f"{sha[:16]}…" if sha else ""


def _approval_cell(state: audit.ApprovalState | None) -> str:
    if state is None:
        return "?"
    if state.flagged:
        return "FLAGGED"
    return {"approved": "approved", "pending": "pending", "not_applicable": "—"}[state.status]


def _approval_lines(states: dict[str, audit.ApprovalState]) -> list[str]:
    lines = []
    for s in states.values():
        if s.status == "approved":
            when = f"{s.approved_at:%Y-%m-%d %H:%M}Z" if s.approved_at else ""
            note = f" (note: {s.note})" if s.note else ""
            lines.append(f"{s.portfolio_id}: approved by {s.approved_by} at {when}{note}")
        elif s.status == "pending":
            lines.append(f"{s.portfolio_id}: pending")
        if s.status != "not_applicable":
            label = "FLAGGED, approved but input" if s.flagged else "input"
            lines += [f"{s.portfolio_id}: {label} changed since the run: {c}" for c in s.changes]
    return lines


def _reruns(con, run_id: str) -> list[str]:
    events = warehouse.query(con, "audit/run_events", {"run_id": run_id}).to_dicts()
    lines = []
    for e in events:
        if e["event"] == "run_finished" and e["subject"] == run_id:
            p = json.loads(e["payload"])
            verdict = "identical" if p.get("identical") else p.get("error") or "different"
            lines.append(f"{e['run_id']} ({p.get('mode', '?')}, by {e['actor']}): {verdict}")
    return lines


def show(run_id: RunIdArg, ws_path: WorkspaceOpt = None) -> None:
    """Summarise one run: who, when, why, inputs with hashes, portfolios and approvals."""
    ws = workspace.resolve(ws_path).check()
    with warehouse.connect(ws.warehouse) as con:
        run = rerun.load_run(con, run_id)
        portfolios = warehouse.query(con, "audit/run_portfolios", {"run_id": run_id}).to_dicts()
        try:
            states = {s.portfolio_id: s for s in audit.approval_states(con, ws, run_id)}
            trouble = None
        except BallastError as exc:
            states, trouble = {}, str(exc)
        reruns = _reruns(con, run_id)
    out.print(f"run {run.run_id}: {run.kind} as of {run.as_of}", markup=False)
    out.print(
        f"  trigger {run.trigger} · who {run.who} · reason {run.reason or '—'} · "
        f"code {run.code_version}",
        markup=False,
    )
    ended = f"{run.ended_at:%Y-%m-%d %H:%M:%S}Z" if run.ended_at else "—"
    out.print(
        f"  started {run.started_at:%Y-%m-%d %H:%M:%S}Z · ended {ended} · status {run.status}",
        markup=False,
    )
    if run.report_dir:
        out.print(f"  reports: {run.report_dir}", markup=False)
    inputs = Table(title="inputs", title_justify="left")
    for col in ("role", "name", "sha256", "file"):
        inputs.add_column(col)
    for i in run.inputs:
        file_id = "" if i["file_id"] is None else f"#{i['file_id']}"
        inputs.add_row(i["role"], i["name"], _short(i["sha256"]), file_id)
    out.print(inputs)
    table = Table(title="portfolios", title_justify="left")
    for col in ("portfolio", "status", "breached", "action", "trades", "approval"):
        table.add_column(col, justify="right" if col == "trades" else "left")
    for p in portfolios:
        state = states.get(p["portfolio_id"])
        table.add_row(
            p["portfolio_id"],
            p["status"],
            "yes" if p["breached"] else "no",
            p["action"],
            str(p["trades"]),
            _approval_cell(state),
        )
    out.print(table)
    for name, sha in run.outputs.items():
        out.print(f"  output {name}: sha256 {_short(sha)}", markup=False)
    lines = _approval_lines(states)
    if lines:
        out.print("approvals:", markup=False)
    for line in lines:
        out.print(f"  {line}", markup=False)
    if trouble:
        out.print(f"  approvals unavailable: {trouble}", markup=False)
    if reruns:
        out.print("reruns:", markup=False)
    for line in reruns:
        out.print(f"  {line}", markup=False)


def approve(
    run_id: RunIdArg,
    portfolio: Annotated[str, typer.Option("--portfolio", "-p", help="The portfolio's id.")],
    by: Annotated[str, typer.Option("--by", help="Who signs off the proposal.")],
    note: Annotated[str | None, typer.Option("--note", help="A note kept with it.")] = None,
    ws_path: WorkspaceOpt = None,
) -> None:
    """Record sign-off of one portfolio's proposal in the audit trail."""
    ws = workspace.resolve(ws_path).check()
    with warehouse.connect(ws.warehouse) as con:
        done = audit.record_approval(con, ws, run_id, portfolio, by=by, note=note, actor=runs.who())
    out.print(
        f"approved {portfolio} in run {run_id} by {done['by']} "
        f"({done['action']}, {done['trades']} trades; audit sha256 {_short(done['row_hash'])})",
        markup=False,
    )
    for change in done["inputs_changed_since_run"]:
        err.print(f"warning: input changed since the run: {change}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``audit verify``, ``rerun``, ``show`` and ``approve`` to the ``ballast`` app."""
    app.add_typer(audit_app, name="audit")
    app.command("rerun")(rerun_cmd)
    app.command("show")(show)
    app.command("approve")(approve)
