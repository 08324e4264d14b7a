"""Command-line options shared by every ``ballast`` command module."""

from __future__ import annotations

from enum import StrEnum
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


class Executor(StrEnum):
    """Where a review's shards run (``execution.executor`` in ballast.yaml)."""

    LOCAL = "local"
    DASK = "dask"
