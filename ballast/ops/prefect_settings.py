"""Process-wide Prefect settings for ballast runs (quiet, offline-friendly, no heartbeat wait,
one line per console record)."""

from __future__ import annotations

import copy
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ballast.errors import BallastError

# Loggers whose records the console leaves out unless --verbose (logs/ballast.jsonl and the
# Prefect UI keep Prefect's flow and task records; a failure is ballast's own one line).
QUIET_LOGGERS = ("prefect", "uvicorn", "fastapi", "httpx", "httpcore")
STD_NAMES = ("<stderr>", "<stdout>")
_BREAKS = re.compile(r"\s*\n\s*")


def quiet_prefect(verbose: bool = False) -> None:
    """No telemetry (no network here), log lines on the console only when asked; call before
    importing Prefect. Runs still log at INFO (the Prefect UI and ``logs/ballast.jsonl``
    keep them): without ``verbose`` only the console handler is raised to WARNING."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    logging.getLogger("great_expectations").setLevel(logging.INFO if verbose else logging.WARNING)


class _OneLine(logging.Formatter):
    """Formats a record as one line: no traceback or stack (with ``with_error``, the error's
    own message instead), line breaks folded into spaces."""

    def __init__(self, inner: logging.Formatter | None, with_error: bool = False) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.with_error = with_error

    def format(self, record: logging.LogRecord) -> str:
        flat = copy.copy(record)  # the other handlers (the run log) still get the traceback
        error = record.exc_info[1] if self.with_error and record.exc_info else None
        flat.exc_info, flat.exc_text, flat.stack_info = None, None, None
        line = self.inner.format(flat)
        if error is not None:
            line += f": {error}" if isinstance(error, BallastError) else f": {error!r}"
        return _BREAKS.sub(" ", line).strip()


def one_line_formatter(**options: Any) -> logging.Formatter:
    """Prefect's console formatter (``options`` as its logging.yml gives them), one line per
    record, an error's message in place of its traceback (``one_line_logging``)."""
    from prefect.logging.formatters import PrefectFormatter

    return _OneLine(PrefectFormatter(**options), with_error=True)


def one_line_logging(folder: Path) -> None:
    """Make Prefect's console print one line per record, in this process and in the flow-run
    processes it starts (``ballast serve``): a copy of Prefect's logging.yml whose console
    formatter is ``one_line_formatter``, written to ``folder`` and named by
    ``$PREFECT_LOGGING_SETTINGS_PATH`` (a path already set is left alone). Call before
    importing Prefect."""
    import importlib.util

    import yaml

    if os.environ.get("PREFECT_LOGGING_SETTINGS_PATH"):
        return
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return
    default = Path(next(iter(spec.submodule_search_locations))) / "logging" / "logging.yml"
    config = yaml.safe_load(default.read_text(encoding="utf-8"))
    config["formatters"]["standard"]["()"] = f"{__name__}.one_line_formatter"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prefect-logging.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(path)


class _NotPrefect(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        quiet = any(name == q or name.startswith(q + ".") for q in QUIET_LOGGERS)
        return not quiet or record.levelno >= logging.CRITICAL


def one_line_console() -> None:
    """Every handler that writes to the terminal (Prefect's console handlers) prints one line
    per record and leaves Prefect's own records out; call once Prefect is imported."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if getattr(handler, "_ballast_one_line", False):
                continue
            stream = getattr(handler, "stream", None)
            if not isinstance(handler, logging.StreamHandler) or stream is None:
                continue
            terminal = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
            if stream not in terminal and getattr(stream, "name", None) not in STD_NAMES:
                continue
            handler.setFormatter(_OneLine(handler.formatter))
            handler.addFilter(_NotPrefect())
            handler._ballast_one_line = True  # type: ignore[attr-defined]


@contextmanager
def prefect_runtime(verbose: bool = False) -> Iterator[None]:
    """Run flows without the per-run heartbeat (it adds about a second to every flow run);
    unless ``verbose``, the console shows one line per record and none of Prefect's own."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if not verbose:
        one_line_console()
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
