"""Command-line options shared by every ``ballast`` command module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $BALLAST_HOME, else ./workspace).",
        show_default=False,
    ),
]
