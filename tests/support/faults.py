"""Deterministic kill -9 points for the crash tests (``tests/test_crash.py``).

Production code knows nothing of these: ``tests/support/crash_cli.py`` runs the ``ballast``
command after ``arm()`` has wrapped one function of the pipeline, named by
``BALLAST_TEST_CRASH_AT``, so that the process kills itself with SIGKILL there (no cleanup, no
``finally``):

- ``staged``: after the inbox was staged and validated, before anything is loaded;
- ``load``: inside the transaction of the second file loaded, after its rows were inserted;
- ``compute``: after the review was computed, before rendering;
- ``render``: after two portfolio reports were written into the temporary run folder;
- ``record``: inside the final transaction, after the run's status was updated, before commit;
- ``publish``: after the run was recorded as finished (and its ``run_finished`` audit event
  appended), before its run folder was renamed from its staging name.

Tasks run in the flow's process, so a wrapped module attribute is what the task calls.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from typing import Any

ENV = "BALLAST_TEST_CRASH_AT"
STAGES = ("staged", "load", "compute", "render", "record", "publish")


def target() -> str | None:
    """The crash point the environment names, if any."""
    return os.environ.get(ENV) or None


def die() -> None:
    """Kill this process at once, as ``kill -9`` would."""
    os.kill(os.getpid(), signal.SIGKILL)


def _after_calls(fn: Callable[..., Any], n: int, when: Callable[..., bool]) -> Callable[..., Any]:
    """``fn``, dying right after the ``n``-th call for which ``when(*args)`` holds."""
    seen = 0

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal seen
        out = fn(*args, **kwargs)
        if when(*args, **kwargs):
            seen += 1
            if seen >= n:
                die()
        return out

    return wrapper


def _before_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, dying when it is first called (before it does anything)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        die()
        return fn(*args, **kwargs)

    return wrapper


def arm() -> None:
    """Install the crash point named by the environment (no-op when unset)."""
    stage = target()
    if stage == "staged":
        from ballast.ingest import inbox

        # staged and validated, nothing loaded yet
        inbox.commit = _before_first(inbox.commit)
    elif stage == "publish":
        from ballast.tasks import record

        # recorded as finished, folder not yet renamed
        record.outputs = _Proxy(record.outputs, "publish", 0, lambda *a: True, before=True)
    elif stage == "load":
        from ballast.ingest import inbox

        # the second file's ledger row: inside its transaction, before its commit
        in_ledger = lambda _c, name, *a: "ledger" in name  # noqa: E731
        inbox.db = _Proxy(inbox.db, "scalar", 2, in_ledger)
    elif stage == "compute":
        from ballast import review

        review.review = _after_calls(review.review, 1, lambda *a, **k: True)
    elif stage == "render":
        from ballast.reporting import outputs

        outputs._render_chunk = _write_then_die(outputs._render_chunk)
    elif stage == "record":
        from ballast.audit import records

        records.db = _Proxy(
            records.db, "execute", 1, lambda _c, name, *a: name == "marts/finish_run"
        )


class _Proxy:
    """A module stand-in whose ``attr`` function dies after its ``n``-th matching call."""

    def __init__(
        self, module: Any, attr: str, n: int, when: Callable[..., bool], before: bool = False
    ) -> None:
        self._module = module
        fn = getattr(module, attr)
        self._wrapped = _before_first(fn) if before else _after_calls(fn, n, when)
        self._attr = attr

    def __getattr__(self, name: str) -> Any:
        return self._wrapped if name == self._attr else getattr(self._module, name)


def _write_then_die(render_chunk: Callable[..., Any]) -> Callable[..., Any]:
    """``_render_chunk`` writing the first two reports, then dying."""

    @functools.wraps(render_chunk)
    def wrapper(folder: str, contexts: list[dict[str, Any]], pdf: str = "none") -> dict[str, str]:
        render_chunk(folder, contexts[:2], pdf)
        die()
        return {}

    return wrapper
