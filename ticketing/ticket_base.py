"""The ticket service's shared core: its transaction, loading, the checks every change makes and
the audit and event helpers (``TicketService`` is composed of this and one mixin per job)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from config.catalog import Catalog
from ticketing.actors import Actor
from ticketing.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from ticketing.models import (
    AuditEvent,
    Ticket,
)
from ticketing.models import (
    AuditEvent as _Audit,
)
from ticketing.reference import (
    InvalidReference,
    normalize_reference,
)
from ticketing.status import TicketStatus
from ticketing.ticket_access import ScopedTicketAccess
from ticketing.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

# Fields a call-taker may edit on an open ticket, and what the audit trail records of them.
EDITABLE_FIELDS = (
    "category",
    "urgent",
    "province_code",
    "district_code",
    "caller_phone",
    "citizen_id",
    "description",
)


@dataclass(frozen=True)
class NewTicket:
    description: str = ""
    category: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    caller_phone: str | None = None
    citizen_id: str | None = None
    urgent: bool = False
    channel: str = "api"
    call_id: str | None = None
    recording_id: int | None = None
    asr_status: str = "none"


@contextmanager
def ticket_transaction(
    sessions: sessionmaker[Session], after_commit: Callable[[], None]
) -> Iterator[Session]:
    """One transaction that changes tickets: a lost optimistic-lock race is a StaleVersion, and
    ``after_commit`` (the outbox relay's kick) runs once it has committed."""
    try:
        with sessions.begin() as session:
            yield session
    except StaleDataError as exc:
        raise StaleVersion("the ticket was changed by someone else; reload it") from exc
    after_commit()


class TicketServiceBase(ScopedTicketAccess):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalog: Catalog,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._after_commit = after_commit
        # Called inside the routing transaction (notifications, mail, Open311 hand-over).
        self.route_hooks: list[Callable[[Session, Ticket], None]] = []

    def _transaction(self) -> AbstractContextManager[Session]:
        return ticket_transaction(self._sessions, self._after_commit)

    def _set_due_times(self, ticket: Ticket) -> None:
        category = self._catalog.categories.get(ticket.category or "")
        start = as_utc(ticket.created_at)
        if category is None:
            ticket.confirm_due_at = start + timedelta(minutes=60)
            ticket.progress_due_at = ticket.resolve_due_at = None
            return
        ticket.confirm_due_at = start + timedelta(minutes=category.confirm_minutes)
        ticket.progress_due_at = start + timedelta(days=category.progress_days)
        ticket.resolve_due_at = start + timedelta(days=category.resolve_days)

    @staticmethod
    def _set_claim(
        session: Session, ticket: Ticket, user_id: int | None, expires: datetime | None
    ) -> None:
        # A Core UPDATE, not an attribute change: the ORM would bump the version column.
        session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(claimed_by=user_id, claim_expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        session.refresh(ticket)

    @staticmethod
    def _live_claim_holder(ticket: Ticket, now: datetime) -> int | None:
        if ticket.claimed_by is None or ticket.claim_expires_at is None:
            return None
        return ticket.claimed_by if as_utc(ticket.claim_expires_at) > now else None

    def _check_claim(self, ticket: Ticket, actor: Actor) -> None:
        """A draft claimed by another call-taker can't be changed by a person until it expires."""
        if actor.user_id is None or ticket.status is not TicketStatus.DRAFT:
            return
        holder = self._live_claim_holder(ticket, utcnow())
        if holder not in (None, actor.user_id):
            raise Conflict(f"ticket {ticket.reference} is being worked on by another call-taker")

    def _load(self, session: Session, reference: str) -> Ticket:
        try:
            digits = normalize_reference(reference)
        except InvalidReference as exc:
            raise NotFound(f"no ticket {reference!r}: {exc}") from exc
        ticket = session.scalars(select(Ticket).where(Ticket.reference == digits)).one_or_none()
        if ticket is None:
            raise NotFound(f"no ticket {digits}")
        return ticket

    def _load_for_change(
        self, session: Session, reference: str, actor: Actor, expected_version: int | None
    ) -> Ticket:
        ticket = self._load(session, reference)
        self._check_visible(ticket, actor)
        self._check_claim(ticket, actor)
        if expected_version is not None and ticket.version != expected_version:
            raise StaleVersion(
                f"ticket {ticket.reference} is at version {ticket.version}, you edited "
                f"version {expected_version}; reload it"
            )
        return ticket

    def _check_visible(self, ticket: Ticket, actor: Actor | None) -> None:
        if actor is not None and not actor.may_see_province(ticket.province_code):
            raise PermissionDenied(f"ticket {ticket.reference} is outside your provinces")

    def _check_category(self, category: str | None) -> None:
        if category is not None and category not in self._catalog.categories:
            raise InvalidInput(f"unknown category {category!r}", "category")

    def _check_place(self, province: str | None, district: str | None) -> None:
        if province is not None and province not in self._catalog.provinces:
            raise InvalidInput(f"unknown province code {province!r}", "province_code")
        if district is None:
            return
        owner = self._catalog.districts.get(district)
        if owner is None:
            raise InvalidInput(f"unknown district code {district!r}", "district_code")
        if province is None:
            raise InvalidInput("a district needs its province", "province_code")
        if owner[0] != province:
            raise InvalidInput(
                f"district {district} is not in province {province}", "district_code"
            )

    def _drop_inconsistent_place(self, ticket: Ticket) -> None:
        """ASR may give a district without province, or one from another province."""
        if ticket.province_code not in self._catalog.provinces:
            ticket.province_code = None
        owner = self._catalog.districts.get(ticket.district_code or "")
        if owner is None:
            ticket.district_code = None
        elif ticket.province_code is None:
            ticket.province_code = owner[0]
        elif owner[0] != ticket.province_code:
            ticket.district_code = None

    def _duplicate_target(
        self, session: Session, ticket: Ticket, duplicate_of: str | None
    ) -> Ticket:
        if not duplicate_of:
            raise InvalidInput("name the original ticket in duplicate_of", "duplicate_of")
        original = self._load(session, duplicate_of)
        if original.id == ticket.id:
            raise InvalidInput("a ticket cannot duplicate itself", "duplicate_of")
        if original.status is TicketStatus.DUPLICATE:
            raise InvalidInput(
                f"{original.reference} is itself a duplicate; link to its original",
                "duplicate_of",
            )
        return original

    def _fields_edited_by_people(self, session: Session, ticket_id: int) -> set[str]:
        edited: set[str] = set()
        for row in session.scalars(
            select(_Audit).where(_Audit.ticket_id == ticket_id, _Audit.action == "edited")
        ):
            edited.update(row.after)
        return edited

    def _audit_rows(self, session: Session, ticket_id: int) -> list[AuditEvent]:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.id)
            )
        )

    @staticmethod
    def _snapshot(ticket: Ticket) -> dict[str, Any]:
        return {
            "status": ticket.status.value,
            "agency_code": ticket.agency_code,
            **{name: getattr(ticket, name) for name in EDITABLE_FIELDS},
        }

    @staticmethod
    def _audit(
        session: Session,
        ticket: Ticket,
        actor: Actor,
        action: str,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        session.add(
            AuditEvent(
                ticket_id=ticket.id, actor=actor.name, action=action, before=before, after=after
            )
        )

    @staticmethod
    def _event_data(ticket: Ticket) -> dict[str, Any]:
        return {
            "reference": ticket.reference,
            "ticket_id": ticket.id,
            "status": ticket.status.value,
            "category": ticket.category,
            "province_code": ticket.province_code,
            "urgent": ticket.urgent,
            "channel": ticket.channel,
            "asr_status": ticket.asr_status,
            "version": ticket.version,
        }
