"""The Prefect deployments ``ballast serve`` serves: the one source of their description.

``prefect.yaml`` (for ``prefect deploy`` with a work pool) copies what ``build_deployments``
builds with the default ``ScheduleConfig()``; ``tests/flows/test_deployments_yaml.py`` fails when
the two differ, so change this module first, then make ``prefect.yaml`` match.

| deployment | flow (in ``ballast.flows``) | schedule |
|---|---|---|
| ``quarterly-review/scheduled`` | ``scheduled.scheduled_review`` | weekdays at review_time |
| ``daily-monitor/scheduled`` | ``scheduled.scheduled_monitor`` | weekdays after the close |
| ``quarterly-review/adhoc`` | ``review.quarterly_review`` | none: triggered by hand |

The scheduled ones fire on a weekday cron and are gated by the NYSE calendar inside the flow
(see ``flows/scheduled.py``). ``adhoc`` takes ``as_of``, ``portfolios`` and ``reason`` at
trigger time (Prefect UI "Custom run", or ``prefect deployment run 'quarterly-review/adhoc'
-p as_of=2026-09-30 -p reason=...``); it is recorded with ``trigger="adhoc"`` (its parameter
default; pass ``trigger=rerun`` for a rerun). Every run's flow run is tagged with its trigger, who
runs it and why (``trigger:adhoc``, ``who:<user>``, ``reason:...``; see ``ballast.ops.runs``).
"""

from __future__ import annotations

from pathlib import Path

from ballast.flows.review import quarterly_review
from ballast.flows.scheduled import scheduled_monitor, scheduled_review
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from ballast import calendar
from ballast import config as ballast_config
from ballast.config import ScheduleConfig

TAGS = ["ballast"]
# Module entrypoints ("ballast.flows.scheduled.scheduled_review") load wherever ballast is
# installed, whatever the serving process's working directory.
ENTRYPOINT = EntrypointType.MODULE_PATH


def build_deployments(workspace: str, config: ScheduleConfig) -> list[RunnerDeployment]:
    """The scheduled review, the scheduled monitor and the ad hoc review for ``workspace``."""
    paused = not config.enabled
    review = scheduled_review.to_deployment(
        name="scheduled",
        schedule=Cron(config.review_cron(), timezone=config.timezone),
        paused=paused,
        parameters={
            "workspace": workspace,
            "n_business_days": config.review_business_days_after_quarter_end,
            "timezone": config.timezone,
        },
        description=(
            f"Quarterly review on NYSE session {config.review_business_days_after_quarter_end} "
            f"after each quarter end, at {config.review_time:%H:%M} {config.timezone}; "
            "as of the quarter end. Other weekdays finish as Skipped."
        ),
        tags=TAGS,
        entrypoint_type=ENTRYPOINT,
    )
    monitor = scheduled_monitor.to_deployment(
        name="scheduled",
        schedule=Cron(config.monitor_cron(), timezone=str(calendar.EXCHANGE_TZ)),
        paused=paused,
        parameters={
            "workspace": workspace,
            "minutes_after_close": config.monitor_after_close_minutes,
        },
        description=(
            f"Daily drift monitor at {config.monitor_time:%H:%M} New York on every NYSE "
            "session, as of that session. Weekday holidays finish as Skipped."
        ),
        tags=TAGS,
        entrypoint_type=ENTRYPOINT,
    )
    adhoc = quarterly_review.to_deployment(
        name="adhoc",
        parameters={"workspace": workspace, "trigger": "adhoc"},
        description=(
            "Ad hoc review or rerun: give as_of (YYYY-MM-DD), optionally portfolios and a "
            "reason; recorded as an adhoc trigger (trigger=rerun for a rerun)."
        ),
        tags=TAGS,
        entrypoint_type=ENTRYPOINT,
    )
    return [review, monitor, adhoc]


def serve_all(workspace: str, config: ScheduleConfig | None = None) -> None:
    """Serve the deployments until interrupted (one run at a time: DuckDB has one writer)."""
    from prefect import serve

    config = config or ballast_config.load(Path(workspace))
    serve(*build_deployments(workspace, config), limit=1)
