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


ExecutorOpt = Annotated[
    Executor | None,
    typer.Option(
        "--executor",
        help="Where shards are computed (and rendered): local (this machine) or dask (a Dask "
        "cluster: --address, or a local cluster). Default: execution.executor in ballast.yaml, "
        "else local.",
        show_default=False,
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="The Dask scheduler to use, tcp://HOST:PORT (implies --executor dask). Default: "
        "execution.address in ballast.yaml, else a local cluster sized to this machine.",
        show_default=False,
    ),
]
