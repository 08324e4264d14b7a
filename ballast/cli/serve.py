"""``ballast serve`` (the scheduled deployments) and ``ballast schedule`` (their dates for a year).

``ballast.cli.app`` calls ``register(app)``. Prefect is imported only inside ``serve``, and the
configuration (pydantic, YAML) only when a command runs: registering the commands stays cheap.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ballast import calendar, workspace
from ballast.cli.options import WorkspaceOpt
from ballast.errors import BallastError

if TYPE_CHECKING:
    from ballast.config import ScheduleConfig

out = Console()


SERVER_START_TIMEOUT = 90.0


def _healthy(api_url: str) -> bool:
    """Whether a Prefect API answers its health check at ``api_url``."""
    import urllib.request  # with http.client, about 40 ms: only when serving

    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@contextmanager
def loopback_server(port: int) -> Iterator[str]:
    """A Prefect server (API and UI) on 127.0.0.1:``port``: the one already there, else one
    started as a child process for as long as the block lasts. Yields its API URL.

    Serving needs a real server: a temporary (ephemeral) one does not run Prefect's scheduler,
    so the scheduled deployments would never fire. Its state is the user's (the one
    ``ballast server`` keeps), never an inherited ``PREFECT_HOME``.
    """
    api = f"http://127.0.0.1:{port}/api"
    if _healthy(api):
        yield api
        return
    from ballast.ops import local_server, temporary_server

    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env["PREFECT_HOME"] = str(local_server.state_dir() / "prefect")  # the user's, not inherited
    env.pop("PREFECT_API_URL", None)
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while not _healthy(api):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = " ".join(log.read().split()[-30:])
                    raise BallastError(
                        f"could not start a Prefect server on 127.0.0.1:{port} (port in use? "
                        f"choose another with --port, or set PREFECT_API_URL): {tail}"
                    )
                time.sleep(0.5)
            yield api
        finally:
            temporary_server.end(proc, grace=20)


@contextmanager
def _api(port: int) -> Iterator[str]:
    """``$PREFECT_API_URL`` when set, else the running ``ballast server``, else a loopback
    server for as long as serving lasts; exported for the flow runs."""
    from ballast.ops import local_server

    if api := os.environ.get("PREFECT_API_URL"):
        yield api
        return
    if (info := local_server.find()) is not None and local_server.healthy(info.api_url):
        os.environ["PREFECT_API_URL"] = info.api_url
        yield info.api_url
        return
    if not _healthy(f"http://127.0.0.1:{port}/api"):
        out.print(f"starting a Prefect server on 127.0.0.1:{port}…")
    with loopback_server(port) as api:
        os.environ["PREFECT_API_URL"] = api  # the runner's flow-run processes inherit it
        yield api


def _config_for(ws_path: Path | None) -> ScheduleConfig:
    """The schedule of the given workspace; defaults when none is given and none is found."""
    from ballast import config as ballast_config

    ws = workspace.resolve(ws_path)
    if ws_path is not None:
        ws.check()
    elif not ws.root.is_dir():
        return ballast_config.ScheduleConfig()
    return ballast_config.load(ws.root)


def _fmt(when: dt.datetime, tz: dt.tzinfo) -> str:
    return f"{when.astimezone(tz):%a %Y-%m-%d %H:%M %Z}"


def deployment_table(config: ScheduleConfig, now: dt.datetime) -> Table:
    """The three deployments with their next run, computed from the NYSE calendar."""
    tz = config.tz
    n = config.review_business_days_after_quarter_end
    review_at, review_as_of = calendar.next_review_run(now, n, config.review_time, tz)
    monitor_at = calendar.next_monitor_run(now, config.monitor_time)
    paused = "paused (schedule.enabled: false)"
    table = Table(title="deployments")
    table.add_column("deployment", no_wrap=True)
    table.add_column("runs")
    table.add_column("next run")
    table.add_column("as of", no_wrap=True)
    table.add_row(
        "quarterly-review/scheduled",
        f"NYSE session {n} after quarter end",
        _fmt(review_at, tz) if config.enabled else paused,
        review_as_of.isoformat() if config.enabled else "",
    )
    table.add_row(
        "daily-monitor/scheduled",
        f"every NYSE session, {config.monitor_after_close_minutes} min after close",
        _fmt(monitor_at, tz) if config.enabled else paused,
        monitor_at.date().isoformat() if config.enabled else "",
    )
    table.add_row("quarterly-review/adhoc", "on demand: as_of, portfolios, reason", "—", "—")
    return table


def _check_year(year: int) -> None:
    if not calendar.FIRST_DAY.year <= year <= calendar.LAST_DAY.year - 1:
        raise BallastError(
            f"--year {year}: ballast knows the NYSE calendar for "
            f"{calendar.FIRST_DAY.year}-{calendar.LAST_DAY.year - 1}"
        )


def review_table(year: int, config: ScheduleConfig) -> Table:
    """Quarterly reviews that run in ``year``."""
    n = config.review_business_days_after_quarter_end
    table = Table(title=f"quarterly reviews run in {year} (NYSE session {n} after quarter end)")
    for col in ("run date", "time", "as of"):
        table.add_column(col)
    for run, as_of in calendar.review_days(dt.date(year, 1, 1), dt.date(year, 12, 31), n):
        table.add_row(
            f"{run:%a %Y-%m-%d}", f"{config.review_time:%H:%M} {config.timezone}", str(as_of)
        )
    return table


def monitor_table(year: int, config: ScheduleConfig) -> Table:
    """Monitor days of ``year`` by month, with the weekday holidays and early closes."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    days = calendar.monitor_days(start, end)
    by_month: dict[int, list[dt.date]] = defaultdict(list)
    for d in days:
        by_month[d.month].append(d)
    closed: dict[int, list[dt.date]] = defaultdict(list)
    for d in calendar.holidays(start, end):
        closed[d.month].append(d)
    table = Table(
        title=f"daily monitor in {year}: {len(days)} NYSE sessions, "
        f"{config.monitor_time:%H:%M} New York",
        caption="* early close (13:00 ET): the monitor still runs at its usual time, after it",
    )
    for col in ("month", "sessions", "days", "closed (weekdays)"):
        table.add_column(col, justify="right" if col == "sessions" else "left")
    for month in range(1, 13):
        run = " ".join(
            f"{d.day}{'*' if calendar.is_early_close(d) else ''}" for d in by_month[month]
        )
        table.add_row(
            f"{dt.date(year, month, 1):%b}",
            str(len(by_month[month])),
            run,
            ", ".join(f"{d:%b %d}" for d in closed[month]),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``schedule`` to the ``ballast`` command."""

    @app.command()
    def serve(
        ws_path: WorkspaceOpt = None,
        port: Annotated[
            int,
            typer.Option(
                "--port",
                help="Port of the local Prefect server (UI) used when PREFECT_API_URL is not "
                "set and no `ballast server` runs: the one running there, else one ballast "
                "starts and stops.",
            ),
        ] = 4200,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="Debug logs from Prefect.")
        ] = False,
    ) -> None:
        """Serve the scheduled flows (quarterly review, daily monitor) and the ad hoc review."""
        from ballast import config as ballast_config
        from ballast.ops.prefect_settings import one_line_logging, quiet_prefect

        ws = workspace.resolve(ws_path).check()
        config = ballast_config.load(ws.root)
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "DEBUG" if verbose else "INFO")
        quiet_prefect(verbose)
        if not verbose:  # a failed run is one line here, its traceback in the Prefect UI
            one_line_logging(ws.root / ".ballast")
        out.print(f"workspace: {ws.root}", highlight=False)
        out.print(deployment_table(config, dt.datetime.now(dt.UTC)))
        with _api(port) as api:
            out.print(f"Prefect API: {api} (UI: {api.removesuffix('/api')})", highlight=False)
            out.print("serving until interrupted (Ctrl+C)…")
            from prefect.settings import PREFECT_API_URL, temporary_settings

            from ballast.flows.deployments import serve_all

            with temporary_settings(updates={PREFECT_API_URL: api}):
                serve_all(str(ws.root), config)

    @app.command()
    def schedule(
        year: Annotated[
            int | None, typer.Option("--year", help="Calendar year (default: this year).")
        ] = None,
        ws_path: WorkspaceOpt = None,
    ) -> None:
        """Print the year's monitor days and quarterly review dates (NYSE calendar)."""
        year = year or dt.date.today().year
        _check_year(year)
        config = _config_for(ws_path)
        out.print(review_table(year, config))
        out.print(monitor_table(year, config))
