"""IPS files parsed ahead, on a background thread, while a command waits for its temporary
Prefect server (about 3 s in which the command's own process has nothing else to do).

What is parsed ahead is only offered to the review: the compute stage still reads every IPS
file it reviews and hashes its bytes, and takes a parsed policy only when the path, the SHA-256
of the text and the model catalog's fingerprint are those parsed ahead
(``ballast.portfolio.policy.parse_ahead``). A file changed in between is parsed again; nothing
the run records comes from here. Each outcome is taken once, so the store empties as the
shards are read, and what is left when the command's flow ends is dropped.

At most ``policy.AHEAD_MAX`` policies are held (about 9 KB each). The thread stops as soon as
the server answers (``stop``), so it never competes with the run itself.
"""

from __future__ import annotations

import threading
from types import TracebackType

from ballast.errors import BallastError, PolicyError
from ballast.ops.memory import collector_paused
from ballast.portfolio import models as model_files
from ballast.portfolio import policy
from ballast.portfolio.policy_set import _text, find_policies
from ballast.workspace import Workspace


class ReadAhead:
    """A background reader of the IPS files of ``only`` (default: all), in portfolio id order
    (the order the shards read them). Use as a context manager around the wait and the run:
    ``stop`` once the server answers; leaving the block drops what was not taken."""

    def __init__(self, ws: Workspace, only: list[str] | None = None, enabled: bool = True):
        self.ws, self.only = ws, only
        self.parsed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ballast-ips-ahead", daemon=True)
        self._enabled = enabled

    def __enter__(self) -> ReadAhead:
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        policy.drop_ahead()

    def stop(self) -> None:
        """Stop reading (within one file) and wait for the thread; idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            self._read()
        except Exception:  # optional work: the run itself reads and reports every file
            return

    def _read(self) -> None:
        try:
            found = find_policies(self.ws, self.only)
            catalog = model_files.read_folder(self.ws.models)
        except (BallastError, OSError):  # the run itself says what is wrong
            return
        # the collector stays off while this thread parses: the command's own thread only
        # waits for the server meanwhile (``stop`` is called before the flow runs)
        with collector_paused():
            for pid in sorted(found.names):
                if self._stop.is_set():
                    return
                try:
                    text = _text(self.ws, found.path(pid))
                except PolicyError:
                    continue
                if not policy.parse_ahead(found.path(pid), text, catalog):
                    return  # the store is full
                self.parsed += 1
