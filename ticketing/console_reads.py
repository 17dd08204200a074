"""The console's and dashboard's read model: the draft queue, claims, recordings, charts, export.

Read-only: every change goes through the ticketing services. Reached as ``Services.console_reads``
so the web package holds no SQL. Days are Bangkok days (``ticketing.timeutil``), which is how
supervisors read "today".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.masking import mask_text
from ticketing.models import AuditEvent, Recording, Ticket, User
from ticketing.queries import visible_condition
from ticketing.serialize import iso
from ticketing.status import TicketStatus
from ticketing.timeutil import as_utc, bangkok_date, bangkok_day_start, utcnow

SNIPPET = 140
GROUPABLE = ("category", "province_code", "agency_code")


def _snippet(text: str | None, actor: Actor) -> str:
    shown = (text or "") if actor.sees_personal_data else mask_text(text) or ""
    return shown[:SNIPPET]


def draft_queue(
    sessions: sessionmaker[Session], actor: Actor, limit: int = 200
) -> list[dict[str, Any]]:
    """Drafts waiting for a call-taker: urgent first, then oldest; with who holds a claim."""
    now = utcnow()
    query = (
        select(
            Ticket.reference,
            Ticket.urgent,
            Ticket.category,
            Ticket.province_code,
            Ticket.district_code,
            Ticket.created_at,
            # A little more than shown: a number cut at the end is masked whole, then trimmed.
            func.substr(Ticket.description, 1, SNIPPET + 40),
            Ticket.asr_status,
            Ticket.channel,
            Ticket.claimed_by,
            Ticket.claim_expires_at,
            User.username,
        )
        .outerjoin(User, User.id == Ticket.claimed_by)
        .where(Ticket.status == TicketStatus.DRAFT)
        .order_by(Ticket.urgent.desc(), Ticket.created_at, Ticket.id)
        .limit(limit)
    )
    visible = visible_condition(actor)
    if visible is not None:
        query = query.where(visible)
    with sessions() as session:
        rows = session.execute(query).all()
    items = []
    for row in rows:
        claimed = row[10] is not None and as_utc(row[10]) > now and row[9] is not None
        items.append(
            {
                "reference": row[0],
                "urgent": bool(row[1]),
                "category": row[2],
                "province_code": row[3],
                "district_code": row[4],
                "created_at": iso(row[5]),
                "snippet": _snippet(row[6], actor),
                "asr_status": row[7],
                "channel": row[8],
                "claimed_by": row[9] if claimed else None,
                "claimed_by_name": row[11] if claimed else None,
                "claim_expires_at": iso(row[10]) if claimed else None,
            }
        )
    return items


def claim_holder(sessions: sessionmaker[Session], reference: str) -> dict[str, Any] | None:
    """Who holds an unexpired claim on a ticket, if anyone."""
    query = (
        select(User.id, User.username, User.display_name, Ticket.claim_expires_at)
        .join(User, User.id == Ticket.claimed_by)
        .where(Ticket.reference == reference)
    )
    with sessions() as session:
        row = session.execute(query).one_or_none()
    if row is None or row[3] is None or as_utc(row[3]) <= utcnow():
        return None
    return {
        "user_id": row[0],
        "username": row[1],
        "display_name": row[2] or row[1],
        "expires_at": iso(row[3]),
    }


@dataclass(frozen=True)
class RecordingInfo:
    id: int
    path: str
    province_code: str | None
    complete: bool


def recording_info(sessions: sessionmaker[Session], recording_id: int) -> RecordingInfo | None:
    query = (
        select(Recording.id, Recording.path, Recording.complete, Ticket.province_code)
        .outerjoin(Ticket, Ticket.recording_id == Recording.id)
        .where(Recording.id == recording_id)
        .limit(1)
    )
    with sessions() as session:
        row = session.execute(query).first()
    if row is None:
        return None
    return RecordingInfo(id=row[0], path=row[1], complete=bool(row[2]), province_code=row[3])


def _scope(actor: Actor | None) -> tuple[Any, ...]:
    """The viewer's province scope as extra WHERE terms (none for an unscoped viewer)."""
    visible = visible_condition(actor)
    return () if visible is None else (visible,)


def _local_day(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(Ticket.created_at.op("AT TIME ZONE")(literal_column("'Asia/Bangkok'")))
    return func.date(Ticket.created_at, "+7 hours")


def tickets_over_time(
    sessions: sessionmaker[Session], column: str, days: int = 14, top: int = 6
) -> dict[str, Any]:
    """Tickets created per Bangkok day for the biggest groups of ``column`` (the rest: other)."""
    return charts_over_time(sessions, days, top)[column]


def charts_over_time(
    sessions: sessionmaker[Session], days: int = 14, top: int = 6, actor: Actor | None = None
) -> dict[str, dict[str, Any]]:
    """The three charts from one scan: tickets per day by category, province and agency."""
    now = utcnow()
    start = bangkok_day_start(now) - timedelta(days=days - 1)
    labels = [(bangkok_date(start) + timedelta(days=i)).isoformat() for i in range(days)]
    with sessions() as session:
        day = _local_day(session)
        # Plain rows, counted here: SQLite groups four columns slower than Python counts them.
        rows = session.execute(
            select(day, Ticket.category, Ticket.province_code, Ticket.agency_code).where(
                Ticket.created_at >= start, *_scope(actor)
            )
        ).all()
    index = {label: i for i, label in enumerate(labels)}
    charts: dict[str, dict[str, Any]] = {}
    for position, column in enumerate(GROUPABLE, start=1):
        per_key: dict[tuple[int, str], int] = defaultdict(int)
        totals: dict[str, int] = defaultdict(int)
        for row in rows:
            slot = index.get(str(row[0])[:10])
            if slot is None:
                continue
            key = str(row[position] or "unknown")
            per_key[(slot, key)] += 1
            totals[key] += 1
        leaders = [k for k, _n in sorted(totals.items(), key=lambda kv: -kv[1])[:top]]
        series: dict[str, list[int]] = {k: [0] * days for k in leaders}
        for (slot, key), count in per_key.items():
            name = key if key in series else "other"
            series.setdefault(name, [0] * days)[slot] += count
        charts[column] = {"days": labels, "series": series}
    return charts


ACTIVITY_ACTIONS = {
    "status:confirmed": "confirmed",
    "routed": "routed",
    "status:resolved": "resolved",
    "status:rejected": "rejected",
    "status:duplicate": "duplicate",
    "edited": "edited",
}


def activity_today(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Per call-taker counts of what they did since the start of the Bangkok day."""
    start = bangkok_day_start(utcnow())
    query = (
        select(AuditEvent.actor, AuditEvent.action, func.count())
        .where(
            and_(
                AuditEvent.at >= start,
                AuditEvent.action.in_(list(ACTIVITY_ACTIONS)),
                AuditEvent.actor.not_like("system:%"),
            )
        )
        .group_by(AuditEvent.actor, AuditEvent.action)
    )
    with sessions() as session:
        rows = session.execute(query).all()
    people: dict[str, dict[str, Any]] = {}
    for actor, action, count in rows:
        entry = people.setdefault(
            actor, {"actor": actor, **{name: 0 for name in ACTIVITY_ACTIONS.values()}}
        )
        entry[ACTIVITY_ACTIONS[action]] += int(count)
    return sorted(people.values(), key=lambda e: (-e["confirmed"] - e["routed"], e["actor"]))


def export_rows(
    sessions: sessionmaker[Session], days: int = 30, actor: Actor | None = None
) -> list[tuple[Any, ...]]:
    """Tickets per Bangkok day, category, province, agency and status (no personal data)."""
    start = bangkok_day_start(utcnow()) - timedelta(days=days - 1)
    with sessions() as session:
        day = _local_day(session)
        query = (
            select(
                day,
                Ticket.category,
                Ticket.province_code,
                Ticket.agency_code,
                Ticket.status,
                func.count(),
            )
            .where(Ticket.created_at >= start, *_scope(actor))
            .group_by(day, Ticket.category, Ticket.province_code, Ticket.agency_code, Ticket.status)
            .order_by(day)
        )
        rows = session.execute(query).all()
    return [
        (
            str(r[0])[:10],
            r[1] or "",
            r[2] or "",
            r[3] or "",
            r[4].value if isinstance(r[4], TicketStatus) else str(r[4]),
            int(r[5]),
        )
        for r in rows
    ]


def today_label(now: datetime | None = None) -> date:
    return bangkok_date(now or utcnow())


class ConsoleReads:
    """The read model bound to one process's sessions (``Services.console_reads``)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def draft_queue(self, actor: Actor, limit: int = 200) -> list[dict[str, Any]]:
        return draft_queue(self._sessions, actor, limit)

    def claim_holder(self, reference: str) -> dict[str, Any] | None:
        return claim_holder(self._sessions, reference)

    def recording_info(self, recording_id: int) -> RecordingInfo | None:
        return recording_info(self._sessions, recording_id)

    def charts_over_time(
        self, days: int = 14, top: int = 6, actor: Actor | None = None
    ) -> dict[str, dict[str, Any]]:
        return charts_over_time(self._sessions, days, top, actor)

    def activity_today(self) -> list[dict[str, Any]]:
        return activity_today(self._sessions)

    def export_rows(self, days: int = 30, actor: Actor | None = None) -> list[tuple[Any, ...]]:
        return export_rows(self._sessions, days, actor)

    def today_label(self) -> date:
        return today_label()
