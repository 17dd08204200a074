"""Supervisor figures from the database (definitions in DOMAIN.md and the README)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.models import Call, Recording, Ticket
from ticketing.queries import overdue_condition, visible_condition
from ticketing.status import OPEN_STATUSES, TicketStatus
from ticketing.timeutil import as_utc, bangkok_day_start, utcnow

AGE_BUCKETS = (("0-7", 0, 7), ("8-15", 8, 15), ("16-30", 16, 30), ("31+", 31, None))
IVR_STALE_AFTER = timedelta(hours=2)  # a call row never ended (node crash) stops counting


class MetricsService:
    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._now = now

    def backlog_by_age(self, actor: Actor | None = None) -> dict[str, int]:
        """Open tickets by age in whole days: 0-7, 8-15, 16-30, 31+ (of the provinces a scoped
        viewer may see)."""
        now = self._now()
        buckets = []
        for name, low, high in AGE_BUCKETS:
            newest = now - timedelta(days=low)
            cond = Ticket.created_at <= newest
            if high is not None:
                cond = cond & (Ticket.created_at > now - timedelta(days=high + 1))
            buckets.append(func.sum(case((cond, 1), else_=0)).label(name))
        query = select(*buckets).where(Ticket.status.in_(OPEN_STATUSES), *_scope(actor))
        with self._sessions() as session:
            row = session.execute(query).one()
            return {name: int(row[i] or 0) for i, (name, _l, _h) in enumerate(AGE_BUCKETS)}

    def backlog_by(self, column: str) -> dict[str, int]:
        """Open tickets grouped by category, province_code or agency_code."""
        if column not in ("category", "province_code", "agency_code"):
            raise ValueError(f"cannot group the backlog by {column!r}")
        field = getattr(Ticket, column)
        query = (
            select(field, func.count())
            .where(Ticket.status.in_(OPEN_STATUSES))
            .group_by(field)
            .order_by(func.count().desc())
        )
        with self._sessions() as session:
            return {str(key or "unknown"): int(n) for key, n in session.execute(query)}

    def overdue_count(self) -> int:
        with self._sessions() as session:
            return int(
                session.scalar(select(func.count()).select_from(Ticket).where(overdue_condition()))
                or 0
            )

    def summary(self, actor: Actor | None = None) -> dict[str, Any]:
        """The live tiles: a handful of aggregate queries, each served from an index. Ticket
        figures count the provinces a scoped viewer may see; calls in the IVR and recording
        failures have no province yet and are the centre's."""
        scope = _scope(actor)
        now = self._now()
        day_start = bangkok_day_start(now)
        with self._sessions() as session:
            drafts = session.execute(
                select(func.count(), func.min(Ticket.created_at)).where(
                    Ticket.status == TicketStatus.DRAFT, *scope
                )
            ).one()
            oldest = drafts[1]
            in_ivr = session.scalar(
                select(func.count())
                .select_from(Call)
                .where(Call.ended_at.is_(None), Call.started_at > now - IVR_STALE_AFTER)
            )
            calls_today, abandoned_today = session.execute(
                select(func.count(), func.sum(case((Call.abandoned, 1), else_=0))).where(
                    Call.started_at >= day_start
                )
            ).one()
            avg_confirm = session.scalar(
                select(
                    func.avg(_seconds_between(session, Ticket.created_at, Ticket.confirmed_at))
                ).where(Ticket.confirmed_at >= now - timedelta(days=1), *scope)
            )
            recording_failures = session.scalar(
                select(func.count())
                .select_from(Recording)
                .where(
                    Recording.write_error.is_not(None),
                    Recording.created_at >= now - timedelta(days=1),
                )
            )
            open_total, urgent_open, overdue = session.execute(
                select(
                    func.count(),
                    func.sum(case((Ticket.urgent, 1), else_=0)),
                    func.sum(case((Ticket.resolve_due_at < now, 1), else_=0)),
                ).where(Ticket.status.in_(OPEN_STATUSES), *scope)
            ).one()
        return {
            "calls_in_ivr": int(in_ivr or 0),
            "calls_today": int(calls_today or 0),
            "abandoned_today": int(abandoned_today or 0),
            "drafts_waiting": int(drafts[0] or 0),
            "oldest_draft_seconds": (now - as_utc(oldest)).total_seconds() if oldest else 0.0,
            "avg_confirm_seconds_24h": float(avg_confirm or 0.0),
            "urgent_open": int(urgent_open or 0),
            "sla_breaches": int(overdue or 0),
            "open_tickets": int(open_total or 0),
            # recordings the IVR could not store in the last 24 h: > 0 means storage trouble
            "recording_failures_24h": int(recording_failures or 0),
        }


def _scope(actor: Actor | None) -> tuple[Any, ...]:
    """The viewer's province scope as extra WHERE terms (none for an unscoped viewer)."""
    visible = visible_condition(actor)
    return () if visible is None else (visible,)


def _seconds_between(session: Session, start: Any, end: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)
