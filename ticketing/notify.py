"""Notifications: a console list per user (unread count) and mail through the mail outbox.

Both are written inside the transaction of the change that causes them, so a notification exists
exactly when its change does; the mail sender (``ticketing/mail.py``) delivers the outbox later.
Who hears about what:

- an agency's users (and the agency's address in ``agencies.toml``): a ticket routed to it, an
  SLA warning or breach on its ticket;
- the province's supervisors (scope includes the ticket's province): returned tickets, escalation
  levels 1 and 2; level 3 reaches the central supervisors (no province scope).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from config.catalog import Catalog
from ticketing.models import MailOutbox, Notification, Ticket, User
from ticketing.serialize import iso
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Audience:
    agency: str | None = None  # that agency's users
    province_supervisors: str | None = None  # supervisors whose scope includes this province
    central: bool = False  # supervisors without a province scope


@dataclass(frozen=True)
class Recipients:
    """Who may be notified, loaded once (a pass notifies many tickets)."""

    by_agency: dict[str, list[int]]
    by_province: dict[str, list[int]]  # supervisors with that province in scope
    central: list[int]  # supervisors without a province scope

    @classmethod
    def load(cls, session: Session) -> Recipients:
        by_agency: dict[str, list[int]] = {}
        by_province: dict[str, list[int]] = {}
        central: list[int] = []
        query = select(User).where(User.active.is_(True), User.role.in_(("agency", "supervisor")))
        for user in session.scalars(query):
            if user.role == "agency":
                if user.agency_code:
                    by_agency.setdefault(user.agency_code, []).append(user.id)
            elif not user.provinces:
                central.append(user.id)
            else:
                for province in user.provinces:
                    by_province.setdefault(province, []).append(user.id)
        return cls(by_agency, by_province, central)

    def users_for(self, audience: Audience) -> list[int]:
        chosen: list[int] = []
        if audience.agency is not None:
            chosen += self.by_agency.get(audience.agency, [])
        if audience.province_supervisors is not None:
            chosen += self.by_province.get(audience.province_supervisors, [])
        if audience.central:
            chosen += self.central
        return list(dict.fromkeys(chosen))


def recipients(session: Session, audience: Audience) -> list[int]:
    return Recipients.load(session).users_for(audience)


def notify(
    session: Session,
    catalog: Catalog,
    ticket_id: int,
    audience: Audience,
    *,
    kind: str,
    title: str,
    body: str,
    mail_agencies: Iterable[str] = (),
) -> int:
    """Console notifications for every recipient and mail to the agencies' addresses."""
    users = recipients(session, audience)
    now = utcnow()
    for user_id in users:
        session.add(
            Notification(
                user_id=user_id,
                ticket_id=ticket_id,
                kind=kind,
                title=title[:300],
                body=body,
                created_at=now,
            )
        )
    for code in mail_agencies:
        agency = catalog.agencies.get(code)
        if agency is not None and agency.email:
            enqueue_mail(session, agency.email, title, body)
    return len(users)


def enqueue_mail(session: Session, recipient: str, subject: str, body: str) -> None:
    session.add(
        MailOutbox(
            recipient=recipient,
            subject=subject[:300],
            body=body,
            attempts=0,
            next_attempt_at=utcnow(),
        )
    )


def notification_to_dict(row: Notification, reference: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "reference": reference,
        "created_at": iso(row.created_at),
        "read": row.read_at is not None,
    }


class NotificationService:
    """A user's notification list, for the console."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def for_user(self, user_id: int, *, limit: int = 50) -> dict[str, Any]:
        with self._sessions() as session:
            rows = session.execute(
                select(Notification, Ticket.reference)
                .outerjoin(Ticket, Ticket.id == Notification.ticket_id)
                .where(Notification.user_id == user_id)
                .order_by(Notification.id.desc())
                .limit(max(1, min(limit, 200)))
            ).all()
            unread = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            )
            return {
                "unread": int(unread or 0),
                "items": [notification_to_dict(n, ref) for n, ref in rows],
            }

    def mark_read(self, user_id: int, ids: list[int] | None = None) -> int:
        """Mark the given notifications (or all) of this user read; returns how many changed."""
        with self._sessions.begin() as session:
            query = update(Notification).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
            if ids is not None:
                query = query.where(Notification.id.in_(ids))
            return int(session.execute(query.values(read_at=utcnow())).rowcount or 0)  # type: ignore[attr-defined]
