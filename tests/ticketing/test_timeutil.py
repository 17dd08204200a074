"""Bangkok time (UTC+7 all year): the one rule for "today" and the Buddhist-era year."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ticketing.console_reads import today_label
from ticketing.timeutil import bangkok_date, bangkok_day_start, bangkok_time


def test_bangkok_date_turns_at_17_utc() -> None:
    assert bangkok_date(datetime(2026, 12, 31, 16, 59, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert bangkok_date(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == date(2027, 1, 1)


def test_naive_times_are_read_as_utc() -> None:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    assert bangkok_time(datetime(2026, 6, 1, 20, 0)).isoformat() == "2026-06-02T03:00:00+07:00"
    assert bangkok_day_start(datetime(2026, 6, 1, 20, 0)) == datetime(2026, 6, 1, 17, tzinfo=UTC)


def test_the_export_is_named_for_the_bangkok_day() -> None:
    assert today_label(datetime(2026, 12, 31, 17, 30, tzinfo=UTC)) == date(2027, 1, 1)
