"""The centre's chase lists and SLA figures: overdue, due today, long pending, returned by an
agency, "cannot be solved"; SLA met % per clock, category and agency; per-clock gauges.

A clock is *met* when its event (confirmation, first progress report or citizen update, result)
came by its due time; *decided* when it came at all or its due time has passed. Met % = met /
decided over tickets created in the window (30 days unless asked otherwise).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from config.holidays import BANGKOK
from ticketing.actors import Actor
from ticketing.models import Ticket
from ticketing.serialize import ticket_to_dict
from ticketing.status import OPEN_STATUSES, TicketStatus
from ticketing.timeutil import utcnow

WORKLISTS = (
    "overdue",
    "due_today",
    "pending_30",
    "pending_60",
    "pending_90",
    "returned",
    "cannot_be_solved",
)
CLOCK_COLUMNS = {
    "confirm": (Ticket.confirm_due_at, Ticket.confirmed_at),
    "progress": (Ticket.progress_due_at, func.coalesce(Ticket.first_update_at, Ticket.resolved_at)),
    "resolve": (Ticket.resolve_due_at, Ticket.resolved_at),
}

SLA_BREACHED = Gauge(
    "hotline_sla_breached_tickets",
    "Open tickets whose clock is past due and not yet met, by clock.",
    ["clock"],
)
SLA_MET_RATIO = Gauge(
    "hotline_sla_met_ratio",
    "Share of decided clocks met in time, tickets created in the last 30 days, by clock.",
    ["clock"],
)
SLA_ESCALATED = Gauge(
    "hotline_sla_escalated_tickets", "Open tickets by escalation level.", ["level"]
)


def breached_condition(clock: str, now: datetime) -> ColumnElement[bool]:
    due, done = CLOCK_COLUMNS[clock]
    running = Ticket.status == TicketStatus.DRAFT if clock == "confirm" else done.is_(None)
    return and_(Ticket.status.in_(OPEN_STATUSES), running, due.is_not(None), due < now)


def _worklist_condition(name: str, now: datetime) -> ColumnElement[bool]:
    open_ = Ticket.status.in_(OPEN_STATUSES)
    if name == "overdue":
        return or_(*(breached_condition(c, now) for c in CLOCK_COLUMNS))
    if name == "due_today":
        local = now.astimezone(BANGKOK)
        end = datetime.combine(local.date() + timedelta(days=1), time(0), BANGKOK)
        upcoming = [
            and_(
                due.is_not(None),
                due >= now,
                due < end,
                (Ticket.status == TicketStatus.DRAFT) if clock == "confirm" else done.is_(None),
            )
            for clock, (due, done) in CLOCK_COLUMNS.items()
        ]
        return and_(open_, or_(*upcoming))
    if name.startswith("pending_"):
        days = int(name.split("_")[1])
        return and_(open_, Ticket.created_at < now - timedelta(days=days))
    if name == "returned":
        return and_(Ticket.status == TicketStatus.CONFIRMED, Ticket.returned_by.is_not(None))
    if name == "cannot_be_solved":
        return Ticket.resolution_type == "cannot_be_solved"
    raise ValueError(f"unknown worklist {name!r}; one of {', '.join(WORKLISTS)}")


def _scope(actor: Actor | None) -> ColumnElement[bool] | None:
    if actor is not None and actor.provinces and actor.role in ("agent", "supervisor"):
        return Ticket.province_code.in_(actor.provinces)
    return None


class SlaReports:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def counts(self, actor: Actor | None, now: datetime | None = None) -> dict[str, int]:
        moment = now or utcnow()
        scope = _scope(actor)
        columns = [
            func.coalesce(func.sum(case((_worklist_condition(n, moment), 1), else_=0)), 0).label(n)
            for n in WORKLISTS
        ]
        query = select(*columns).select_from(Ticket)
        if scope is not None:
            query = query.where(scope)
        with self._sessions() as session:
            row = session.execute(query).one()
            return {n: int(getattr(row, n)) for n in WORKLISTS}

    def worklist(
        self, name: str, actor: Actor | None, *, now: datetime | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        moment = now or utcnow()
        query = select(Ticket).where(_worklist_condition(name, moment))
        scope = _scope(actor)
        if scope is not None:
            query = query.where(scope)
        query = query.order_by(Ticket.resolve_due_at.is_(None), Ticket.resolve_due_at, Ticket.id)
        with self._sessions() as session:
            rows = session.scalars(query.limit(max(1, min(limit, 500))))
            return [ticket_to_dict(t, actor) for t in rows]

    def met_rates(
        self, actor: Actor | None, *, days: int = 30, now: datetime | None = None
    ) -> dict[str, Any]:
        """Met % per clock, and per clock by category and by agency."""
        moment = now or utcnow()
        since = moment - timedelta(days=days)
        scope = _scope(actor)
        result: dict[str, Any] = {"days": days, "clocks": {}, "by_category": {}, "by_agency": {}}
        with self._sessions() as session:
            for clock, (due, done) in CLOCK_COLUMNS.items():
                met = func.sum(case((and_(done.is_not(None), done <= due), 1), else_=0))
                decided = func.sum(
                    case(
                        (
                            or_(
                                done.is_not(None),
                                and_(Ticket.status.in_(OPEN_STATUSES), due < moment),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                )
                base = [Ticket.created_at >= since, due.is_not(None)]
                if clock == "confirm":  # rejected or duplicate drafts were never confirmed
                    base.append(not_(Ticket.status.in_(("rejected", "duplicate"))))
                if scope is not None:
                    base.append(scope)
                total = session.execute(select(met, decided).where(*base)).one()
                result["clocks"][clock] = _rate(total[0], total[1])
                for key, column in (
                    ("by_category", Ticket.category),
                    ("by_agency", Ticket.agency_code),
                ):
                    rows = session.execute(
                        select(column, met, decided).where(*base).group_by(column)
                    ).all()
                    table = result[key].setdefault(clock, {})
                    for name, m, d in rows:
                        if d:
                            table[name or "-"] = _rate(m, d)
        return result

    def refresh_gauges(self, now: datetime | None = None) -> None:
        """Set the per-clock gauges (the scheduler after each pass; web before /metrics)."""
        moment = now or utcnow()
        with self._sessions() as session:
            for clock in CLOCK_COLUMNS:
                count = session.scalar(
                    select(func.count())
                    .select_from(Ticket)
                    .where(breached_condition(clock, moment))
                )
                SLA_BREACHED.labels(clock=clock).set(int(count or 0))
            levels = dict(
                session.execute(
                    select(Ticket.escalation_level, func.count())
                    .where(Ticket.status.in_(OPEN_STATUSES))
                    .group_by(Ticket.escalation_level)
                ).all()
            )
            for level in (1, 2, 3):
                SLA_ESCALATED.labels(level=str(level)).set(int(levels.get(level, 0)))
        for clock, rate in self.met_rates(None, now=moment)["clocks"].items():
            SLA_MET_RATIO.labels(clock=clock).set(rate["ratio"] if rate["ratio"] is not None else 0)


def _rate(met: Any, decided: Any) -> dict[str, Any]:
    met_n, decided_n = int(met or 0), int(decided or 0)
    return {
        "met": met_n,
        "decided": decided_n,
        "ratio": round(met_n / decided_n, 4) if decided_n else None,
    }
