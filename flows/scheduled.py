"""Calendar-gated entry flows for the scheduled deployments.

A cron expression cannot say "every NYSE session" or "the 3rd session after a quarter end", so
the deployments fire on a plain weekday cron and these thin flows ask ``ballast.calendar``
whether this is a run day and for which as-of date. On a run day they call the real flow
(``ballast.flows.review``) as a subflow with ``trigger="schedule"``; otherwise they finish in a
``Completed`` state named ``Skipped`` that says why (visible in the Prefect UI). A review that
ends ``Completed with exceptions`` (invalid portfolios, quarantined files) ends its entry flow
so too (``ballast.flows.states.passed_on``).

They carry the same flow names as the flows they gate, so the deployments read
``quarterly-review/scheduled`` and ``daily-monitor/scheduled`` next to
``quarterly-review/adhoc``.

The day is taken from the run's *scheduled* time, not the clock: a run that starts late (the
server was busy, the machine was asleep) still reviews the day it was scheduled for. Before a
review, the flow waits for late custodian files (``ballast.ingest.custodian_wait``).
"""

from __future__ import annotations

import datetime as dt

from ballast.flows.states import RunResult, ballast_flow, passed_on
from prefect import get_run_logger
from prefect.states import Completed, State

from ballast import calendar
from ballast.config import ScheduleConfig
from ballast.ingest import custodian_wait

_DEFAULTS = ScheduleConfig()


def _scheduled_time() -> dt.datetime:
    """This run's scheduled start (tz-aware); now when run outside a deployment."""
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time
    return dt.datetime.fromisoformat(when.isoformat()) if when else dt.datetime.now(dt.UTC)


def _skipped(message: str) -> State:
    get_run_logger().info("skipped: %s", message)
    return Completed(name="Skipped", message=message)


@ballast_flow(name="quarterly-review")
def scheduled_review(
    workspace: str,
    n_business_days: int = _DEFAULTS.review_business_days_after_quarter_end,
    timezone: str = _DEFAULTS.timezone,
) -> RunResult | State:
    """Run the quarterly review if today is the Nth NYSE session after a quarter end."""
    from ballast.flows.review import quarterly_review

    today = _scheduled_time().astimezone(ScheduleConfig(timezone=timezone).tz).date()
    as_of = calendar.as_of_for_review(today, n_business_days)
    if as_of is None:
        q = calendar.previous_quarter_end(today)
        due = calendar.nth_session_after(q, n_business_days)
        return _skipped(f"{today} is not review day (review of {q} runs on {due})")
    custodian_wait.await_custodian_files(workspace, as_of, logger=get_run_logger())
    state = quarterly_review(
        workspace=workspace,
        as_of=as_of.isoformat(),
        reason=f"scheduled: NYSE session {n_business_days} after quarter end {as_of}",
        trigger="schedule",
        return_state=True,
    )
    return passed_on(state)  # type: ignore[no-any-return]


@ballast_flow(name="daily-monitor")
def scheduled_monitor(
    workspace: str,
    minutes_after_close: int = _DEFAULTS.monitor_after_close_minutes,
) -> RunResult | State:
    """Run the drift monitor for today's NYSE session once it has closed."""
    from ballast.flows.review import monitor

    when = _scheduled_time()
    as_of = calendar.as_of_for_monitor(when, dt.timedelta(minutes=minutes_after_close))
    if as_of is None:
        day = when.astimezone(calendar.EXCHANGE_TZ)
        why = "not an NYSE session" if not calendar.is_session(day.date()) else "before close"
        return _skipped(f"{day:%Y-%m-%d %H:%M} New York: {why}")
    state = monitor(
        workspace=workspace,
        as_of=as_of.isoformat(),
        reason=f"scheduled: after the NYSE close of {as_of}",
        trigger="schedule",
        return_state=True,
    )
    return passed_on(state)  # type: ignore[no-any-return]
