"""Process-wide Prefect settings for ballast runs (quiet, offline-friendly, no heartbeat wait)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager


def quiet_prefect(verbose: bool = False) -> None:
    """No telemetry (no network here), log lines on the console only when asked; call before
    importing Prefect. Runs still log at INFO (the Prefect UI and ``logs/ballast.jsonl``
    keep them): without ``verbose`` only the console handler is raised to WARNING."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    logging.getLogger("great_expectations").setLevel(logging.INFO if verbose else logging.WARNING)


@contextmanager
def prefect_runtime() -> Iterator[None]:
    """Run flows without the per-run heartbeat (it adds about a second to every flow run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
