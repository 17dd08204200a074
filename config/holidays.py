"""Business hours and public holidays (``holidays.toml``): the calendar the confirm clock uses.

``add_business_minutes`` counts only minutes inside business hours on business days (Bangkok
time, UTC+7 all year); the SLA module uses it for the minute-based clock and
``add_business_days`` for day-based clocks that opt in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from config.catalog import CatalogError, read_toml, resolve_file

BANGKOK = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class BusinessCalendar:
    start: time = time(8, 30)
    end: time = time(16, 30)
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[date] = frozenset()

    def is_business_day(self, day: date) -> bool:
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def add_business_minutes(self, moment: datetime, minutes: float) -> datetime:
        """The UTC time after ``minutes`` of business time counted from ``moment``."""
        remaining = timedelta(minutes=minutes)
        local = moment.astimezone(BANGKOK)
        for _ in range(3660):  # ten years of days: a calendar with no business day ends here
            day = local.date()
            if self.is_business_day(day):
                opens = datetime.combine(day, self.start, BANGKOK)
                closes = datetime.combine(day, self.end, BANGKOK)
                begin = max(local, opens)
                if begin < closes:
                    if begin + remaining <= closes:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= closes - begin
            local = datetime.combine(day + timedelta(days=1), time(0), BANGKOK)
        raise CatalogError("holidays.toml: the calendar has no business hours at all")

    def add_business_days(self, moment: datetime, days: float) -> datetime:
        """``days`` business days later, at the same time of day."""
        whole = int(days)
        local = moment.astimezone(BANGKOK)
        counted = 0
        while counted < whole:
            local += timedelta(days=1)
            if self.is_business_day(local.date()):
                counted += 1
        return (local + timedelta(days=days - whole)).astimezone(UTC)


def load_calendar(config_dir: Path | None = None) -> BusinessCalendar:
    path = resolve_file("holidays.toml", config_dir)
    data = read_toml(path)
    hours: dict[str, Any] = data.get("business_hours") or {}
    if not isinstance(hours, dict):
        raise CatalogError(f"{path}: [business_hours] must be a table")
    start = _clock(path, hours.get("start", "08:30"), "start")
    end = _clock(path, hours.get("end", "16:30"), "end")
    if end <= start:
        raise CatalogError(f"{path}: business_hours: end must be after start")
    weekdays = hours.get("weekdays", [1, 2, 3, 4, 5])
    if (
        not isinstance(weekdays, list)
        or not weekdays
        or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in weekdays)
    ):
        raise CatalogError(f"{path}: business_hours: weekdays must list ISO weekdays 1-7")
    holidays: set[date] = set()
    for index, entry in enumerate(data.get("holiday") or [], start=1):
        value = entry.get("date") if isinstance(entry, dict) else None
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CatalogError(f"{path}: holiday #{index}: 'date' must be a date like 2026-04-13")
        holidays.add(value)
    return BusinessCalendar(start, end, frozenset(weekdays), frozenset(holidays))


def _clock(path: Path, value: Any, name: str) -> time:
    try:
        hour, minute = str(value).split(":")
        return time(int(hour), int(minute))
    except ValueError as exc:
        raise CatalogError(
            f"{path}: business_hours: '{name}' must be HH:MM, got {value!r}"
        ) from exc
