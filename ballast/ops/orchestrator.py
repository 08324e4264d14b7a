"""The Prefect API a command runs its flow against: where Prefect keeps its state, which server
is used, and how long a command waits for it.

Two steps, around the import of the flows (which imports Prefect):

1. ``prepare(workspace, verbose)``, before Prefect is imported, reads the ``prefect:`` section of
   ``ballast.yaml`` and sets Prefect's environment for this process:

   - ``PREFECT_HOME``: ``prefect.home``, by default ``<workspace>/.ballast/prefect``: each
     workspace has its own Prefect database (a temporary server's SQLite file) instead of the
     shared ``~/.prefect/prefect.db``. An inherited ``PREFECT_HOME`` is replaced; the Prefect
     profiles under it (``profiles.toml``) are still read, through ``PREFECT_PROFILES_PATH``.
   - ``PREFECT_API_URL``: when ``prefect.api_url`` is set and the environment does not set it
     already (the environment wins); else the user's running ``ballast server``
     (``ballast.ops.local_server``) unless ``prefect.local_server`` is false. With a server,
     no temporary server is started.
   - ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``: ``prefect.startup_timeout_seconds``
     (120 s unless ``$BALLAST_PREFECT_STARTUP_TIMEOUT`` says otherwise), instead of Prefect's
     20 s, which a loaded host can miss.

   A new home gets a copy of an empty, migrated Prefect database (``prefect_template``), so
   its temporary server skips Prefect's migrations.

   Without a configured server, the process takes the home's lock (``<home>/ballast.lock``)
   for the rest of its life, so two commands never run a temporary server each on one SQLite
   file: a command that finds the home in use runs on a private home beside it
   (``<home>.<pid>``), deleted when it ends (or, if it is killed, by the next command).

   A configured server is asked for ``/health`` there and then, until it answers or the wait
   runs out (a refused connection fails at once: nothing listens there).

2. ``connected(orchestrator)``, once Prefect is imported, starts the temporary server when no
   server is configured, with that wait (or asks a server set in the user's Prefect profile).
   Either failure is an ``OrchestratorError``: one line saying what to do, exit status 69. The
   flow then runs with Prefect's console output kept to one line per record and none of
   Prefect's own records (``prefect_settings.prefect_runtime``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import math
import os
import shutil
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ballast import config
from ballast.errors import OrchestratorError
from ballast.ops import failures, local_server, prefect_template, temporary_server
from ballast.ops.prefect_settings import prefect_runtime, quiet_prefect
from ballast.ops.temporary_server import TemporaryServer

LOCK_NAME = "ballast.lock"
HEALTH_TIMEOUT = 5.0  # one health request; the whole wait is startup_timeout_seconds
TIMEOUT_HINT = "raise prefect.startup_timeout_seconds in {}"
SERVER_HINT = "start one server for every command with `ballast server start`"
LOCAL_SOURCE = "`ballast server`"
_HELD: dict[Path, int] = {}  # Prefect home -> fd of its lock, held by this process until exit


@dataclass(frozen=True)
class Orchestrator:
    """What ``prepare`` decided for this process."""

    workspace: Path
    home: Path  # PREFECT_HOME of this process
    api_url: str | None  # a configured server (environment or ballast.yaml); None: temporary
    source: str | None  # where api_url was configured, for messages
    timeout: float  # seconds to wait for the API
    private: bool = False  # the shared home was in use: this process has its own
    new_db: bool = False  # the temporary server creates the home's database: keep a template
    server: TemporaryServer | None = None  # the temporary server, once launched

    @property
    def settings_file(self) -> Path:
        return self.workspace / config.FILE_NAME


def _profiles_path() -> Path | None:
    """The Prefect profiles file Prefect would read without ballast's ``PREFECT_HOME``."""
    if explicit := os.environ.get("PREFECT_PROFILES_PATH"):
        return Path(explicit).expanduser()
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    path = home / "profiles.toml"
    return path if path.is_file() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock(path: Path) -> int | None:
    """An fd holding ``path``'s exclusive lock, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _sweep(home: Path) -> None:
    """Remove private homes (``<home>.<pid>``) left by commands that were killed: their
    process is gone and nobody holds their lock."""
    for path in home.parent.glob(f"{home.name}.*"):
        pid = path.name.rsplit(".", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            fd = _lock(path / LOCK_NAME)
            if fd is not None:
                shutil.rmtree(path, ignore_errors=True)
                os.close(fd)


def _claim(home: Path) -> tuple[Path, bool]:
    """Lock ``home`` for this process; if another process holds it, a private home instead."""
    home.mkdir(parents=True, exist_ok=True)
    if home in _HELD:
        return home, False
    _sweep(home)
    fd = _lock(home / LOCK_NAME)
    if fd is None:
        private = home.with_name(f"{home.name}.{os.getpid()}")
        private.mkdir(exist_ok=True)
        fd = _lock(private / LOCK_NAME)
        if fd is not None:
            _HELD[private] = fd
        # registered before the temporary server's own stop, so it runs after it (LIFO)
        atexit.register(shutil.rmtree, private, True)
        return private, True
    _HELD[home] = fd  # closed by the OS when the process ends, after the server is stopped
    return home, False


def prepare(workspace: Path, verbose: bool = False) -> Orchestrator:
    """Prefect's environment for a command on ``workspace``; call before importing Prefect."""
    quiet_prefect(verbose)
    if not verbose:  # the temporary server writes to our stderr: only what is fatal
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    cfg = config.load_prefect(workspace)
    settings = Path(workspace) / config.FILE_NAME
    profiles = _profiles_path()
    api, source = os.environ.get("PREFECT_API_URL") or None, "PREFECT_API_URL"
    if api is None and cfg.api_url:
        api, source = cfg.api_url, f"prefect.api_url in {settings}"
    if api is not None:  # asked at once: a server that is not there fails before the import
        api = api.rstrip("/")
        wait_for_api(api, cfg.startup_timeout_seconds, source, settings)
    elif cfg.local_server:
        api, source = _local_server(cfg.startup_timeout_seconds, settings), LOCAL_SOURCE
    home, private, new_db = cfg.home_path(workspace), False, False
    if api is None:
        home, private = _claim(home)
        new_db = prefect_template.seed(home)  # a new home starts from a migrated database
    else:
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_API_URL"] = api
    os.environ["PREFECT_HOME"] = str(home)
    if profiles is not None:
        os.environ["PREFECT_PROFILES_PATH"] = str(profiles)
    seconds = math.ceil(cfg.startup_timeout_seconds)
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = str(seconds)
    return Orchestrator(
        workspace=Path(workspace),
        home=home,
        api_url=api,
        source=source if api else None,
        timeout=cfg.startup_timeout_seconds,
        private=private,
        new_db=new_db,
    )


def _local_server(timeout: float, settings: Path) -> str | None:
    """The API of the user's running ``ballast server``, once it answers; None when none runs
    (or its record is stale: nothing listens on its port any more)."""
    info = local_server.find()
    if info is None:
        return None
    if not wait_for_api(info.api_url, timeout, LOCAL_SOURCE, settings, absent_ok=True):
        return None
    return info.api_url


def wait_for_api(
    api: str, timeout: float, source: str | None, settings_file: Path, absent_ok: bool = False
) -> bool:
    """True once the Prefect API at ``api`` answers (any HTTP answer counts, but a 5xx); else
    one ``OrchestratorError``: at once when the connection is refused (or False, when
    ``absent_ok``), after ``timeout`` seconds when it is not answered."""
    where = f"the Prefect API at {api}" + (f" (set by {source})" if source else "")
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        left = deadline - time.monotonic()
        try:
            with urllib.request.urlopen(
                f"{api}/health", timeout=max(0.1, min(HEALTH_TIMEOUT, left))
            ):
                return True
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return True  # it answered (Prefect Cloud may want a key for /health)
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                if absent_ok:
                    return False
                raise OrchestratorError(
                    f"{where} did not answer (connection refused: no server is listening "
                    "there); start it (`prefect server start`), or unset it and ballast starts "
                    "a temporary server for each command"
                ) from None
        except OSError:  # a timeout, a reset: the server may still be starting
            pass
        if time.monotonic() >= deadline:
            raise OrchestratorError(
                f"{where} did not answer within {timeout:.0f} s (is that server running and "
                f"not overloaded? check it, or {TIMEOUT_HINT.format(settings_file)})"
            )
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2.0)


PROBE_BYTES = 1 << 20  # what SQLite needs at least to create Prefect's database


def _probe_writable(home: Path) -> None:
    """Raise the ``OSError`` of writing ``PROBE_BYTES`` into ``home`` when the disk is full or
    read-only (other errors are not the storage's: the caller's own error stands)."""
    probe = home / f".ballast-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno in failures.FULL | failures.READ_ONLY:
            raise
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def _profile_api(profiles: Path | None) -> bool:
    """Whether the active profile of the Prefect profiles file sets ``PREFECT_API_URL``."""
    if profiles is None:
        return False
    try:
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = data.get("profiles", {}).get(active, {})
    return isinstance(profile, dict) and bool(profile.get("PREFECT_API_URL"))


def launch(orch: Orchestrator) -> Orchestrator:
    """Launch the temporary server when ``orch`` needs one (no server configured, none in the
    user's Prefect profile); call right after ``prepare``, before Prefect is imported, so the
    server boots while the command imports its flows. ``connected`` waits for it."""
    if orch.api_url is not None or orch.server is not None or _profile_api(_profiles_path()):
        return orch
    return replace(orch, server=temporary_server.launch())


def _await_temporary(orch: Orchestrator, server: TemporaryServer) -> str:
    """Wait up to the configured time for the launched server to answer; else one
    ``OrchestratorError`` (a full or read-only disk: that ``OSError``, the storage's fault)."""
    deadline = time.monotonic() + orch.timeout
    while not server.healthy(max(0.1, min(HEALTH_TIMEOUT, deadline - time.monotonic()))):
        code = server.exit_status()
        if code is not None or time.monotonic() >= deadline:
            server.stop()
            _probe_writable(orch.home)  # a full or read-only disk is the storage's fault (74)
            exited = f"; it exited with status {code}" if code is not None else ""
            raise OrchestratorError(
                f"the Prefect API did not answer within {orch.timeout:.0f} s: the temporary "
                f"Prefect server started for this command (state in {orch.home}) was not up in "
                f"time{exited} (on a busy host {TIMEOUT_HINT.format(orch.settings_file)}, or "
                f"{SERVER_HINT})"
            )
        time.sleep(0.1)
    if orch.new_db:  # migrated, nothing recorded yet: the template for the next new home
        prefect_template.keep(orch.home)
    return server.api_url


@contextmanager
def connected(orch: Orchestrator, verbose: bool = False) -> Iterator[str]:
    """A Prefect API that answers, for the block (the flow call); yields its URL. A transport
    failure of the API during the block becomes an ``OrchestratorError`` too."""
    import httpx
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if orch.server is None:
        orch = launch(orch)  # when the command did not launch it before importing Prefect
    api: str | None = PREFECT_API_URL.value()
    if orch.server is not None:
        api = _await_temporary(orch, orch.server)
    elif api and orch.api_url is None:  # a server set in the user's Prefect profile
        source = "the active Prefect profile (`prefect config view`)"
        wait_for_api(api.rstrip("/"), orch.timeout, source, orch.settings_file)
    if api is None:  # launch gives a server whenever none is configured
        raise OrchestratorError("no Prefect API: set prefect.api_url in ballast.yaml")
    # named in Prefect's settings for the block only, never in this process's environment: a
    # command run in a longer-lived process (a test, a notebook) must not leave it behind
    with temporary_settings(updates={PREFECT_API_URL: api}), prefect_runtime(verbose):
        try:
            yield api
        except httpx.TransportError as exc:
            raise OrchestratorError(
                f"the Prefect API at {api} stopped answering during the run "
                f"({type(exc).__name__}: {exc}); run the command again once it answers "
                f"(on a busy host {TIMEOUT_HINT.format(orch.settings_file)}, or {SERVER_HINT})"
            ) from exc
