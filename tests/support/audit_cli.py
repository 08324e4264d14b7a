"""The audit commands (``ballast.cli.audit``) on a Typer app of their own, for tests."""

from __future__ import annotations

import typer
from typer.testing import CliRunner, Result

from ballast.cli import audit as cli_audit


def audit_app() -> typer.Typer:
    """A Typer app with the audit commands (a no-op command keeps Typer in multi-command mode)."""
    app = typer.Typer()
    app.command("noop")(lambda: None)
    cli_audit.register(app)
    return app


def cli(*args: str) -> Result:
    """Run one audit command line."""
    return CliRunner().invoke(audit_app(), list(args))
