"""``ballast server start|stop|status``: one Prefect server per user that every command reuses.

``ballast.cli.app`` calls ``register(app)``; the work is in ``ballast.ops.local_server``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)

server_app = typer.Typer(
    help="One Prefect server (API and UI) on 127.0.0.1 for all your ballast commands: "
    "start it once and each command skips starting a temporary server of its own "
    "(10-20 s on two cores).",
    no_args_is_help=True,
)

NOT_RUNNING = 69  # EX_UNAVAILABLE, as when no Prefect API can be had


@server_app.command("start")
def start(
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port on 127.0.0.1 (default: a free one).", show_default=False),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for it to answer.", min=1)
    ] = 120.0,
) -> None:
    """Start the server in the background (or say where the running one is)."""
    from ballast.ops import local_server

    if local_server.find() is None:
        out.print("starting a Prefect server on 127.0.0.1…")
    info, started = local_server.start(port, timeout)
    verb = "started" if started else "already running"
    out.print(f"Prefect server {verb}: API {info.api_url} · UI {info.ui_url} · pid {info.pid}")
    out.print(f"state: {info.home} · stop it with `ballast server stop`")


@server_app.command("stop")
def stop() -> None:
    """Stop the server started by `ballast server start`."""
    from ballast.ops import local_server

    info = local_server.stop()
    if info is None:
        out.print("no ballast Prefect server is running")
        return
    out.print(f"stopped the Prefect server on {info.api_url} (pid {info.pid})")


@server_app.command("status")
def status(
    api_only: Annotated[
        bool,
        typer.Option(
            "--api",
            help="Print only its API URL (e.g. PREFECT_API_URL=$(ballast server status --api)).",
        ),
    ] = False,
) -> None:
    """Say whether the server runs, and where (exit status 69 when it does not)."""
    from ballast.ops import local_server

    info = local_server.find()
    if api_only:
        if info is None:
            raise typer.Exit(NOT_RUNNING)
        out.print(info.api_url)
        return
    if info is None:
        out.print(
            "no ballast Prefect server is running: each command starts a temporary one "
            "(`ballast server start` to keep one)"
        )
        raise typer.Exit(NOT_RUNNING)
    state = "answering" if local_server.healthy(info.api_url) else "NOT answering"
    out.print(
        f"Prefect server {state}: API {info.api_url} · UI {info.ui_url} · pid {info.pid} · "
        f"since {info.started_at} · state {info.home}"
    )
    if state != "answering":
        raise typer.Exit(NOT_RUNNING)


def register(app: typer.Typer) -> None:
    """Add ``server start|stop|status`` to the ``ballast`` app."""
    app.add_typer(server_app, name="server")
