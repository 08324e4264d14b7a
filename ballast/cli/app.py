"""The ``ballast`` command line (Typer + Rich)."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ballast import workspace
from ballast.cli import progress as cli_progress
from ballast.cli.options import AddressOpt, Executor, ExecutorOpt, WorkspaceOpt
from ballast.errors import BallastError, printable
from ballast.reporting.pdf import PdfChoice

app = typer.Typer(
    name="ballast",
    help="Keep institutional portfolios inside their investment policy: ingest custodian files, "
    "measure drift against each IPS, find band breaches, propose trades, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # one line per message, even in a log file

AsOfOpt = Annotated[str, typer.Option("--as-of", help="Review date, YYYY-MM-DD.")]
PortfolioOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--portfolio",
        "-p",
        help="Only this portfolio (repeatable). Default: all.",
        show_default=False,
    ),
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="Why this run (kept in the audit trail).")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")]
TableOpt = Annotated[
    bool,
    typer.Option(
        "--table",
        help="List every portfolio (a run of more than 50 lists only those that need action).",
    ),
]


def _as_of(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD)", param_hint="--as-of"
        ) from None


def _print_restated(entry: dict[str, Any]) -> None:
    """One line per account and date whose earlier file a newly loaded file supersedes."""
    for r in entry.get("restates", []):
        out.print(
            f"restated: {entry['file']} supersedes {r['file']} (file #{r['file_id']}) "
            f"for {r['kind']} of account {r['account_id']} as of {r['as_of_date']}",
            highlight=False,
        )


def _print_deferred(ingest: dict[str, Any]) -> None:
    """One line per file left in the inbox because it is still being written."""
    for d in ingest.get("deferred", []):
        err.print(
            f"[yellow]still being written:[/] {escape(d['file'])} ({escape(d['reason'])}); "
            "left where it is for the next run",
            markup=True,
            highlight=False,
        )


def _print_refused(ingest: dict[str, Any]) -> None:
    """One line per inbox entry that is not a regular file (a link, folder, FIFO …): never
    read, left where it is, named on every run until someone removes it."""
    for r in ingest.get("refused", []):
        err.print(f"[yellow]not read:[/] {escape(r['reason'])}", markup=True, highlight=False)


def _print_summary(summary: dict[str, Any]) -> None:
    """Files, the run's table (every portfolio of a small run or of ``--table``, else counts
    and the exceptions) and where the reports are; nothing is read back from disk."""
    ingest = summary["ingest"]
    for e in ingest["loaded"]:
        _print_restated(e)
    for q in ingest["quarantined"]:
        err.print(f"[yellow]quarantined[/] {escape(q['reason'])}", markup=True, highlight=False)
    _print_deferred(ingest)
    _print_refused(ingest)
    from ballast.reporting.summary import shown

    rows, left_out = shown(summary)
    monitor = summary["kind"] == "monitor"
    if len(rows) < summary["portfolios"]:
        invalid, breached = len(summary["invalid"]), summary["breached"]
        out.print(
            f"{summary['portfolios']} portfolios: {breached} breached, {invalid} data invalid"
            + ("" if monitor else f", {summary['trades']} trades proposed")
            + "; the exceptions:",
            highlight=False,
        )
    table = summary_table(summary, rows)
    out.print(table)
    if left_out:
        out.print(
            f"… and {left_out} more exceptions: every portfolio is in the index page below "
            "(or run again with --table)",
            highlight=False,
        )
    for r in rows:
        for msg in r["errors"]:  # account numbers already masked, as in the reports
            err.print(f"[red]{r['portfolio_id']}[/]: {escape(msg)}", markup=True, highlight=False)
    loaded, dup = len(ingest["loaded"]), len(ingest["duplicates"])
    refused = len(ingest.get("refused", []))
    out.print(
        f"files: {loaded} loaded, {len(ingest['quarantined'])} quarantined, {dup} already seen"
        + (f", {refused} not read" if refused else ""),
        highlight=False,
    )
    # the run id on a line of its own: never broken across lines (show, rerun, approve take it)
    out.print(f"run {summary['run_id']} ({summary['status']})", highlight=False)
    out.print(f"reports: {summary['report_dir']}", highlight=False, soft_wrap=True)
    if monitor and summary["breached"]:
        out.print(
            "the monitor proposes no trades: review the breached portfolios "
            f"(`ballast review --as-of {summary['as_of']}` proposes them)",
            highlight=False,
        )


def _print_pdfs(summary: dict[str, Any], choice: PdfChoice) -> None:
    """How many PDF copies the run wrote, and where (``--pdf action|all``)."""
    if choice is PdfChoice.NONE:
        return
    folder = Path(summary["report_dir"])
    count = sum(1 for _ in folder.glob("*.pdf"))
    which = "every portfolio" if choice is PdfChoice.ALL else "portfolios that need action"
    if count:
        out.print(f"PDFs: {count} written ({which}) in {folder}", highlight=False)
    else:
        out.print(f"PDFs: none written (--pdf {choice.value}: no portfolio called for one)")


def _total(row: dict[str, Any], currency: bool) -> str:
    """A portfolio's total value with thousands separators (Decimal: never a float)."""
    if not row["total_value"]:
        return "—"
    amount = f"{Decimal(str(row['total_value'])):,.2f}"
    return f"{row['base_currency'] or ''} {amount}" if currency else amount


def summary_table(summary: dict[str, Any], rows: list[dict[str, Any]]) -> Table:
    """The run's table. Portfolio ids and amounts never wrap or get cut (80 columns fit a run
    in one currency: it goes in the title); a monitor's breach is to be reviewed, and it has
    no trades column (it proposes none)."""
    monitor = summary["kind"] == "monitor"
    currencies = {r["base_currency"] for r in rows if r["total_value"]}
    single = len(currencies) == 1
    title = f"{summary['kind'].replace('_', ' ')} as of {summary['as_of']}"
    table = Table(title=title + (f", amounts in {next(iter(currencies))}" if single else ""))
    widest = max((len(r["portfolio_id"]) for r in rows), default=9)
    table.add_column("portfolio", no_wrap=True, min_width=min(widest, 40))
    table.add_column("status")
    table.add_column("total value", justify="right", no_wrap=True)
    table.add_column("breached", no_wrap=True)
    table.add_column("action", no_wrap=True)
    if not monitor:
        table.add_column("trades", justify="right", no_wrap=True)
    for r in rows:
        action = ("review" if r["breached"] else "none") if monitor else r["action"]
        cells = [
            r["portfolio_id"],
            "ok" if r["ok"] else "[red]data invalid[/]",
            _total(r, currency=not single),
            "yes" if r["breached"] else "no",
            action,
        ]
        table.add_row(*cells, *([] if monitor else [str(r["trades"])]))
    return table


def _execution(
    ws: workspace.Workspace, executor: Executor | None, address: str | None
) -> dict[str, Any]:
    """The flow's executor arguments, checked against ``ballast.yaml`` before anything runs
    (a bad address is one line, exit 2)."""
    from ballast import config

    chosen = executor.value if executor else None
    config.execution_for(ws.root, None, chosen, address)
    return {"executor": chosen, "address": address}


def _check_portfolios(ws: workspace.Workspace, portfolios: list[str] | None) -> None:
    """Refuse unknown portfolio ids before starting Prefect (one line, exit 2)."""
    if portfolios:
        listed = workspace.entries(ws.ips)  # hidden names left out, nothing followed
        names = [*listed.files, *(p for p, _ in listed.others)]
        known = {p.stem for p in names if p.suffix in (".yaml", ".yml")}
        unknown = sorted(set(portfolios) - known)
        if unknown:
            shown = ", ".join(printable(u) for u in unknown)
            raise BallastError(f"{ws.ips}: no IPS for portfolio(s) {shown}")


def _take_run_lock(ws: workspace.Workspace) -> None:
    """Wait for another run on this workspace before starting Prefect, so a timeout is one
    clean line (the flow takes the same lock again: it is re-entrant within a process)."""
    from ballast.audit import recovery
    from ballast.warehouse import db

    timeout = db.lock_timeout_for(ws.warehouse)
    if timeout > 1:
        with out.status(f"waiting for another ballast run on {ws.root} (up to {timeout:.0f} s)…"):
            recovery.acquire(ws, timeout)
    else:
        recovery.acquire(ws, timeout)


def _validation_ready(ws: workspace.Workspace, orch: Any) -> bool:
    """When the inbox has files to validate, start Great Expectations in its own process
    (``ballast.ingest.validator``: about 3 s of imports and 230 MiB this process then never
    holds), at once, so that it starts while a temporary Prefect server boots. Whether files
    are waiting (and GX was started)."""
    try:
        waiting = workspace.entries(ws.inbox).files
    except OSError:  # the ingest stage says what is wrong with the inbox
        return False
    if waiting:
        from ballast.ingest import validator

        validator.start()
    return bool(waiting)


def _policies_ahead(
    ws: workspace.Workspace,
    orch: Any,
    portfolios: list[str] | None,
    options: dict[str, Any],
) -> Any:
    """The IPS files parsed on a background thread while the temporary Prefect server boots
    (``ballast.portfolio.read_ahead``), when the shards are computed in this process (not on a
    Dask cluster, not by shard workers). Files waiting for GX do not stop it: GX starts in a
    process of its own."""
    from ballast import config
    from ballast.cluster.shard_pool import started_ahead
    from ballast.portfolio.read_ahead import ReadAhead

    pooled = started_ahead()

    try:
        execution = config.execution_for(
            ws.root, options.get("shard_size"), options.get("executor"), options.get("address")
        )
    except BallastError:  # the flow says what is wrong with the settings
        local = False
    else:
        local = execution.executor == "local"
    # shard workers started ahead parse the files themselves (``_workers_ahead``)
    return ReadAhead(ws, portfolios, enabled=orch.server is not None and local and not pooled)


def _workers_ahead(
    ws: workspace.Workspace, portfolios: list[str] | None, options: dict[str, Any]
) -> Any:
    """A review's shard workers (``ballast.cluster.shard_pool``) started before this process
    imports Prefect, so they import on the other cores meanwhile and then parse the IPS files
    not in the workspace's cache yet, shard by shard as the review will cut them, while this
    process imports Prefect, ingests and validates; only for a local review of enough IPS
    files (the flow adopts them, or they stop when the command ends)."""
    from ballast import config
    from ballast.cluster import shard_pool
    from ballast.portfolio.policy_set import find_policies

    try:
        execution = config.execution_for(
            ws.root, options.get("shard_size"), options.get("executor"), options.get("address")
        )
    except BallastError:  # the flow says what is wrong with the settings
        return contextlib.nullcontext()
    if execution.executor != "local":
        return contextlib.nullcontext()
    try:
        found = find_policies(ws, portfolios)
    except (BallastError, OSError):  # the flow says what is wrong with the IPS folder
        return contextlib.nullcontext()
    workers = shard_pool.workers_for(len(found.ids), execution)
    if not workers:
        return contextlib.nullcontext()
    shards = shard_pool.balanced(found, execution.shard_size, workers)
    return shard_pool.ahead(workers, execution.report_nice, root=ws.root, shards=shards)


def _run_flow(
    kind: str,
    ws: workspace.Workspace,
    as_of: str,
    portfolios: list[str] | None,
    reason: str | None,
    verbose: bool,
    trigger: str = "manual",
    **options: Any,
) -> dict[str, Any]:
    from ballast.ops import memory, orchestrator

    _check_portfolios(ws, portfolios)
    _take_run_lock(ws)
    orch = orchestrator.launch(orchestrator.prepare(ws.root, verbose))  # before Prefect
    with (
        cli_progress.shown(err, "starting Prefect", enabled=not verbose),
        _workers_ahead(ws, portfolios, options),
    ):
        from ballast.flows.review import monitor, quarterly_review

        flow = monitor if kind == "monitor" else quarterly_review
        _validation_ready(ws, orch)
        ahead = _policies_ahead(ws, orch, portfolios, options)
        with ahead, orchestrator.connected(orch, verbose):
            ahead.stop()
            with memory.heap_frozen():
                return flow(
                    workspace=str(ws.root),
                    as_of=as_of,
                    portfolios=portfolios,
                    reason=reason,
                    trigger=trigger,
                    **options,
                )


@app.command()
def init(path: Annotated[Path, typer.Argument(help="Folder to create.")]) -> None:
    """Create an empty workspace."""
    ws = workspace.init(path)
    out.print(f"workspace ready: {ws.root}", highlight=False)
    out.print(
        "put custodian files in inbox/, the security master in reference/securities.csv "
        "and one IPS per portfolio in ips/"
    )


DemoFolderOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Folder to build the demo in (default: ./demo-workspace, not $BALLAST_HOME). "
        "A demo workspace already there is deleted and built again (said first); any other "
        "non-empty folder is refused.",
        show_default=False,
    ),
]


@app.command()
def demo(ws_path: DemoFolderOpt = None, verbose: VerboseOpt = False) -> None:
    """Build a workspace from the bundled examples and run a quarterly review on it.

    Builds ./demo-workspace (or --workspace DIR); running it again replaces that demo
    workspace, its runs, reports and approvals included, and says so."""
    from ballast.cli import demo as demo_mod

    root = (ws_path or demo_mod.DEFAULT_FOLDER).expanduser().resolve()
    if demo_mod.previous(root):
        err.print(
            f"replacing the previous demo workspace {root}: its runs, reports and approvals "
            "are deleted (--workspace DIR builds the demo elsewhere)",
            markup=False,
            highlight=False,
        )
    ws = demo_mod.build(root)
    out.print(f"demo workspace: {ws.root}", highlight=False)
    summary = _run_flow("quarterly_review", ws, demo_mod.DEMO_AS_OF, None, "ballast demo", verbose)
    _print_summary(summary)
    out.print(
        "\nlakeside-pension is data invalid on purpose: its custodian file has a bad "
        "quantity and was quarantined, while the other portfolios were reviewed."
    )
    out.print(
        f"open {Path(summary['report_dir']) / 'index.html'} in a browser",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def ingest(ws_path: WorkspaceOpt = None, verbose: VerboseOpt = False) -> None:
    """Load every new file in inbox/ (validated, archived, or quarantined with reasons)."""
    from ballast.ops import orchestrator

    ws = workspace.resolve(ws_path).check()
    _take_run_lock(ws)
    orch = orchestrator.launch(orchestrator.prepare(ws.root, verbose))  # before Prefect
    with cli_progress.shown(err, "starting Prefect", enabled=not verbose):
        from ballast.flows.ingest import ingest_inbox

        _validation_ready(ws, orch)
        with orchestrator.connected(orch, verbose):
            report = ingest_inbox(workspace=str(ws.root))
    for e in report["loaded"]:
        out.print(f"loaded {e['file']} ({e['kind']}, {e['rows']} rows)", highlight=False)
        _print_restated(e)
    for e in report["duplicates"]:
        seen = "quarantined" if e.get("status") == "quarantined" else "loaded"
        out.print(
            f"already {seen}: {e['file']} (same bytes as file #{e['file_id']})", highlight=False
        )
    for e in report["quarantined"]:
        err.print(f"quarantined {e['reason']}", highlight=False)
    _print_deferred(report)
    _print_refused(report)
    if report["quarantined"]:
        raise typer.Exit(1)


@app.command()
def review(
    as_of: AsOfOpt,
    portfolio: PortfolioOpt = None,
    ws_path: WorkspaceOpt = None,
    reason: ReasonOpt = None,
    pdf: Annotated[
        PdfChoice,
        typer.Option(
            "--pdf",
            help="PDF copies of the reports: none, action (portfolios to "
            "rebalance or with invalid data) or all. About 0.2 s a page.",
        ),
    ] = PdfChoice.NONE,
    table: TableOpt = False,
    executor: ExecutorOpt = None,
    address: AddressOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Ingest, validate, compute drift, breaches and trades, and render reports."""
    ws = workspace.resolve(ws_path).check()
    run_on = _execution(ws, executor, address)
    summary = _run_flow(
        "quarterly_review",
        ws,
        _as_of(as_of),
        portfolio,
        reason,
        verbose,
        pdf=pdf.value,
        all_rows=table,
        **run_on,
    )
    _print_summary(summary)
    _print_pdfs(summary, pdf)
    if summary["invalid"]:
        raise typer.Exit(1)


@app.command()
def monitor(
    as_of: AsOfOpt,
    portfolio: PortfolioOpt = None,
    ws_path: WorkspaceOpt = None,
    reason: ReasonOpt = None,
    table: TableOpt = False,
    executor: ExecutorOpt = None,
    address: AddressOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """The daily drift check: breaches only, no trades."""
    ws = workspace.resolve(ws_path).check()
    run_on = _execution(ws, executor, address)
    summary = _run_flow(
        "monitor", ws, _as_of(as_of), portfolio, reason, verbose, all_rows=table, **run_on
    )
    _print_summary(summary)
    if summary["invalid"]:
        raise typer.Exit(1)


RUN_ID_WIDTH = 23  # 20261204T151054Z-841b3c: ``ballast.ops.runs.new_run_id``
KIND_SHOWN = {"quarterly_review": "review"}  # as the commands are named


def _rerun_status(finished: dict[str, Any] | None) -> str:
    """A rerun's outcome in a word: identical, different, not proven, failed, unfinished."""
    if finished is None:
        return "unfinished"
    if finished.get("status") != "completed":
        return str(finished.get("status") or "failed")
    if not finished.get("proven", True) or finished.get("tampered"):
        return "not proven"
    return "identical" if finished.get("identical") else "different"


def _reruns(con: Any) -> list[dict[str, Any]]:
    """Reruns as ``runs`` lists them. A rerun is no row of the runs table: its ``run_started``
    and ``run_finished`` audit events (payloads with ``rerun_of``) are its record."""
    import json

    from ballast.audit import chain

    started: dict[str, dict[str, Any]] = {}
    finished: dict[str, dict[str, Any]] = {}
    for row in chain.rows(con):
        if row["event"] not in ("run_started", "run_finished") or not row["run_id"]:
            continue
        try:
            payload = json.loads(row["payload"])
        except ValueError:  # an edited row: `ballast audit verify` names it
            continue
        if isinstance(payload, dict) and payload.get("rerun_of"):
            into = started if row["event"] == "run_started" else finished
            into[row["run_id"]] = payload | {"actor": row["actor"]}
    found = []
    for run_id, p in started.items():
        why = f"rerun of {p['rerun_of']}" + (f": {p['reason']}" if p.get("reason") else "")
        found.append(
            {
                "run_id": run_id,
                "as_of": p.get("as_of"),
                "kind": p.get("kind"),
                "trigger": p.get("trigger") or "rerun",
                "who": p.get("who") or p["actor"],
                "status": _rerun_status(finished.get(run_id)),
                "reason": why,
                "started_at": p.get("started_at"),
            }
        )
    return found


def _started_key(value: Any) -> str:
    """Runs (timestamps) and reruns (ISO text with a Z) in one order."""
    return str(value or "").replace(" ", "T").removesuffix("Z")


def runs_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Past runs and reruns, newest first, every run id whole (``show``, ``rerun`` and
    ``approve`` take them): the id and date columns never wrap, the reason folds."""
    table = Table(
        title=title,
        caption="a rerun's id names its outputs folder; show, rerun and approve take the "
        "run it re-created"
        if any(r["trigger"] == "rerun" for r in rows)
        else None,
    )
    table.add_column("run id", no_wrap=True, min_width=RUN_ID_WIDTH)
    table.add_column("as of", no_wrap=True, min_width=10)
    table.add_column("kind", no_wrap=True)
    table.add_column("trigger", no_wrap=True)
    table.add_column("who")
    table.add_column("status")  # "completed with errors" wraps at its spaces
    table.add_column("reason", overflow="fold", ratio=1)  # 120 columns: a rerun id fits whole
    for r in sorted(rows, key=lambda r: (_started_key(r["started_at"]), r["run_id"]), reverse=True):
        table.add_row(
            r["run_id"],
            str(r["as_of"]),
            KIND_SHOWN.get(r["kind"], r["kind"]),
            r["trigger"],
            r["who"],
            str(r["status"]).replace("_", " "),
            r["reason"] or "",
        )
    return table


@app.command()
def runs(ws_path: WorkspaceOpt = None) -> None:
    """List past runs and reruns, newest first (id, as-of, kind, trigger, who, status, reason).
    Run ids are shown whole: `show`, `rerun` and `approve` take them."""
    from ballast.audit import records
    from ballast.warehouse import db

    ws = workspace.resolve(ws_path).check()
    with db.connect(ws.warehouse) as con:
        found = records.list_runs(con).to_dicts() + _reruns(con)
    out.print(runs_table(found, f"runs in {ws.root}"))


EXTENSIONS = (
    "ballast.cli.simulate",
    "ballast.cli.audit",
    "ballast.cli.serve",
    "ballast.cli.server",
    "ballast.cli.orders",
)
_EXTENSION_FAILURES: list[BaseException] = []  # raised by main(), through its handler


def _register_extensions() -> None:
    """Commands that live in their own modules (simulate, audit, serve, server) add themselves.
    One that fails to load is reported by ``main()`` as any other failure, never a traceback."""
    import importlib

    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
            module.register(app)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                _EXTENSION_FAILURES.append(exc)
        except Exception as exc:
            _EXTENSION_FAILURES.append(exc)


_register_extensions()


def _fail(line: str, code: int) -> NoReturn:
    """Print ``error: <line>`` as one line on stderr (no markup: ``[`` is kept) and exit."""
    import contextlib

    with contextlib.suppress(OSError):  # stderr itself unwritable (closed, full disk)
        err.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def _pipe_closed(console: Any) -> NoReturn:
    """Rich's answer to a closed output pipe, with ballast's exit status (Rich's own is 1,
    which here means a review with invalid data): quiet from now on, exit 141."""
    from ballast.ops import failures

    console.quiet = True
    failures.quiet_stdout()
    sys.exit(failures.EXIT_PIPE)


def entry() -> None:
    """The ``ballast`` console script: ``main``, then out of the process without the
    interpreter's teardown (``ballast.cli.quick_exit``)."""
    from ballast.cli import quick_exit

    try:
        main()
    except SystemExit as exc:
        quick_exit.leave(exc.code)
    quick_exit.leave(0)


def main() -> None:
    """Entry point of every command: a failure is one line on stderr with its exit status
    (docs/user-guide.md, "Exit status"), never a traceback; ``ballast.ops.failures`` says which.

    0 ok; 1 completed with invalid portfolios or quarantined files; 2 usage error (Typer's own,
    or a ``BallastError``); 69 no Prefect API; 70 unexpected error (traceback in a log file);
    74 the workspace cannot be written; 130 interrupted; 141 the output pipe was closed.
    """
    import logging

    from rich.console import Console as RichConsole

    # a log handler that cannot write (a full disk) drops the record instead of printing a
    # traceback; the command then fails on its own writes, with one line
    logging.raiseExceptions = False
    RichConsole.on_broken_pipe = _pipe_closed  # type: ignore[method-assign,assignment]
    try:
        if _EXTENSION_FAILURES:
            raise _EXTENSION_FAILURES[0]
        app()  # standalone: usage errors exit 2, typer.Exit codes pass through
    except SystemExit as exc:
        from ballast.ops import failures

        if exc.code == 130 and failures.interrupted(exc):  # Typer turned Ctrl+C into exit 130
            failure = failures.describe(KeyboardInterrupt(), sys.argv)
            _fail(failure.line, failure.exit_code)
        raise
    except BaseException as exc:
        from ballast.ops import failures

        if failures.pipe_closed(exc):
            failures.quiet_stdout()
            sys.exit(failures.EXIT_PIPE)
        failure = failures.describe(exc, sys.argv)
        _fail(failure.line, failure.exit_code)
