"""The run log: every log line of a run carries its ballast run id, and is kept as JSON lines.

While a run is bound (``bound(workspace, run_id)``, the whole body of ``run_review``), each log
record of the flow and task loggers (``prefect.flow_runs``, ``prefect.task_runs``) and of
ballast's own (``ballast.*``):

- gets the attributes ``run_id`` and ``stage`` (the stage last announced through
  ``ballast.ops.progress``), for any handler or formatter to use;
- has its text prefixed ``[<run id>] ``, so the line says which run it belongs to in the
  console, in ``ballast serve``'s output and in the Prefect UI;
- is appended to ``<workspace>/logs/ballast.jsonl`` (INFO and above) as one JSON object:
  ``ts`` (UTC), ``level``, ``run_id``, ``stage``, ``logger``, ``message`` (without the
  prefix), then any numbers the line was logged with (``extra={"seconds": 0.2, "rows": 9}``),
  Prefect's ``flow_run_id``/``task_run_id``/``task_run_name`` and, for a failure, ``error``.

Records are tagged by a log-record factory that looks at a context variable, so the tag
follows the run into the threads Prefect runs tasks in; other loggers and other times are
left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast.ops import progress

LOG_FILE = Path("logs") / "ballast.jsonl"
SCOPES = ("prefect.flow_runs", "prefect.task_runs", "ballast")
PREFECT_IDS = ("flow_run_id", "task_run_id", "task_run_name")
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@dataclass
class _Run:
    """The run being logged; shared (not copied) by the threads of the run."""

    run_id: str
    stage: str | None = None

    def prefix(self) -> str:
        return f"[{self.run_id}] "


_CURRENT: ContextVar[_Run | None] = ContextVar("ballast_run", default=None)
_INSTALL = threading.Lock()
_installed = False


def current_run_id() -> str | None:
    """The ballast run id of the run being logged in this context, if any."""
    run = _CURRENT.get()
    return run.run_id if run else None


@contextmanager
def about(stage: str) -> Iterator[None]:
    """Records logged in the block carry ``stage`` (a summary line of a stage that ran
    interleaved with another, such as compute between the shards' rendering)."""
    run = _CURRENT.get()
    if run is None:
        yield
        return
    was, run.stage = run.stage, stage
    try:
        yield
    finally:
        run.stage = was


def _in_scope(name: str) -> bool:
    return any(name == s or name.startswith(s + ".") for s in SCOPES)


def _install_factory() -> None:
    """Tag records made while a run is bound (installed once per process)."""
    global _installed
    with _INSTALL:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            run = _CURRENT.get()
            if run is not None and _in_scope(record.name):
                record.run_id, record.stage = run.run_id, run.stage
                record.msg = f"{run.prefix()}{record.msg}"
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def event(record: logging.LogRecord) -> dict[str, Any]:
    """A tagged record as the JSON object written to the run log."""
    prefix = f"[{record.run_id}] "  # type: ignore[attr-defined]
    out: dict[str, Any] = {
        "ts": dt.datetime.fromtimestamp(record.created, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": record.levelname,
        "run_id": record.run_id,  # type: ignore[attr-defined]
        "stage": getattr(record, "stage", None),
        "logger": record.name,
        "message": record.getMessage().removeprefix(prefix),
    }
    for key, value in vars(record).items():
        if key in _STANDARD or key in out:
            continue
        if key in PREFECT_IDS and value is not None:
            out[key] = str(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
    if record.exc_info and record.exc_info[1] is not None:
        err = record.exc_info[1]
        out["error"] = f"{type(err).__name__}: {err}"
    return out


class JsonLinesHandler(logging.Handler):
    """Appends the tagged records of one run to a JSON-lines file (others are ignored)."""

    def __init__(self, path: Path, run_id: str, level: int = logging.INFO) -> None:
        super().__init__(level)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.run_id = path, run_id
        self._file = path.open("a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "run_id", None) != self.run_id:
            return
        try:
            self._file.write(json.dumps(event(record), default=str, ensure_ascii=False) + "\n")
            self._file.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._file.close()
        super().close()


class _StageTracker:
    """A ``progress.Listener`` keeping the run's current stage for the records."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def stage(self, name: str, total: int | None) -> None:
        self._run.stage = name

    def advance(self, n: int) -> None:
        pass


@contextmanager
def bound(workspace: str | Path, run_id: str) -> Iterator[Path]:
    """Tag the block's log records with ``run_id`` and append them to the workspace's run log;
    yields the log file's path."""
    _install_factory()
    run = _Run(run_id)
    handler = JsonLinesHandler(Path(workspace) / LOG_FILE, run_id)
    ballast_logger = logging.getLogger("ballast")
    level = ballast_logger.level
    if ballast_logger.getEffectiveLevel() > logging.INFO:  # its INFO lines reach the run log
        ballast_logger.setLevel(logging.INFO)  # (handlers decide what the console shows)
    root = logging.getLogger()
    root.addHandler(handler)
    token = _CURRENT.set(run)
    try:
        with progress.listening(_StageTracker(run)):
            yield handler.path
    finally:
        _CURRENT.reset(token)
        root.removeHandler(handler)
        handler.close()
        ballast_logger.setLevel(level)
