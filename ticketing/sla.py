"""The three SLA clocks of a ticket as pure functions: when each is due, when it warns and
escalates, whether it was met. No database here: the pass (``ticketing/escalation.py``) and the
serializer call these.

- **confirm**: a call-taker confirms the draft within the category's ``confirm_minutes``,
  counted in business hours (``holidays.toml``) unless the category sets
  ``confirm_business_hours = false``.
- **progress**: the citizen hears of progress (a progress report or citizen update) within
  ``progress_days``; a result meets it too.
- **resolve**: a result within ``resolve_days``.

All three run from the ticket's creation. Levels: 1 = warning at 80 % of a clock, 2 = breached
at 100 %, 3 = still breached at 150 % (escalated to the central centre).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from config.catalog import Category
from config.holidays import BusinessCalendar

CLOCKS = ("confirm", "progress", "resolve")
LEVEL_FRACTIONS = {1: 0.8, 2: 1.0, 3: 1.5}
STATES = ("ok", "warning", "breached", "met")
DEFAULT_CONFIRM_MINUTES = 60  # a draft without a category
FINAL = ("rejected", "duplicate")


class ClockSubject(Protocol):
    """The ticket columns the clocks read (an ORM row or a Core row both fit)."""

    created_at: datetime
    confirmed_at: datetime | None
    first_update_at: datetime | None
    resolved_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class ClockPlan:
    clock: str
    due: datetime
    thresholds: dict[int, datetime]  # level -> when it is reached
    done_at: datetime | None  # met, or stopped (rejected / duplicate)

    def state(self, now: datetime, marked_level: int = 0) -> str:
        if self.done_at is not None:
            return "met" if self.done_at <= self.due else "breached"
        if now >= self.due or marked_level >= 2:
            return "breached"
        if now >= self.thresholds[1] or marked_level >= 1:
            return "warning"
        return "ok"

    def reached(self, now: datetime) -> int:
        """The highest level reached by ``now`` while the clock still runs (0: none)."""
        if self.done_at is not None:
            return 0
        return max((lvl for lvl, at in self.thresholds.items() if at <= now), default=0)

    def next_threshold(self, after_level: int) -> datetime | None:
        if self.done_at is not None:
            return None
        later = [at for lvl, at in self.thresholds.items() if lvl > after_level]
        return min(later) if later else None


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def plan_clocks(
    ticket: ClockSubject, status: str, category: Category | None, calendar: BusinessCalendar
) -> list[ClockPlan]:
    created = utc(ticket.created_at)
    assert created is not None
    stopped = utc(ticket.updated_at) if status in FINAL else None
    plans = [_confirm(ticket, status, category, calendar, created, stopped)]
    if category is not None:
        progress_done = utc(ticket.first_update_at) or utc(ticket.resolved_at) or stopped
        plans.append(
            _days("progress", created, category.progress_days, category, calendar, progress_done)
        )
        resolve_done = utc(ticket.resolved_at) or stopped
        plans.append(
            _days("resolve", created, category.resolve_days, category, calendar, resolve_done)
        )
    return plans


def _confirm(
    ticket: ClockSubject,
    status: str,
    category: Category | None,
    calendar: BusinessCalendar,
    created: datetime,
    stopped: datetime | None,
) -> ClockPlan:
    minutes = category.confirm_minutes if category else DEFAULT_CONFIRM_MINUTES
    business = category.confirm_business_hours if category else True
    thresholds = {
        level: (
            calendar.add_business_minutes(created, minutes * fraction)
            if business
            else created + timedelta(minutes=minutes * fraction)
        )
        for level, fraction in LEVEL_FRACTIONS.items()
    }
    done = utc(ticket.confirmed_at)
    if done is None and status != "draft":
        done = stopped or utc(ticket.updated_at)  # left draft some other way: the clock stops
    return ClockPlan("confirm", thresholds[2], thresholds, done)


def _days(
    clock: str,
    created: datetime,
    days: int,
    category: Category,
    calendar: BusinessCalendar,
    done: datetime | None,
) -> ClockPlan:
    thresholds = {
        level: (
            calendar.add_business_days(created, days * fraction)
            if category.days_business_days
            else created + timedelta(days=days * fraction)
        )
        for level, fraction in LEVEL_FRACTIONS.items()
    }
    return ClockPlan(clock, thresholds[2], thresholds, done)


def iso(moment: datetime | None) -> str | None:
    value = utc(moment)
    return value.isoformat() if value is not None else None


def sla_view(ticket: Any, now: datetime) -> dict[str, Any]:
    """The API's ``sla`` object from the stored due times and the scheduler's marked levels.

    Met and breached are decided live; a warning shows once the scheduler has marked it (its
    80 % point depends on the business calendar, which the pass owns)."""
    levels: dict[str, int] = dict(getattr(ticket, "sla_levels", None) or {})
    status = ticket.status.value if hasattr(ticket.status, "value") else str(ticket.status)
    created = utc(ticket.created_at)
    final_at = utc(ticket.updated_at) if status in FINAL else None
    done = {
        "confirm": utc(ticket.confirmed_at)
        or (None if status == "draft" else final_at or utc(ticket.updated_at)),
        "progress": utc(ticket.first_update_at) or utc(ticket.resolved_at) or final_at,
        "resolve": utc(ticket.resolved_at) or final_at,
    }
    dues = {
        "confirm": utc(ticket.confirm_due_at),
        "progress": utc(ticket.progress_due_at),
        "resolve": utc(ticket.resolve_due_at),
    }
    view: dict[str, Any] = {}
    for clock in CLOCKS:
        due = dues[clock]
        if due is None or created is None:
            view[clock] = None
            continue
        marked = int(levels.get(clock, 0))
        finished = done[clock]
        if finished is not None:
            state = "met" if finished <= due else "breached"
        elif now >= due or marked >= 2:
            state = "breached"
        elif marked >= 1:
            state = "warning"
        else:
            state = "ok"
        view[clock] = {"due": iso(due), "state": state, "level": marked}
    return view
