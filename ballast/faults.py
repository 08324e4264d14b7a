"""TEST HOOK: deterministic kill -9 points for the crash tests (``tests/test_crash.py``).

Nothing here runs unless ``BALLAST_TEST_CRASH_AT`` is set; never set it in production. Its
value names one point where the process kills itself with SIGKILL (no cleanup, no ``finally``):

- ``staged``: after the inbox was staged and validated, before anything is loaded;
- ``load``: inside the transaction of the second file loaded, after its rows were inserted;
- ``compute``: after the review was computed, before rendering;
- ``render``: after two portfolio reports were written into the temporary run folder;
- ``record``: inside the final transaction, after the run's status was updated, before commit;
- ``publish``: after the run was recorded as finished (and its ``run_finished`` audit event
  appended), before its run folder was renamed from its staging name.

``crash_point(stage)`` marks a stage boundary in the flow; ``arm()`` installs the points that sit
inside a stage by wrapping one function each (tasks run in the flow's process).
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


def crash_point(stage: str) -> None:
    """Die here when ``BALLAST_TEST_CRASH_AT`` names ``stage``."""
    if target() == stage:
        die()


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


def arm() -> None:
    """Install the in-stage crash point named by the environment (no-op when unset)."""
    stage = target()
    if stage == "load":
        from ballast.ingest import inbox

        # the second file's ledger row: inside its transaction, before its commit
        in_ledger = lambda _c, name, *a: "ledger" in name  # noqa: E731
        inbox.warehouse = _Proxy(inbox.warehouse, "scalar", 2, in_ledger)
    elif stage == "compute":
        from ballast import review

        review.review = _after_calls(review.review, 1, lambda *a, **k: True)
    elif stage == "render":
        from ballast import outputs

        outputs._render_chunk = _write_then_die(outputs._render_chunk)
    elif stage == "record":
        from ballast import records

        records.warehouse = _Proxy(
            records.warehouse, "execute", 1, lambda _c, name, *a: name == "runs/finish_run"
        )


class _Proxy:
    """A module stand-in whose ``attr`` function dies after its ``n``-th matching call."""

    def __init__(self, module: Any, attr: str, n: int, when: Callable[..., bool]) -> None:
        self._module = module
        self._wrapped = _after_calls(getattr(module, attr), n, when)
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
