"""End-of-run notifications: a summary to the log always, and to a webhook where configured.

``ballast.yaml``::

    notify:
      webhook_url: https://hooks.example.com/ballast   # POSTed the summary as JSON
      timeout_seconds: 5

The webhook is posted with the standard library; a failure (unreachable, timeout, HTTP error)
is logged, never raised: a notification must not fail a review that succeeded. For e-mail,
Slack or Teams, a Prefect automation on the flow run's state (or a notification block) is the
alternative; see docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ballast import config as ballast_config
from ballast.errors import BallastError

log = logging.getLogger("ballast.notify")


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The notification's content, from ``run_review``'s return value."""
    ingest = result.get("ingest") or {}
    return {
        "run_id": result["run_id"],
        "kind": result["kind"],
        "as_of": result["as_of"],
        "status": result["status"],
        "portfolios_reviewed": result["portfolios"],
        "breaches": result["breached"],
        "trades": result.get("trades", 0),
        "data_problems": {
            "invalid_portfolios": list(result.get("invalid", [])),
            "quarantined_files": [q["file"] for q in ingest.get("quarantined", [])],
        },
        "report_dir": result.get("report_dir"),
    }


def line(s: dict[str, Any]) -> str:
    """The one-line log message."""
    problems = s["data_problems"]
    return (
        f"ballast {s['kind']} {s['as_of']} run {s['run_id']} {s['status']}: "
        f"{s['portfolios_reviewed']} portfolios reviewed, {s['breaches']} breached, "
        f"{len(problems['invalid_portfolios'])} with invalid data, "
        f"{len(problems['quarantined_files'])} files quarantined"
    )


def post_webhook(url: str, payload: dict[str, Any], timeout: float) -> bool:
    """POST ``payload`` as JSON; True on a 2xx answer, False (logged) otherwise."""
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("notify: webhook %s failed: %s", url, exc)
        return False
    if not ok:
        log.warning("notify: webhook %s answered %s", url, response.status)
    return ok


def send(
    workspace: str | Path, result: dict[str, Any], logger: Any | None = None
) -> dict[str, Any]:
    """Log the run's summary line (on ``logger``, e.g. Prefect's run logger), post it to the
    configured webhook; returns the summary plus ``webhook`` (None, True or False)."""
    s = summary(result)
    (logger or log).info("%s", line(s))
    try:
        config = ballast_config.load_notify(Path(workspace))
    except BallastError as exc:
        log.warning("notify: %s", exc)
        return s | {"webhook": False}
    sent = None
    if config.webhook_url:
        sent = post_webhook(config.webhook_url, s, config.timeout_seconds)
    return s | {"webhook": sent}
