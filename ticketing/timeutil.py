"""Time helpers: every stored time is timezone-aware UTC; Thai display is the UI's job.

Thailand keeps one offset all year (UTC+7, no daylight saving): "today", the day of a chart and the
Buddhist-era year of a reference number are all counted on Bangkok time, through the helpers here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

BANGKOK_OFFSET = timedelta(hours=7)
BANGKOK = timezone(BANGKOK_OFFSET, "Asia/Bangkok")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def bangkok_time(moment: datetime) -> datetime:
    """The same instant on Bangkok's clock (naive datetimes are read as UTC)."""
    return as_utc(moment).astimezone(BANGKOK)


def bangkok_date(moment: datetime) -> date:
    """The Bangkok calendar day an instant falls on."""
    return bangkok_time(moment).date()


def bangkok_day_start(moment: datetime) -> datetime:
    """Midnight in Thailand, where "today" is counted, as a UTC time."""
    local = bangkok_time(moment)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
