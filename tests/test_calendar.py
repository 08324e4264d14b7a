"""The 2026 and 2027 schedules against NYSE facts (pure: no Prefect).

Figures from outside the code: NYSE's published holiday lists for 2026 and 2027 (ten weekday
closures each year) and early closes (13:00 ET on the day after Thanksgiving and on Christmas
Eve when it is a weekday that is not itself the observed holiday).
"""

from __future__ import annotations

import datetime as dt

import pytest

from ballast import calendar
from ballast.config import MAX_REVIEW_DAYS, ScheduleConfig, load
from ballast.errors import BallastError

D = dt.date
NY = calendar.EXCHANGE_TZ

# NYSE's published holidays (observed dates), typed from its holiday page, not from the library.
NYSE_HOLIDAYS = {
    2026: [
        D(2026, 1, 1),  # New Year's Day
        D(2026, 1, 19),  # Martin Luther King Jr. Day
        D(2026, 2, 16),  # Washington's Birthday
        D(2026, 4, 3),  # Good Friday
        D(2026, 5, 25),  # Memorial Day
        D(2026, 6, 19),  # Juneteenth
        D(2026, 7, 3),  # Independence Day (Jul 4 is a Saturday)
        D(2026, 9, 7),  # Labor Day
        D(2026, 11, 26),  # Thanksgiving
        D(2026, 12, 25),  # Christmas
    ],
    2027: [
        D(2027, 1, 1),  # New Year's Day
        D(2027, 1, 18),  # Martin Luther King Jr. Day
        D(2027, 2, 15),  # Washington's Birthday
        D(2027, 3, 26),  # Good Friday
        D(2027, 5, 31),  # Memorial Day
        D(2027, 6, 18),  # Juneteenth (Jun 19 is a Saturday)
        D(2027, 7, 5),  # Independence Day (Jul 4 is a Sunday)
        D(2027, 9, 6),  # Labor Day
        D(2027, 11, 25),  # Thanksgiving
        D(2027, 12, 24),  # Christmas (Dec 25 is a Saturday)
    ],
}
EARLY_CLOSES = {2026: [D(2026, 11, 27), D(2026, 12, 24)], 2027: [D(2027, 11, 26)]}


def year(y: int) -> tuple[dt.date, dt.date]:
    return D(y, 1, 1), D(y, 12, 31)


def weekdays(y: int) -> list[dt.date]:
    start, end = year(y)
    days = (start + dt.timedelta(i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


@pytest.mark.parametrize("y", [2026, 2027])
def test_monitor_days_are_weekdays_minus_published_holidays(y: int) -> None:
    expected = [d for d in weekdays(y) if d not in NYSE_HOLIDAYS[y]]
    assert calendar.monitor_days(*year(y)) == expected
    assert calendar.holidays(*year(y)) == NYSE_HOLIDAYS[y]


def test_2026_has_251_sessions() -> None:
    """261 weekdays in 2026 (it starts on a Thursday) minus 10 holidays, all on weekdays."""
    assert len(weekdays(2026)) == 261
    assert len(calendar.monitor_days(*year(2026))) == 251 == 261 - len(NYSE_HOLIDAYS[2026])
    assert len(calendar.monitor_days(*year(2027))) == 251


@pytest.mark.parametrize(
    "day, open_",
    [
        (D(2026, 11, 26), False),  # Thanksgiving
        (D(2026, 11, 27), True),  # early close
        (D(2026, 12, 25), False),
        (D(2027, 1, 1), False),
        (D(2026, 7, 3), False),  # observed Independence Day
        (D(2026, 7, 2), True),
        (D(2026, 4, 3), False),  # Good Friday
        (D(2026, 11, 28), False),  # Saturday
        (D(2027, 12, 31), True),  # New Year 2028 falls on a Saturday: not observed on Friday
    ],
)
def test_facts(day: dt.date, open_: bool) -> None:
    assert calendar.is_session(day) is open_


@pytest.mark.parametrize("y", [2026, 2027])
def test_early_closes_at_13_00_new_york(y: int) -> None:
    early = [d for d in calendar.monitor_days(*year(y)) if calendar.is_early_close(d)]
    assert early == EARLY_CLOSES[y]
    close = calendar.close_time(EARLY_CLOSES[y][0])
    assert close.tzinfo is not None and close.astimezone(NY).time() == dt.time(13, 0)
    assert calendar.close_time(D(2026, 11, 24)).astimezone(NY).time() == dt.time(16, 0)
    with pytest.raises(BallastError, match="not an NYSE session"):
        calendar.close_time(D(2026, 11, 26))


def test_quarter_ends() -> None:
    assert calendar.quarter_end(D(2026, 2, 14)) == D(2026, 3, 31)
    assert calendar.quarter_end(D(2026, 6, 30)) == D(2026, 6, 30)
    assert calendar.quarter_end(D(2026, 12, 1)) == D(2026, 12, 31)
    assert calendar.previous_quarter_end(D(2026, 10, 5)) == D(2026, 9, 30)
    assert calendar.previous_quarter_end(D(2026, 9, 30)) == D(2026, 6, 30)
    assert calendar.previous_quarter_end(D(2026, 1, 6)) == D(2025, 12, 31)


def test_review_days_2026_2027_third_session_after_quarter_end() -> None:
    """Worked by hand from the holiday list: Good Friday, Jul 3, Jan 1 and Jul 5 push days out."""
    assert calendar.review_days(D(2026, 1, 1), D(2027, 12, 31), n=3) == [
        (D(2026, 1, 6), D(2025, 12, 31)),  # Jan 2, 5, 6
        (D(2026, 4, 6), D(2026, 3, 31)),  # Apr 1, 2, (Good Friday), 6
        (D(2026, 7, 6), D(2026, 6, 30)),  # Jul 1, 2, (Jul 3), 6
        (D(2026, 10, 5), D(2026, 9, 30)),  # Oct 1, 2, 5
        (D(2027, 1, 6), D(2026, 12, 31)),  # (Jan 1), 4, 5, 6
        (D(2027, 4, 5), D(2027, 3, 31)),  # Apr 1, 2, 5
        (D(2027, 7, 6), D(2027, 6, 30)),  # Jul 1, 2, (Jul 5), 6
        (D(2027, 10, 5), D(2027, 9, 30)),  # Oct 1, 4, 5
    ]


@pytest.mark.parametrize("n", [1, 3, 5])
def test_review_day_is_nth_session_after_each_2026_quarter_end(n: int) -> None:
    sessions = calendar.monitor_days(D(2026, 1, 1), D(2027, 2, 1))
    for q in (D(2026, 3, 31), D(2026, 6, 30), D(2026, 9, 30), D(2026, 12, 31)):
        run = [s for s in sessions if s > q][n - 1]
        assert (run, q) in calendar.review_days(D(2026, 1, 1), D(2027, 2, 1), n)
        assert calendar.as_of_for_review(run, n) == q
        assert calendar.is_session(run)


def test_as_of_for_review_only_on_review_day() -> None:
    assert calendar.as_of_for_review(D(2026, 10, 5), 3) == D(2026, 9, 30)
    for day in (D(2026, 10, 2), D(2026, 10, 6), D(2026, 9, 30), D(2026, 11, 26)):
        assert calendar.as_of_for_review(day, 3) is None
    assert calendar.as_of_for_review(D(2026, 10, 1), 1) == D(2026, 9, 30)


def test_as_of_for_monitor() -> None:
    half_hour = dt.timedelta(minutes=30)
    at = lambda *a: dt.datetime(*a, tzinfo=NY)  # noqa: E731
    assert calendar.as_of_for_monitor(at(2026, 11, 24, 16, 30), half_hour) == D(2026, 11, 24)
    assert calendar.as_of_for_monitor(at(2026, 11, 24, 16, 29), half_hour) is None  # too early
    assert calendar.as_of_for_monitor(at(2026, 11, 26, 16, 30), half_hour) is None  # Thanksgiving
    assert calendar.as_of_for_monitor(at(2026, 11, 27, 13, 30), half_hour) == D(2026, 11, 27)
    assert calendar.as_of_for_monitor(at(2026, 11, 28, 16, 30)) is None  # Saturday
    utc = dt.datetime(2026, 11, 24, 21, 30, tzinfo=dt.UTC)  # 16:30 New York
    assert calendar.as_of_for_monitor(utc, half_hour) == D(2026, 11, 24)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.as_of_for_monitor(dt.datetime(2026, 11, 24, 17, 0))


def test_every_2026_monitor_cron_fire_is_gated_to_sessions() -> None:
    """The weekday cron fires 261 times in 2026; the gate lets exactly the 251 sessions run."""
    cfg = ScheduleConfig()
    ran = [
        d
        for d in weekdays(2026)
        if calendar.as_of_for_monitor(
            calendar.at(d, cfg.monitor_time, NY), dt.timedelta(minutes=30)
        )
    ]
    assert ran == calendar.monitor_days(*year(2026))
    assert D(2026, 11, 26) not in ran and D(2026, 11, 27) in ran


def test_every_2026_review_cron_fire_is_gated_to_review_days() -> None:
    runs = [d for d in weekdays(2026) if calendar.as_of_for_review(d, 3)]
    assert runs == [run for run, _ in calendar.review_days(*year(2026), n=3)]


@pytest.mark.parametrize("n", [1, MAX_REVIEW_DAYS])
def test_review_cron_months_cover_every_review_day(n: int) -> None:
    """The review cron fires only in Jan, Apr, Jul, Oct: every run day of the calendar is there."""
    first, last = calendar.FIRST_DAY.year + 1, calendar.LAST_DAY.year - 1
    runs = calendar.review_days(D(first, 1, 1), D(last, 12, 31), n)
    assert len(runs) == 4 * (last - first + 1)
    assert {run.month for run, _ in runs} == {1, 4, 7, 10}


def test_next_runs() -> None:
    now = dt.datetime(2026, 11, 25, 17, 0, tzinfo=NY)  # after Wednesday's monitor
    assert calendar.next_monitor_run(now, dt.time(16, 30)) == dt.datetime(
        2026, 11, 27, 16, 30, tzinfo=NY
    )
    assert calendar.next_review_run(now, 3, dt.time(7), NY) == (
        dt.datetime(2027, 1, 6, 7, 0, tzinfo=NY),
        D(2026, 12, 31),
    )


def test_out_of_range_is_a_user_error() -> None:
    with pytest.raises(BallastError, match="outside the NYSE calendar"):
        calendar.sessions(D(1990, 1, 1), D(1990, 12, 31))
    with pytest.raises(BallastError):
        calendar.nth_session_after(D(2026, 9, 30), 0)


def test_schedule_config_defaults_and_file(tmp_path) -> None:
    cfg = load(tmp_path)
    assert (cfg.monitor_cron(), cfg.review_cron(), cfg.timezone) == (
        "30 16 * * 1-5",
        "0 7 * 1,4,7,10 1-5",
        "America/New_York",
    )
    (tmp_path / "ballast.yaml").write_text(
        "schedule:\n  review_time: 6:45\n  review_business_days_after_quarter_end: 5\n"
        "  monitor_after_close_minutes: 90\n  enabled: false\n",
        encoding="utf-8",
    )
    cfg = load(tmp_path)  # YAML reads an unquoted 6:45 as 405 minutes
    assert (cfg.review_time, cfg.review_business_days_after_quarter_end) == (dt.time(6, 45), 5)
    assert (cfg.monitor_cron(), cfg.enabled) == ("30 17 * * 1-5", False)
    (tmp_path / "ballast.yaml").write_text("schedule: {timezone: Mars/Base}\n", encoding="utf-8")
    with pytest.raises(BallastError, match=r"ballast.yaml: field schedule.timezone"):
        load(tmp_path)


def test_schedule_command_prints_the_year(tmp_path) -> None:
    from typer.testing import CliRunner

    from ballast.cli.app import app

    (tmp_path / "inbox").mkdir()
    (tmp_path / "ips").mkdir()
    (tmp_path / "ballast.yaml").write_text("schedule: {review_business_days_after_quarter_end: 1}")
    result = CliRunner().invoke(
        app, ["schedule", "--year", "2026", "-w", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "251 NYSE sessions" in result.output
    assert "Thu 2026-10-01" in result.output and "2026-09-30" in result.output
    assert "Nov 26" in result.output and "27*" in result.output
    result = CliRunner().invoke(app, ["schedule", "--year", "1990"])
    assert isinstance(result.exception, BallastError)
