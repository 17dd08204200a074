"""The survey counts (issue 12): ratings from the result call and the post-call survey.

- ``rating``: every ``SurveyResult`` (1-5) whose ticket the viewer may see, dated when given.
- response rate: ratings / chances to rate. A chance is a result call that reached a person
  (answered, rated, wants_officer) or a complaint saved by the IVR (a ticket with a call: the
  caller was offered the post-call survey). Result calls that left a message are not chances.
- periods: the last 30 days, and this month (Bangkok calendar).
- groups: the ticket's category, agency and province.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.console_reads import export_rows
from ticketing.models import SurveyResult, Ticket
from ticketing.queries import visible_condition
from ticketing.result_call_model import ResultCallAttempt
from ticketing.timeutil import bangkok_day_start, bangkok_time, utcnow

GROUPS = ("category", "agency_code", "province_code")
PERSON_REACHED = ("answered", "rated", "wants_officer")


def _scope(actor: Actor | None) -> tuple[Any, ...]:
    visible = visible_condition(actor)
    return () if visible is None else (visible,)


def month_start(now: datetime) -> datetime:
    local = bangkok_time(now)
    return bangkok_day_start(now) - timedelta(days=local.day - 1)


class SurveyMetrics:
    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._now = now

    def figures(self, actor: Actor | None = None) -> dict[str, Any]:
        now = self._now()
        periods = {"30d": now - timedelta(days=30), "month": month_start(now)}
        with self._sessions() as session:
            return {name: self._period(session, start, actor) for name, start in periods.items()}

    def _period(self, session: Session, start: datetime, actor: Actor | None) -> dict[str, Any]:
        scope = _scope(actor)
        rated = (
            select(SurveyResult.rating, func.count())
            .join(Ticket, Ticket.id == SurveyResult.ticket_id)
            .where(SurveyResult.created_at >= start, *scope)
            .group_by(SurveyResult.rating)
        )
        distribution = {str(n): 0 for n in range(1, 6)}
        for rating, count in session.execute(rated):
            distribution[str(int(rating))] = int(count)
        total = sum(distribution.values())
        chances = self._chances(session, start, scope)
        by: dict[str, list[dict[str, Any]]] = {}
        for group in GROUPS:
            column = getattr(Ticket, group)
            query = (
                select(column, func.count(), func.avg(SurveyResult.rating))
                .join(Ticket, Ticket.id == SurveyResult.ticket_id)
                .where(SurveyResult.created_at >= start, *scope)
                .group_by(column)
                .order_by(func.count().desc())
            )
            by[group] = [
                {"key": key or "unknown", "ratings": int(n), "average": round(float(avg), 2)}
                for key, n, avg in session.execute(query)
            ]
        average = sum(int(k) * v for k, v in distribution.items()) / total if total else None
        return {
            "since": start.isoformat(),
            "ratings": total,
            "average": round(average, 2) if average is not None else None,
            "distribution": distribution,
            "chances": chances,
            "response_rate": round(total / chances, 3) if chances else None,
            "by": by,
        }

    @staticmethod
    def _chances(session: Session, start: datetime, scope: tuple[Any, ...]) -> int:
        reached = session.scalar(
            select(func.count())
            .select_from(ResultCallAttempt)
            .join(Ticket, Ticket.id == ResultCallAttempt.ticket_id)
            .where(
                ResultCallAttempt.started_at >= start,
                ResultCallAttempt.outcome.in_(PERSON_REACHED),
                *scope,
            )
        )
        offered = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.call_id.is_not(None), Ticket.created_at >= start, *scope)
        )
        return int(reached or 0) + int(offered or 0)

    def export_rows(self, days: int = 30, actor: Actor | None = None) -> list[tuple[Any, ...]]:
        """The dashboard CSV's rows (tickets per day, category, province, agency, status) with
        the ratings of those tickets: how many and their average."""
        rows = export_rows(self._sessions, days, actor)
        start = bangkok_day_start(self._now()) - timedelta(days=days - 1)
        with self._sessions() as session:
            ratings: dict[int, list[int]] = {}
            query = (
                select(SurveyResult.ticket_id, SurveyResult.rating)
                .join(Ticket, Ticket.id == SurveyResult.ticket_id)
                .where(Ticket.created_at >= start, *_scope(actor))
            )
            for ticket_id, rating in session.execute(query):
                if ticket_id is not None:
                    ratings.setdefault(ticket_id, []).append(int(rating))
            keys = {}
            if ratings:
                for t in session.scalars(select(Ticket).where(Ticket.id.in_(list(ratings)))):
                    day = bangkok_time(t.created_at).date().isoformat()
                    key = (day, t.category or "", t.province_code or "", t.agency_code or "")
                    keys[t.id] = (*key, t.status.value)
        grouped: dict[tuple[str, ...], list[int]] = {}
        for ticket_id, values in ratings.items():
            grouped.setdefault(keys[ticket_id], []).extend(values)
        out = []
        for row in rows:
            values = grouped.get(tuple(str(v) for v in row[:5]), [])
            average = round(sum(values) / len(values), 2) if values else ""
            out.append((*row, len(values), average))
        return out


EXPORT_HEADER = (
    "day_bangkok",
    "category",
    "province_code",
    "agency_code",
    "status",
    "tickets",
    "ratings",
    "rating_average",
)
