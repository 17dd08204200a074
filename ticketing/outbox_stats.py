"""How far the outbox relay is behind: events written but not yet on the event stream.

A backlog that grows means Redis is unreachable or no writing process runs its relay; the events
are safe in the database and go out once that is mended (the alert in deploy/prometheus/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.models import OutboxEvent
from ticketing.timeutil import as_utc, utcnow


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int
    oldest_seconds: float


def outbox_backlog(
    sessions: sessionmaker[Session], now: Callable[[], datetime] = utcnow
) -> OutboxBacklog:
    with sessions() as session:
        pending, oldest = session.execute(
            select(func.count(OutboxEvent.id), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.published_at.is_(None)
            )
        ).one()
    if oldest is None:
        return OutboxBacklog(pending=0, oldest_seconds=0.0)
    age = (now() - as_utc(oldest)).total_seconds()
    return OutboxBacklog(pending=int(pending), oldest_seconds=max(0.0, age))


def outbox_text(backlog: OutboxBacklog) -> str:
    """The backlog as Prometheus text (the web role adds it to its /metrics)."""
    return (
        "# HELP hotline_outbox_pending Events not yet relayed to the event stream.\n"
        "# TYPE hotline_outbox_pending gauge\n"
        f"hotline_outbox_pending {backlog.pending}\n"
        "# HELP hotline_outbox_oldest_seconds Age of the oldest event not yet relayed.\n"
        "# TYPE hotline_outbox_oldest_seconds gauge\n"
        f"hotline_outbox_oldest_seconds {backlog.oldest_seconds}\n"
    )
