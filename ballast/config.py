"""The workspace's settings: ``<workspace>/ballast.yaml`` (optional), one typed model per section.

The ``retention:`` and ``witness:`` sections are read by ``ballast.audit.retention`` and
``ballast.audit.witness`` through ``section`` here (docs/audit.md).

```yaml
schedule:
  timezone: America/New_York          # zone of review_time (and of the times ballast prints)
  monitor_after_close_minutes: 30     # the monitor runs this long after the 16:00 NYSE close
  review_business_days_after_quarter_end: 3   # the review runs on the Nth session after it (1-15)
  review_time: "07:00"                # wall-clock time of the review run, in `timezone`
  enabled: true                       # false: deployments are created with paused schedules
  wait_for_files_minutes: 120         # scheduled review: wait this long for missing positions
  poll_seconds: 60                    # ... looking again this often
warehouse:
  lock_timeout_seconds: 60            # wait for another run's lock ($BALLAST_LOCK_TIMEOUT)
  review_memory_limit: 64MiB          # DuckDB's memory while a review reads snapshots and
                                      # records results (null: DuckDB's default, 80 % of RAM)
notify:
  webhook_url: https://hooks.example.com/ballast   # optional: POST the run summary as JSON
  timeout_seconds: 5
retries:
  attempts: 3                         # retries of a task after a transient failure (0: none)
  delay_seconds: 2                    # first wait; doubled at each retry (2, 4, 8 s)
ingest:
  stable_seconds: 0                   # leave inbox files modified less than this long ago
execution:
  shard_size: 2500                    # portfolios computed, written and released together: a
                                      # review's memory is set by this, not by the run's size
  executor: local                     # local: shards on this machine; dask: on a Dask cluster
  address: tcp://10.0.0.5:8786        # dask: the scheduler to use (unset: a LocalCluster sized
                                      # to this machine)
  connect_timeout_seconds: 30         # dask: wait this long for the scheduler to answer
  local_workers: 2                    # local, 1,000+ portfolios: worker processes reviewing
                                      # shards (unset: one per core; 1: all in one process)
  report_nice: 5                      # local: those workers run this much nicer, so the
                                      # process preparing their next shard comes first
prefect:
  api_url: http://127.0.0.1:4200/api  # a running Prefect server to use ($PREFECT_API_URL wins);
                                      # unset: the `ballast server` if one runs, else each
                                      # command starts a temporary one
  local_server: true                  # use the running `ballast server` (false: never)
  startup_timeout_seconds: 120        # wait this long for Prefect's API to answer
                                      # ($BALLAST_PREFECT_STARTUP_TIMEOUT wins)
  home: .ballast/prefect              # Prefect's state (its SQLite database), relative to the
                                      # workspace; e.g. ~/.cache/ballast/prefect for one per user
```

Every key is optional; a missing file or section means these defaults. The monitor's time is
always exchange time (New York), because it follows the NYSE close; on early-close days
(13:00) it still runs at the regular time, which is after the early close. Quote times in YAML:
an unquoted ``7:00`` is read by YAML as the number 420 (minutes), which is accepted too.

The ``prefect:`` section is read by ``ballast.ops.orchestrator`` before Prefect is imported:
ballast sets ``PREFECT_HOME`` to ``home`` for its commands (an inherited ``PREFECT_HOME`` is
replaced; Prefect profiles are still read from where they were), so each workspace has its own
Prefect database instead of the shared ``~/.prefect/prefect.db``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ballast.calendar import REGULAR_CLOSE
from ballast.errors import BallastError

FILE_NAME = "ballast.yaml"
# The review runs within three weeks of the quarter end, so always in the quarter's first month
# (tests/test_calendar.py checks this for every year of the calendar): its cron fires only then.
MAX_REVIEW_DAYS = 15
REVIEW_MONTHS = "1,4,7,10"


class ScheduleConfig(BaseModel):
    """When the scheduled deployments run (defaults match issue 6)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "America/New_York"
    monitor_after_close_minutes: int = Field(30, ge=0, le=420)
    review_business_days_after_quarter_end: int = Field(3, ge=1, le=MAX_REVIEW_DAYS)
    review_time: dt.time = dt.time(7, 0)
    enabled: bool = True
    wait_for_files_minutes: float = Field(120, ge=0, le=24 * 60)
    poll_seconds: float = Field(60, gt=0, le=3600)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"{value!r} is not an IANA time zone (e.g. America/New_York)"
            raise ValueError(msg) from None
        return value

    @field_validator("review_time", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):  # YAML read 7:00 as 420
            if not 0 <= value < 24 * 60:
                raise ValueError(f'{value} is not a time of day (write it as "HH:MM")')
            return dt.time(value // 60, value % 60)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def monitor_time(self) -> dt.time:
        """When the monitor fires, New York time: the regular close plus the offset."""
        close = dt.datetime.combine(dt.date(2000, 1, 1), REGULAR_CLOSE)
        return (close + dt.timedelta(minutes=self.monitor_after_close_minutes)).time()

    def monitor_cron(self) -> str:
        """Weekdays at ``monitor_time`` (to be read in America/New_York)."""
        t = self.monitor_time
        return f"{t.minute} {t.hour} * * 1-5"

    def review_cron(self) -> str:
        """Weekdays of Jan, Apr, Jul and Oct at ``review_time`` (to be read in ``timezone``)."""
        return f"{self.review_time.minute} {self.review_time.hour} * {REVIEW_MONTHS} 1-5"


_MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)")


class WarehouseConfig(BaseModel):
    """The ``warehouse:`` section: how long a run waits for another run's DuckDB lock, and
    DuckDB's memory limit while a review reads its shards' snapshots and records its results
    (None: DuckDB's default, 80 % of the machine's memory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lock_timeout_seconds: float = Field(60, ge=0, le=24 * 3600)
    review_memory_limit: str | None = "64MiB"

    @field_validator("review_memory_limit")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY_SIZE.fullmatch(value):
            raise ValueError(f"{value!r} is not a size such as 64MiB or 1GB")
        return value


class NotifyConfig(BaseModel):
    """The ``notify:`` section: where the end-of-run summary goes besides the log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: str | None = None
    timeout_seconds: float = Field(5, gt=0, le=60)

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class ChecksConfig(BaseModel):
    """The ``checks:`` section: thresholds of the reconciliation checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale_price_sessions: int = Field(5, ge=0, le=260)  # NYSE sessions a price may age


class RetryConfig(BaseModel):
    """The ``retries:`` section: Prefect task retries after a transient failure (a warehouse
    locked by another process, an inbox file replaced while it was read); never for others."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(3, ge=0, le=10)
    delay_seconds: float = Field(2, ge=0, le=600)  # doubled at each further retry


class IngestConfig(BaseModel):
    """The ``ingest:`` section: when an inbox file counts as completely written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # a file modified less than this long ago is left in the inbox for the next run (0: off)
    stable_seconds: float = Field(0, ge=0, le=24 * 3600)


SCHEDULER_ADDRESS = re.compile(r"(?:(?:tcp|tls)://)?(?:[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]):\d{1,5}")
"""A Dask scheduler's address: ``tcp://HOST:PORT`` (or ``tls://``, or bare ``HOST:PORT``)."""


class ExecutionConfig(BaseModel):
    """The ``execution:`` section: how a review is cut into shards and where they run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # portfolios per shard: computed, written to the run folder and released together. Each
    # shard costs a fixed ~0.35 s of Polars calls however small it is; 2,500 keeps that under
    # a tenth of a 10,000-portfolio review for 60-100 MiB more memory than 1,000.
    shard_size: int = Field(2500, ge=1, le=1_000_000)
    # local: shards computed and rendered on this machine; dask: on a Dask cluster
    executor: Literal["local", "dask"] = "local"
    # the Dask scheduler (tcp://HOST:PORT); unset with dask: a LocalCluster sized to the machine
    address: str | None = Field(None, min_length=1, max_length=500)
    connect_timeout_seconds: float = Field(30, gt=0, le=3600)
    # processes a local review of many portfolios runs its shards in (each holds one shard's
    # frames and reports at a time); unset: one per core
    local_workers: int | None = Field(None, ge=1, le=256)
    # added to the niceness of a local review's worker processes (shards, reports), so the
    # flow's process, which prepares their next jobs, comes first; 0: none
    report_nice: int = Field(5, ge=0, le=19)

    @field_validator("address")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is not None and not SCHEDULER_ADDRESS.fullmatch(value):
            raise ValueError(f"{value!r} is not a scheduler address such as tcp://HOST:8786")
        return value


class PrefectConfig(BaseModel):
    """The ``prefect:`` section: which Prefect API the commands use, how long they wait for it,
    and where a temporary server keeps its state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str | None = None  # a running server; None: `ballast server`, else a temporary one
    local_server: bool = True  # use the user's running `ballast server` when api_url is unset
    startup_timeout_seconds: float = Field(120, ge=1, le=3600)
    home: str = ".ballast/prefect"  # relative to the workspace; ``~`` is expanded

    @field_validator("api_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. http://127.0.0.1:4200/api)")
        return value.rstrip("/") if value else value

    @field_validator("home")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a folder")
        return value

    def home_path(self, workspace: Path) -> Path:
        """``home`` as an absolute path (relative paths are inside ``workspace``)."""
        return (Path(workspace) / Path(self.home).expanduser()).resolve()


M = TypeVar("M", bound=BaseModel)


def _read(workspace: Path) -> tuple[Path, dict[str, Any]]:
    """``ballast.yaml`` as a mapping (empty when the file is absent)."""
    path = Path(workspace) / FILE_NAME
    if not path.exists():
        return path, {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        raise BallastError(f"{path}: cannot read it") from None
    except yaml.YAMLError:
        raise BallastError(f"{path}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise BallastError(f"{path}: must be a YAML mapping")
    return path, raw


def section(workspace: Path, name: str, model: type[M]) -> M:
    """One section of ``ballast.yaml`` as ``model`` (defaults when absent); a mistake is one
    line naming the file and the field."""
    path, raw = _read(workspace)
    section = raw.get(name) or {}
    if not isinstance(section, dict):
        raise BallastError(f"{path}: field {name}: must be a mapping")
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join([name, *(str(p) for p in first["loc"])])
        msg = first["msg"].removeprefix("Value error, ")
        raise BallastError(f"{path}: field {loc}: {msg}") from None


def load(workspace: Path) -> ScheduleConfig:
    """The workspace's schedule settings; defaults when ``ballast.yaml`` is absent."""
    return section(workspace, "schedule", ScheduleConfig)


LOCK_TIMEOUT_ENV = "BALLAST_LOCK_TIMEOUT"


def load_warehouse(workspace: Path) -> WarehouseConfig:
    """The ``warehouse:`` settings; ``$BALLAST_LOCK_TIMEOUT`` (seconds) overrides the file."""
    found = section(workspace, "warehouse", WarehouseConfig)
    env = os.environ.get(LOCK_TIMEOUT_ENV)
    if env:
        try:
            return WarehouseConfig(**(found.model_dump() | {"lock_timeout_seconds": float(env)}))
        except (ValueError, ValidationError):
            raise BallastError(f"{LOCK_TIMEOUT_ENV}={env!r}: not a number of seconds") from None
    return found


def load_notify(workspace: Path) -> NotifyConfig:
    """The ``notify:`` settings (no webhook by default)."""
    return section(workspace, "notify", NotifyConfig)


def load_checks(workspace: Path) -> ChecksConfig:
    """The ``checks:`` settings (a price older than 5 NYSE sessions is stale by default)."""
    return section(workspace, "checks", ChecksConfig)


def load_retries(workspace: Path) -> RetryConfig:
    """The ``retries:`` settings (3 retries, 2 s doubling, by default)."""
    return section(workspace, "retries", RetryConfig)


STARTUP_TIMEOUT_ENV = "BALLAST_PREFECT_STARTUP_TIMEOUT"


def load_prefect(workspace: Path) -> PrefectConfig:
    """The ``prefect:`` settings (a temporary server, 120 s start-up wait, state in
    ``.ballast/prefect``); ``$BALLAST_PREFECT_STARTUP_TIMEOUT`` (seconds) overrides the wait."""
    cfg = section(workspace, "prefect", PrefectConfig)
    env = os.environ.get(STARTUP_TIMEOUT_ENV)
    if env:
        try:
            seconds = PrefectConfig(startup_timeout_seconds=float(env)).startup_timeout_seconds
        except (ValueError, ValidationError):
            raise BallastError(
                f"{STARTUP_TIMEOUT_ENV}={env!r}: not a number of seconds (1-3600)"
            ) from None
        return cfg.model_copy(update={"startup_timeout_seconds": seconds})
    return cfg


def load_execution(workspace: Path) -> ExecutionConfig:
    """The ``execution:`` settings (shards of 2,500 portfolios by default)."""
    return section(workspace, "execution", ExecutionConfig)


def execution_for(
    workspace: Path,
    shard_size: int | None = None,
    executor: str | None = None,
    address: str | None = None,
) -> ExecutionConfig:
    """The ``execution:`` settings with what a command or flow parameter says instead (an
    address alone means the Dask executor); a bad value is one line, as in the file."""
    cfg = load_execution(workspace)
    updates: dict[str, Any] = {}
    if shard_size is not None:
        updates["shard_size"] = shard_size
    if address is not None:
        updates["address"] = address
        updates["executor"] = executor or "dask"
    if executor is not None:
        updates["executor"] = executor
    if not updates:
        return cfg
    try:
        return ExecutionConfig.model_validate(cfg.model_dump() | updates)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise BallastError(f"execution {where}: {msg}") from None


def load_ingest(workspace: Path) -> IngestConfig:
    """The ``ingest:`` settings (no stability wait by default)."""
    return section(workspace, "ingest", IngestConfig)
