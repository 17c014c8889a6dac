"""Next-run times for each frequency, in the installation's time zone, across DST."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from settings_app.models import SyncSettings
from sync.schedule import next_run

LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")


def settings(**values) -> SyncSettings:
    return SyncSettings(**values)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_never_never_runs():
    assert next_run(settings(frequency="never"), utc(2026, 6, 1, 12), LONDON) is None


def test_hourly_runs_at_the_next_full_hour():
    hourly = settings(frequency="hourly")
    assert next_run(hourly, utc(2026, 6, 1, 12, 0), LONDON) == utc(2026, 6, 1, 13)
    assert next_run(hourly, utc(2026, 6, 1, 12, 59, 59), LONDON) == utc(2026, 6, 1, 13)


def test_hourly_follows_a_half_hour_time_zone():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local full hours are UTC half hours
    assert next_run(settings(frequency="hourly"), utc(2026, 6, 1, 12, 10), kolkata) == utc(
        2026, 6, 1, 12, 30
    )


def test_hourly_across_the_spring_forward_gap_runs_every_real_hour():
    hourly = settings(frequency="hourly")
    # London jumps from 01:00 GMT to 02:00 BST on 29 March 2026 (01:00 UTC).
    first = next_run(hourly, utc(2026, 3, 29, 0, 30), LONDON)
    second = next_run(hourly, first, LONDON)
    assert (first, second) == (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))


def test_daily_runs_at_the_local_hour_before_and_after_dst():
    daily = settings(frequency="daily", hour=6)
    assert next_run(daily, utc(2026, 3, 27, 12), LONDON) == utc(2026, 3, 28, 6)  # GMT
    assert next_run(daily, utc(2026, 3, 28, 12), LONDON) == utc(2026, 3, 29, 5)  # BST


def test_daily_at_an_hour_the_clock_skips_runs_once_after_the_gap():
    daily = settings(frequency="daily", hour=1)  # 01:00-02:00 does not exist on 29 March
    assert next_run(daily, utc(2026, 3, 28, 12), LONDON) == utc(2026, 3, 29, 1)


def test_daily_at_an_hour_that_happens_twice_runs_once():
    daily = settings(frequency="daily", hour=1)  # 01:00 happens twice on 25 October
    first = next_run(daily, utc(2026, 10, 24, 12), LONDON)
    assert first == utc(2026, 10, 25, 0)  # the first 01:00, still BST
    assert next_run(daily, first, LONDON) == utc(2026, 10, 26, 1)


def test_weekly_runs_on_its_day():
    weekly = settings(frequency="weekly", weekday="wed", hour=9)
    # Monday 1 June 2026 → Wednesday 3 June, 09:00 BST
    assert next_run(weekly, utc(2026, 6, 1, 12), LONDON) == utc(2026, 6, 3, 8)
    assert next_run(weekly, utc(2026, 6, 3, 8), LONDON) == utc(2026, 6, 10, 8)


def test_custom_runs_on_the_chosen_days():
    custom = settings(frequency="custom", custom_days="mon,fri", hour=23)
    after = utc(2026, 6, 1, 21, 59)  # Monday 22:59 BST
    first = next_run(custom, after, LONDON)
    assert first == utc(2026, 6, 1, 22)
    assert next_run(custom, first, LONDON) == utc(2026, 6, 5, 22)


@pytest.mark.parametrize(
    "after, expected",
    [
        (utc(2026, 4, 3, 12), utc(2026, 4, 3, 20)),  # 07:00 AEDT (UTC+11) on 4 April
        (utc(2026, 4, 4, 12), utc(2026, 4, 4, 21)),  # 07:00 AEST (UTC+10) on 5 April
    ],
)
def test_southern_hemisphere_dst(after, expected):
    assert next_run(settings(frequency="daily", hour=7), after, SYDNEY) == expected
