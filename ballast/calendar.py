"""NYSE business days for the schedules: sessions, closes (early ones too), quarter ends.

Pure functions over ``exchange_calendars``' ``XNYS`` calendar (no Prefect). A cron expression
cannot say "every NYSE session" or "the 3rd session after a quarter end", so the scheduled flows
fire on a plain weekday cron and ask this module whether today is a run day, and for which
as-of date (see docs/operations.md).

Dates are NYSE session dates (``datetime.date``); times are tz-aware.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from ballast.errors import BallastError

EXCHANGE = "XNYS"
EXCHANGE_TZ = ZoneInfo("America/New_York")
REGULAR_CLOSE = dt.time(16, 0)  # NYSE's regular close, exchange time
FIRST_DAY = dt.date(2006, 1, 1)  # the range the calendar is built for (building costs ~0.2 s)
LAST_DAY = dt.date(2040, 12, 31)
QUARTER_END_MONTHS = (3, 6, 9, 12)


@cache
def _calendar() -> Any:  # exchange_calendars.ExchangeCalendar (the library has no type hints)
    """The XNYS calendar, built once per process over a fixed, explicit range.

    The library's default range ends one year from today, which would silently cut off next
    year's schedule; an explicit range makes the answers independent of the day they are asked.
    """
    import exchange_calendars as xc

    with warnings.catch_warnings():  # pandas 3 deprecation noise from inside the library
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xc.get_calendar(EXCHANGE, start=FIRST_DAY.isoformat(), end=LAST_DAY.isoformat())


def _check(*days: dt.date) -> None:
    for day in days:
        if not FIRST_DAY <= day <= LAST_DAY:
            raise BallastError(
                f"{day}: outside the NYSE calendar range ballast knows ({FIRST_DAY} to {LAST_DAY})"
            )


def sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """NYSE sessions from ``start`` to ``end``, both included."""
    _check(start, end)
    if end < start:
        return []
    index = _calendar().sessions_in_range(start.isoformat(), end.isoformat())
    return [ts.date() for ts in index]


def monitor_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """The days the daily monitor runs: every NYSE session (after its close)."""
    return sessions(start, end)


def is_session(day: dt.date) -> bool:
    """Whether the NYSE trades on ``day`` (weekends and exchange holidays are not sessions)."""
    _check(day)
    return bool(_calendar().is_session(day.isoformat()))


def close_time(day: dt.date) -> dt.datetime:
    """The session's close in New York time: 16:00, or 13:00 on an early-close day."""
    if not is_session(day):
        raise BallastError(f"{day}: not an NYSE session, it has no close")
    close: dt.datetime = _calendar().session_close(day.isoformat()).to_pydatetime()
    return close.astimezone(EXCHANGE_TZ)


def is_early_close(day: dt.date) -> bool:
    """Whether ``day`` is a session that closes before the regular 16:00."""
    return close_time(day).time() < REGULAR_CLOSE


def holidays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays from ``start`` to ``end`` on which the NYSE is closed."""
    open_days = set(sessions(start, end))
    days = (start + dt.timedelta(d) for d in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5 and d not in open_days]


def quarter_end(day: dt.date) -> dt.date:
    """The last calendar day of the quarter holding ``day``."""
    month = QUARTER_END_MONTHS[(day.month - 1) // 3]
    following = dt.date(day.year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def previous_quarter_end(day: dt.date) -> dt.date:
    """The last quarter end strictly before ``day``."""
    return quarter_end(dt.date(day.year, ((day.month - 1) // 3) * 3 + 1, 1) - dt.timedelta(1))


def nth_session_after(day: dt.date, n: int) -> dt.date:
    """The ``n``-th NYSE session strictly after ``day`` (``n`` >= 1)."""
    if n < 1:
        raise BallastError(f"n={n}: the review runs on the 1st session after quarter end or later")
    _check(day)
    window = sessions(day + dt.timedelta(1), min(day + dt.timedelta(7 * n + 14), LAST_DAY))
    if len(window) < n:
        raise BallastError(f"{day}: fewer than {n} NYSE sessions known after it")
    return window[n - 1]


def review_days(start: dt.date, end: dt.date, n: int = 3) -> list[tuple[dt.date, dt.date]]:
    """``(run_date, as_of)`` for every quarterly review that runs from ``start`` to ``end``.

    A review runs on the ``n``-th NYSE session after each quarter end, as of that quarter end
    (the last calendar day of the quarter: custodian statements are dated then).
    """
    _check(start, end)
    q = previous_quarter_end(previous_quarter_end(start))
    out: list[tuple[dt.date, dt.date]] = []
    while q <= end:
        run = nth_session_after(q, n)
        if start <= run <= end:
            out.append((run, q))
        q = quarter_end(q + dt.timedelta(1))
    return out


def as_of_for_review(today: dt.date, n: int) -> dt.date | None:
    """The quarter end to review if ``today`` is the ``n``-th session after it, else None."""
    q = previous_quarter_end(today)
    return q if nth_session_after(q, n) == today else None


def as_of_for_monitor(
    now: dt.datetime, after_close: dt.timedelta = dt.timedelta(0)
) -> dt.date | None:
    """The session to monitor at ``now``: today's, once it has closed (plus ``after_close``).

    None when today (New York date) is not a session (weekend, holiday) or has not closed
    yet. Early closes count: at 13:30 on 2026-11-27 that session is already closed.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(EXCHANGE_TZ).date()
    if not is_session(day) or now < close_time(day) + after_close:
        return None
    return day


def at(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """``time`` on ``day`` in ``tz``, tz-aware."""
    return dt.datetime.combine(day, time, tzinfo=tz)


def next_monitor_run(now: dt.datetime, time: dt.time) -> dt.datetime:
    """The first run of the monitor after ``now`` when it fires at ``time`` (New York)."""
    today = now.astimezone(EXCHANGE_TZ).date()
    for day in sessions(today, today + dt.timedelta(14)):
        when = at(day, time, EXCHANGE_TZ)
        if when > now:
            return when
    raise BallastError(f"{today}: no NYSE session in the next two weeks")


def next_review_run(
    now: dt.datetime, n: int, time: dt.time, tz: ZoneInfo
) -> tuple[dt.datetime, dt.date]:
    """``(run time, as_of)`` of the first quarterly review after ``now``."""
    today = now.astimezone(tz).date()
    for run, as_of in review_days(today, today + dt.timedelta(200), n):
        when = at(run, time, tz)
        if when > now:
            return when, as_of
    raise BallastError(f"{today}: no quarterly review found in the next 200 days")
