"""A run's identity: its id, who runs it, and the code version (``RunIdentity``); the checks of
a flow's parameters and the tags its Prefect flow run carries."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import secrets
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ballast import __version__
from ballast.errors import BallastError

# What started a run: ``manual`` (the command line), ``schedule`` (the scheduled deployments),
# ``adhoc`` (the ad hoc deployment: the Prefect UI or ``prefect deployment run``), ``rerun``.
TRIGGERS = ("manual", "schedule", "adhoc", "rerun")
TAG_LENGTH = 80  # a reason longer than this is cut in its tag (the parameters keep it whole)


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: ``20261124T193500Z-3f9a1c``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def who() -> str:
    """The person or service running ballast (``$BALLAST_USER``, else the OS user)."""
    try:
        return os.environ.get("BALLAST_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def check_parameters(parameters: dict[str, Any]) -> None:
    """Raise a one-line ``BallastError`` for an ``as_of`` that is no date or an unknown
    ``trigger`` (the other parameters are checked by their types)."""
    as_of = parameters.get("as_of")
    if as_of is not None:
        try:
            dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise BallastError(
                f"parameter as_of: {as_of!r} is not a date; expected YYYY-MM-DD, e.g. 2026-09-30"
            ) from None
    trigger = parameters.get("trigger")
    if trigger is not None and trigger not in TRIGGERS:
        raise BallastError(f"parameter trigger: {trigger!r} is not one of {', '.join(TRIGGERS)}")


def flow_run_tags(trigger: str, user: str, reason: str | None) -> list[str]:
    """The tags that show on a run's Prefect flow run what started it, by whom and why:
    ``trigger:adhoc``, ``who:alice``, ``reason:quarter-end rerun``."""
    tags = [f"trigger:{trigger}", f"who:{user}"]
    if reason:
        why = " ".join(reason.split())
        tags.append(f"reason:{why[: TAG_LENGTH - 1] + '…' if len(why) > TAG_LENGTH else why}")
    return tags


@cache
def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return f"{__version__}+{sha}{'.dirty' if dirty else ''}" if sha else __version__
    except (OSError, subprocess.SubprocessError):
        return __version__


@dataclass(frozen=True)
class RunIdentity:
    """The run a flow is doing: what, as of when, why, by whom, with which code, since when.

    It crosses the flow's task boundaries; ``as_dict`` is its row in ``runs`` and its
    ``run_started`` audit payload, ``meta`` the run metadata its outputs carry. (A past run read
    back from the warehouse is ``ballast.audit.rerun.RunRecord``.)
    """

    run_id: str
    as_of: str  # YYYY-MM-DD
    kind: str  # quarterly_review or monitor
    trigger: str  # one of TRIGGERS
    who: str
    reason: str | None
    code_version: str
    started_at: dt.datetime  # UTC, naive, to the second

    @classmethod
    def begin(cls, as_of: str, kind: str, trigger: str, reason: str | None) -> RunIdentity:
        """A new run starting now, by ``who()``, with this ``code_version()``."""
        return cls(
            run_id=new_run_id(),
            as_of=as_of,
            kind=kind,
            trigger=trigger,
            who=who(),
            reason=reason,
            code_version=code_version(),
            started_at=dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None),
        )

    def as_dict(self) -> dict[str, Any]:
        """Every field, ``started_at`` a datetime (the warehouse row, the audit payload)."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of,
            "kind": self.kind,
            "trigger": self.trigger,
            "who": self.who,
            "reason": self.reason,
            "code_version": self.code_version,
            "started_at": self.started_at,
        }

    def meta(self) -> dict[str, Any]:
        """The run metadata results.json and the reports carry: ``started_at`` as
        ``2026-10-05T07:00:00Z``."""
        return {**self.as_dict(), "started_at": self.started_at.isoformat() + "Z"}
