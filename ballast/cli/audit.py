"""Commands over the audit trail: ``audit verify``, ``anchor`` and ``keygen`` (the witness),
``audit retention``, ``audit hold`` and ``release``, ``rerun``, ``show``, ``approve`` and
``report`` (a report with its approval state).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ballast import workspace
from ballast.cli.options import AddressOpt, ExecutorOpt, WorkspaceOpt
from ballast.errors import EXIT_UNPROVEN, BallastError

if TYPE_CHECKING:  # imported inside the commands: 'ballast --help' must not load them
    from ballast.audit import approvals, rerun

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

RunIdArg = Annotated[str, typer.Argument(help="The run's id (see 'ballast runs').")]

audit_app = typer.Typer(
    help="The audit trail: an append-only, hash-chained log in the db.",
    no_args_is_help=True,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


WitnessOpt = Annotated[
    Path | None,
    typer.Option(
        "--witness",
        help="The witness folder to check the chain against (default: witness.path of "
        "ballast.yaml).",
    ),
]
PublicKeyOpt = Annotated[
    Path | None,
    typer.Option("--public-key", help="The witness's public key (default: witness.public_key)."),
]


def _checked(counts: dict[str, int]) -> str:
    parts = [
        ("runs", "runs"),
        ("run table rows", "run table rows"),
        ("files", "files"),
        ("warehouse rows", "warehouse rows"),
        ("archived files", "archived files re-hashed"),
        ("outputs", "outputs re-hashed"),
        ("anchors", "anchors"),
    ]
    return ", ".join(f"{counts[k]:,} {label}" for k, label in parts if counts.get(k))


@audit_app.command("verify")
def verify(
    ws_path: WorkspaceOpt = None, witness: WitnessOpt = None, public_key: PublicKeyOpt = None
) -> None:
    """Check the chain, warehouse rows, archive and outputs (and the witness); name problems.

    Exit 0 when nothing was altered (notes name runs that did not finish), 1 with one line per
    problem."""
    from ballast.audit import verify as proof
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        report = proof.verify(con, ws, witness_folder=witness, public_key=public_key)
    for problem in report.findings.problems:
        err.print(f"audit: {problem}", markup=False)
    for note in report.findings.notes:
        out.print(f"note: {note}", markup=False)
    if not report.intact:
        count = len(report.findings.problems)
        plural = "s" if count > 1 else ""
        err.print(f"audit trail NOT intact: {count} problem{plural}", markup=False)
        raise typer.Exit(1)
    head = report.head
    where = f", head seq {head.seq} sha256 {head.row_hash[:16]}…" if head else ""
    checked = _checked(report.findings.counts)
    out.print(f"audit trail intact: {report.rows} rows{where}", markup=False)
    if checked:
        out.print(f"checked: {checked}", markup=False)
    out.print(report.witness, markup=False)


@audit_app.command("anchor")
def anchor_cmd(ws_path: WorkspaceOpt = None) -> None:
    """Sign the chain's head and write it to the witness (witness: in ballast.yaml)."""
    from ballast.audit import anchoring
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        done, new = anchoring.anchor(con, ws)
    what = "anchored" if new else "already anchored"
    out.print(
        f"{what}: seq {done.seq} sha256 {done.row_hash[:16]}… at {done.at} in {done.path}",
        markup=False,
    )


@audit_app.command("keygen")
def keygen_cmd(
    folder: Annotated[
        Path, typer.Argument(help="A folder outside the workspace, e.g. /etc/ballast.")
    ],
) -> None:
    """Create the witness's Ed25519 key pair (the private key with mode 0600)."""
    from ballast.audit import witness

    private, public, fp = witness.keygen(folder)
    out.print(f"private key: {private} (mode 0600; never inside a workspace)", markup=False)
    out.print(f"public key:  {public} (for whoever runs 'ballast audit verify')", markup=False)
    out.print(f"fingerprint: {fp}", markup=False)


def _rerun_meta(original: rerun.RunRecord, reason: str | None) -> dict[str, Any]:
    from ballast.ops import runs

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


def _only_warehouse(outcome: rerun.RerunOutcome) -> bool:
    """Identical outputs, and only warehouse rows edited: the report still follows from the
    archived bytes."""
    return outcome.identical and all(t.where == "warehouse" for t in outcome.tampered)


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
    for t in outcome.tampered:
        out.print(f"EDITED ({t.where}): {t.line}", markup=False)
        for row in t.rows[1:]:  # the first is in the line
            out.print(f"    {row}", markup=False)
    if outcome.tampered and _only_warehouse(outcome):
        verdict = (
            "identical from the custodian's bytes (the archive is intact), but the warehouse's "
            "rows were edited after ingest (EDITED above; see 'ballast audit verify')"
        )
    elif outcome.tampered:
        verdict = "not proven: what the run rests on was edited after the fact (EDITED above)"
    elif outcome.identical:
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
    executor: ExecutorOpt = None,
    address: AddressOpt = None,
) -> None:
    """Run a past review again from the archived custodian bytes and compare the outputs.

    The computation runs here or, with --executor dask, shard by shard on a Dask cluster.
    Exit 0 when byte-identical, 1 when they differ, 65 when something the run rests on (an
    archived file, a warehouse row, a run record, an output) was edited after the fact."""
    from ballast import config
    from ballast.audit import chain as audit
    from ballast.audit import rerun
    from ballast.reporting import outputs
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    chosen = executor.value if executor else None
    execution = config.execution_for(ws.root, None, chosen, address)
    sharded = None
    if execution.executor == "dask":
        from ballast.flows import rerun_cluster

        run_on = functools.partial(rerun_cluster.on_cluster, execution)
        sharded = rerun.Sharded(execution.shard_size, run_on)
    with db.connect(ws.warehouse) as con:
        original = rerun.load_run(con, run_id)
        meta = _rerun_meta(original, reason)
        audit.record_run_started(con, ws, meta)
        finished = {"rerun_of": run_id, "kind": original.kind, "as_of": meta["as_of"]}
        try:
            with _orchestrated(ws, sharded is not None):
                outcome = rerun.rerun(con, ws, run_id, latest=latest, sharded=sharded)
            folder, hashes = outputs.write_run(ws.reports, meta, outcome.entries, [], html=False)
            finished |= outcome.as_dict() | {
                "status": "completed",
                "ended_at": _now(),
                "outputs": hashes,
                "report_dir": str(folder),
            }
        except BallastError as exc:
            finished |= {"status": "failed", "error": str(exc), "ended_at": _now()}
            raise
        finally:  # completed or failed cleanly: the rerun's end is recorded once
            if "status" in finished:
                audit.append(
                    con,
                    ws,
                    "run_finished",
                    actor=meta["who"],
                    run_id=meta["run_id"],
                    subject=run_id,
                    payload=finished,
                )
        # recorded first, then visible (a kill in between: the next run's recovery publishes)
        outputs.publish(folder)
    _print_outcome(outcome, folder)
    if outcome.tampered:  # the account is above; the failure is one line on stderr
        first, more = outcome.tampered[0], len(outcome.tampered) - 1
        also = f" (and {more} more edit{'s' * (more > 1)}, above)" if more else ""
        said = "not proven:"
        if _only_warehouse(outcome):
            said = "its outputs follow from the archive, but"
        err.print(f"error: run {run_id} {said} {first.line}{also}", markup=False)
        raise typer.Exit(EXIT_UNPROVEN)
    if not outcome.identical:
        raise typer.Exit(1)


@contextlib.contextmanager
def _orchestrated(ws: workspace.Workspace, needed: bool) -> Iterator[None]:
    """A Prefect API for the block when ``needed`` (shards on a Dask cluster are Prefect
    tasks); a rerun computed here needs none."""
    if not needed:
        yield
        return
    from ballast.ops import orchestrator

    orch = orchestrator.launch(orchestrator.prepare(ws.root, False))  # before Prefect
    with orchestrator.connected(orch):
        yield


def _short(sha: str | None) -> str:
    return f"{sha[:16]}…" if sha else ""


def _approval_cell(state: approvals.ApprovalState | None) -> str:
    if state is None:
        return "?"
    if state.flagged:
        return "FLAGGED"
    return {"approved": "approved", "pending": "pending", "not_applicable": "—"}[state.status]


def _sign_off_text(by: str | None, at: dt.datetime | None, note: str | None) -> str:
    """``by NAME at WHEN (note: TEXT)``, on one line whatever the name and note hold."""
    from ballast.errors import printable

    when = f"{at:%Y-%m-%d %H:%M:%S}Z" if at else "?"
    said = f" (note: {printable(note)})" if note else ""
    return f"by {printable(by or '?')} at {when}{said}"


def _approval_lines(states: dict[str, approvals.ApprovalState]) -> list[str]:
    """The approvals part of ``show``: the current sign-off of each portfolio (its note, the
    proposal's SHA-256), the superseded ones, and the inputs changed since the run."""
    lines = []
    for s in states.values():
        pid = s.portfolio_id
        for old in s.superseded:
            lines.append(
                f"{pid}: superseded: approved {_sign_off_text(old.by, old.at, old.note)} "
                f"(seq {old.seq})"
            )
        if s.status == "approved":
            flag = "FLAGGED (inputs changed since), " if s.flagged else ""
            seq = f", seq {s.seq}" if s.seq else ""
            proposal = f" · proposal sha256 {_short(s.proposal_sha256) or '—'}{seq}"
            text = _sign_off_text(s.approved_by, s.approved_at, s.note)
            lines.append(f"{pid}: {flag}approved {text}{proposal}")
        elif s.status == "pending":
            lines.append(f"{pid}: pending")
        if s.status != "not_applicable":
            label = "FLAGGED, approved but input" if s.flagged else "input"
            lines += [f"{pid}: {label} changed since the run: {c}" for c in s.changes]
    return lines


def _reruns(con, run_id: str) -> list[str]:
    from ballast.warehouse import db

    events = db.query(con, "audit/run_events", {"run_id": run_id}).to_dicts()
    lines = []
    for e in events:
        if e["event"] == "run_finished" and e["subject"] == run_id:
            p = json.loads(e["payload"])
            verdict = "identical" if p.get("identical") else p.get("error") or "different"
            if p.get("tampered"):  # edits made after the fact: the run is not proven
                verdict = f"NOT PROVEN: {len(p['tampered'])} edit(s) named by the rerun"
            lines.append(f"{e['run_id']} ({p.get('mode', '?')}, by {e['actor']}): {verdict}")
    return lines


def show(run_id: RunIdArg, ws_path: WorkspaceOpt = None) -> None:
    """Summarise one run: who, when, why, inputs with hashes, portfolios and approvals."""
    from ballast.audit import approvals, rerun
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        run = rerun.load_run(con, run_id)
        portfolios = db.query(con, "audit/run_portfolios", {"run_id": run_id}).to_dicts()
        try:
            states = {s.portfolio_id: s for s in approvals.approval_states(con, ws, run_id)}
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
    supersede: Annotated[
        bool,
        typer.Option(
            "--supersede",
            help="Replace the proposal's current sign-off (both are kept in the audit trail).",
        ),
    ] = False,
) -> None:
    """Record sign-off of one portfolio's proposal in the audit trail.

    A proposal already signed off is refused (exit 2) unless --supersede."""
    from ballast.audit import approvals
    from ballast.errors import printable
    from ballast.ops import runs
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        done = approvals.record_approval(
            con, ws, run_id, portfolio, by=by, note=note, actor=runs.who(), supersede=supersede
        )
    replaces = f", superseding seq {done['supersedes']}" if done["supersedes"] else ""
    out.print(
        f"approved {portfolio} in run {run_id} by {printable(done['by'])}{replaces} "
        f"({done['action']}, {done['trades']} trades; proposal sha256 "
        f"{_short(done['proposal_sha256'])}; audit sha256 {_short(done['row_hash'])})",
        markup=False,
    )
    for change in done["inputs_changed_since_run"]:
        err.print(f"warning: input changed since the run: {change}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``audit verify|anchor|keygen|retention|hold|release``, ``rerun``, ``show``,
    ``approve`` and ``report`` to the ``ballast`` app."""
    app.add_typer(audit_app, name="audit")
    app.command("rerun")(rerun_cmd)
    app.command("show")(show)
    app.command("approve")(approve)
    app.command("report")(report_cmd)


# -- the report with its approval state ------------------------------------------------------

_BEGIN, _END = "<!-- ballast:approval:begin -->", "<!-- ballast:approval:end -->"
_FOOTER = '<footer class="colophon">'


def _approval_context(state: approvals.ApprovalState, now: dt.datetime) -> dict[str, Any]:
    at = f"{state.approved_at:%Y-%m-%d %H:%M:%S}" if state.approved_at else None
    return {
        "status": state.status,
        "approved_by": state.approved_by,
        "approved_at": at,
        "note": state.note,
        "proposal_sha256": state.proposal_sha256,
        "seq": state.seq,
        "superseded": [
            {"by": s.by, "at": f"{s.at:%Y-%m-%d %H:%M:%S}", "note": s.note, "seq": s.seq}
            for s in state.superseded
        ],
        "changes": list(state.changes),
        "flagged": state.flagged,
        "as_of_render": f"{now:%Y-%m-%d %H:%M}",
    }


def approval_section(
    run: dict[str, Any], entry: dict[str, Any], state: approvals.ApprovalState, now: dt.datetime
) -> str:
    """The report's Approval section with the state recorded in the audit trail."""
    from ballast.reporting import html as report

    ctx = report.report_context(
        {"run": run, "portfolio": entry, "approval": _approval_context(state, now)}
    )
    return report.make_environment().get_template("partials/approval.html.j2").render(ctx)


def with_approval(original: str, section: str) -> str:
    """The original report with its Approval section replaced (added before the footer when
    the report predates the section)."""
    if _BEGIN in original and _END in original:
        head, rest = original.split(_BEGIN, 1)
        return head + section.strip() + rest.split(_END, 1)[1]
    if _FOOTER not in original:
        raise BallastError("the report has no approval section and no footer to place one before")
    head, rest = original.split(_FOOTER, 1)
    return head + section.strip() + "\n" + _FOOTER + rest


def _checked_text(path: Path, recorded: str | None, what: str) -> str:
    """A run folder file's text, refused in one line (``Unproven``, exit 65) when it is gone,
    when the run recorded no hash for it, or when its SHA-256 is not the recorded one."""
    import hashlib

    from ballast.errors import Unproven

    if not path.is_file():
        raise Unproven(f"{path}: not found: the run's {what} is gone")
    data = path.read_bytes()
    if recorded is None:
        raise Unproven(f"{path}: the run recorded no hash for its {what}; it cannot be trusted")
    now = hashlib.sha256(data).hexdigest()
    if now != recorded:
        raise Unproven(
            f"{path}: altered since the run (sha256 now {now[:12]}…, recorded {recorded[:12]}…); "
            "nothing was written"
        )
    return data.decode("utf-8", errors="replace")


def _original_report(folder: Path, portfolio: str, recorded: dict[str, str]) -> str:
    name = f"{portfolio}.html"
    path = folder / name
    if not path.is_file():
        raise BallastError(f"{path}: no HTML report of {portfolio} in this run")
    return _checked_text(path, recorded.get(name), "report")


def _has_reports(run_id: str, status: str) -> None:
    if status == "purged":
        raise BallastError(f"run {run_id} was purged under retention: its reports are gone")
    if status not in ("completed", "completed_with_errors"):
        raise BallastError(f"run {run_id} is {status}: it wrote no reports")


def _stored_results(folder: Path, recorded: dict[str, str]) -> dict[str, Any]:
    """The run's results.json, refused with one line unless its SHA-256 is the recorded one
    (the hash in the run's ``run_finished`` audit event, else its ``run_outputs`` row)."""
    from ballast.errors import Unproven

    path = folder / "results.json"
    text = _checked_text(path, recorded.get("results.json"), "results.json")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise Unproven(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("portfolios"), list):
        raise Unproven(f"{path}: no list of portfolios in it")
    return doc


def _entry(folder: Path, doc: dict[str, Any], portfolio: str) -> dict[str, Any]:
    """The portfolio's entry of results.json; one line when it has none."""
    from ballast.errors import Unproven

    found = [p for p in doc["portfolios"] if isinstance(p, dict)]
    entry = next((p for p in found if p.get("portfolio_id") == portfolio), None)
    if entry is None:
        raise Unproven(
            f"{folder / 'results.json'}: no entry for portfolio {portfolio}, which the run "
            "recorded as reviewed"
        )
    return entry


def report_cmd(
    run_id: RunIdArg,
    portfolio: Annotated[
        str | None, typer.Option("--portfolio", "-p", help="The portfolio's id.")
    ] = None,
    index: Annotated[
        bool,
        typer.Option(
            "--index",
            help="Write index.approved.html instead: the run's firm-wide page with an Approval "
            "column and the awaiting list as the audit trail has them now.",
        ),
    ] = False,
    ws_path: WorkspaceOpt = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also write <portfolio>.approved.pdf (WeasyPrint).")
    ] = False,
) -> None:
    """Write <portfolio>.approved.html: the run's report with its current approval state
    (or, with --index, index.approved.html: every portfolio's).

    results.json and the report are checked against the hashes the run recorded first; an
    altered one is refused (exit 65)."""
    from ballast.audit import approvals, evidence
    from ballast.audit import chain as audit
    from ballast.warehouse import db

    if (portfolio is None) == (not index):
        raise BallastError("give one of --portfolio P (one report) or --index (the run's index)")
    if index and pdf:
        raise BallastError("--pdf is for one portfolio's report, not with --index")
    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        summary = audit.run_summary(con, run_id)
        _has_reports(run_id, summary["status"])
        recorded = evidence.recorded_outputs(con, run_id, summary["outputs"])
        folder = ws.reports / str(summary["as_of"]) / run_id
        results_doc = _stored_results(folder, recorded)  # first: every figure below rests on it
        states = {s.portfolio_id: s for s in approvals.approval_states(con, ws, run_id)}
    if portfolio is None:
        run: dict[str, Any] = {"run_id": run_id, "as_of": str(summary["as_of"])}
        run |= {k: summary[k] for k in ("kind", "trigger", "who", "reason")}
        started = summary["started_at"]
        run["started_at"] = f"{started.isoformat()}Z" if started else None
        dest = _write_approved_index(folder, run, results_doc, states, _now())
        pending = sum(1 for s in states.values() if s.status == "pending")
        approved = sum(1 for s in states.values() if s.status == "approved")
        out.print(f"{approved} approved, {pending} pending; wrote {dest}", markup=False)
        return
    if portfolio not in states:
        raise BallastError(f"run {run_id} did not review portfolio {portfolio}")
    entry = _entry(folder, results_doc, portfolio)
    original = _original_report(folder, portfolio, recorded)
    run = {"run_id": run_id, "as_of": str(summary["as_of"]), "kind": summary["kind"]}
    section = approval_section(run, entry, states[portfolio], _now())
    dest = folder / f"{portfolio}.approved.html"
    page = with_approval(original, section)
    dest.write_text(page, encoding="utf-8")
    wrote = str(dest)
    if pdf:
        from ballast.reporting.pdf import html_to_pdf

        printed = dest.with_suffix(".pdf")
        printed.write_bytes(html_to_pdf(page, folder))
        wrote += f" and {printed.name}"
    state = states[portfolio]
    label = "approved, FLAGGED" if state.flagged else state.status.replace("_", " ")
    out.print(f"{portfolio}: {label}; wrote {wrote}", markup=False)


def _sign_off_cell(state: approvals.ApprovalState) -> dict[str, Any]:
    at = f"{state.approved_at:%Y-%m-%d %H:%M}" if state.approved_at else None
    return {"status": state.status, "by": state.approved_by, "at": at, "flagged": state.flagged}


def _write_approved_index(
    folder: Path,
    run: dict[str, Any],
    doc: dict[str, Any],
    states: dict[str, approvals.ApprovalState],
    now: dt.datetime,
) -> Path:
    """index.approved.html: the run's index page from its (hash-checked) results.json, each
    portfolio with the sign-off the audit trail records for it now."""
    from ballast.reporting import html as report

    entries = [p for p in doc["portfolios"] if isinstance(p, dict)]
    rows = [report.index_row(p) for p in entries]
    cells = {pid: _sign_off_cell(s) for pid, s in states.items()}
    page = report.render_index(
        run, report.with_approvals(rows, cells), signed_at=f"{now:%Y-%m-%d %H:%M}"
    )
    dest = folder / "index.approved.html"
    dest.write_text(page, encoding="utf-8")
    return dest


# -- retention and legal holds ---------------------------------------------------------------


def _print_plan(p: Any) -> None:
    out.print(f"retention: records dated before {p.cutoff} are past retention", markup=False)
    for r in p.runs:
        what = f"{r['kind']} as of {r['as_of']}, {r['status']}"
        out.print(f"  run {r['run_id']} ({what})", markup=False)
    for f in p.folders:
        out.print(f"  folder {f}", markup=False)
    for f in p.files:
        out.print(f"  file {f['sha256'][:16]}… {f['name']}", markup=False)
    for h in p.held:
        out.print(f"  kept, under legal hold: {h}", markup=False)
    if p.empty:
        out.print("  nothing to purge", markup=False)


@audit_app.command("retention")
def retention_cmd(
    ws_path: WorkspaceOpt = None,
    purge: Annotated[bool, typer.Option("--purge", help="Delete what is listed.")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who authorises the purge.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in the trail).")] = None,
) -> None:
    """List runs, report folders and archived files past retention; --purge deletes them."""
    from ballast.audit import retention
    from ballast.ops import runs
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    limit = retention.cutoff(retention.load_config(ws.root))
    if purge and not (by and reason):
        raise BallastError("--purge needs --by NAME and --reason TEXT")
    with db.connect(ws.warehouse) as con:
        p = retention.plan(con, ws, limit)
        _print_plan(p)
        if purge and not p.empty:
            digest = retention.purge(con, ws, p, by=by or "", reason=reason or "", actor=runs.who())
            out.print(f"purged; audit sha256 {_short(digest)}", markup=False)


TargetArg = Annotated[str, typer.Argument(help="A run id or an archived file's SHA-256.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]


@audit_app.command("hold")
def hold_cmd(target: TargetArg, reason: ReasonOpt, ws_path: WorkspaceOpt = None) -> None:
    """Put a run or an archived file under legal hold: no purge removes it."""
    from ballast.audit import retention
    from ballast.ops import runs
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        retention.hold(con, ws, target, reason=reason, actor=runs.who())
    out.print(f"{target}: under legal hold", markup=False)


@audit_app.command("release")
def release_cmd(target: TargetArg, reason: ReasonOpt, ws_path: WorkspaceOpt = None) -> None:
    """Release a legal hold."""
    from ballast.audit import retention
    from ballast.ops import runs
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        retention.hold(con, ws, target, reason=reason, actor=runs.who(), release=True)
    out.print(f"{target}: hold released", markup=False)
