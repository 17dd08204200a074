"""Ticket service: owns every ticket transaction, its audit trail and its events."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from config.catalog import Catalog, Suggestion
from ticketing.actors import Actor
from ticketing.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from ticketing.events import record_event
from ticketing.filters import TicketFilter
from ticketing.models import (
    AuditEvent,
    CitizenUpdate,
    ReferenceCounter,
    RoutingAssignment,
    Ticket,
)
from ticketing.models import (
    AuditEvent as _Audit,
)
from ticketing.queries import ticket_query
from ticketing.reference import (
    InvalidReference,
    buddhist_year_prefix,
    format_reference,
    normalize_reference,
)
from ticketing.serialize import (
    assignment_to_dict,
    audit_to_dict,
    ticket_to_dict,
    update_to_dict,
)
from ticketing.status import OPEN_STATUSES, IllegalTransition, TicketStatus, check_transition
from ticketing.ticket_access import ScopedTicketAccess
from ticketing.timeutil import as_utc, utcnow
from ticketing.validation import (
    CHANNELS,
    clean_citizen_id,
    clean_phone,
    clean_text,
)

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


class TicketService(ScopedTicketAccess):
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

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except StaleDataError as exc:
            raise StaleVersion("the ticket was changed by someone else; reload it") from exc
        self._after_commit()

    # --- creation -------------------------------------------------------------------------
    def create(self, new: NewTicket, actor: Actor) -> dict[str, Any]:
        values = self._validated(new)
        self._check_placement(values["province_code"], actor)
        for attempt in range(5):
            try:
                with self._transaction() as session:
                    ticket = self._insert(session, values, actor)
                    return ticket_to_dict(ticket, actor)
            except IntegrityError as exc:
                # Should not happen (the counter is race-free); a retry is cheap insurance.
                log.warning("reference collision on attempt %d: %s", attempt + 1, exc.orig)
        raise Conflict("could not allocate a reference number; try again")

    def create_in_session(self, session: Session, new: NewTicket, actor: Actor) -> Ticket:
        """For other services that create a ticket inside their own transaction (the IVR)."""
        return self._insert(session, self._validated(new), actor)

    def _validated(self, new: NewTicket) -> dict[str, Any]:
        if new.channel not in CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", "channel")
        values = {f.name: getattr(new, f.name) for f in fields(new)}
        values["description"] = clean_text(new.description, "description", 20_000)
        values["caller_phone"] = clean_phone(new.caller_phone)
        values["citizen_id"] = clean_citizen_id(new.citizen_id)
        self._check_category(new.category)
        self._check_place(new.province_code, new.district_code)
        return values

    def _insert(self, session: Session, values: dict[str, Any], actor: Actor) -> Ticket:
        now = utcnow()
        ticket = Ticket(
            reference=self._next_reference(session, now),
            status=TicketStatus.DRAFT,
            created_at=now,
            updated_at=now,
            field_confidence={},
            **values,
        )
        self._set_due_times(ticket)
        session.add(ticket)
        session.flush()
        self._audit(session, ticket, actor, "created", {}, self._snapshot(ticket))
        record_event(session, "ticket.created", self._event_data(ticket))
        log.info(
            "ticket %s created by %s (channel %s)", ticket.reference, actor.name, ticket.channel
        )
        return ticket

    def _next_reference(self, session: Session, now: datetime) -> str:
        year = buddhist_year_prefix(now)
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        # The year's counter row is made once, race-free: a concurrent twin waits for the first
        # insert and then does nothing. The UPDATE then holds the row lock to commit, so two
        # transactions never read the same value.
        session.execute(
            insert(ReferenceCounter)
            .values(year_prefix=year, last_value=0)
            .on_conflict_do_nothing(index_elements=["year_prefix"])
        )
        counter = session.execute(
            update(ReferenceCounter)
            .where(ReferenceCounter.year_prefix == year)
            .values(last_value=ReferenceCounter.last_value + 1)
            .returning(ReferenceCounter.last_value)
        ).scalar_one()
        return format_reference(year, counter)

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

    # --- reading ----------------------------------------------------------------------------
    def get(self, reference: str, actor: Actor | None = None) -> dict[str, Any]:
        with self._sessions() as session:
            ticket = self._load(session, reference)
            self._check_visible(ticket, actor)
            return ticket_to_dict(ticket, actor)

    def detail(self, reference: str, actor: Actor | None = None) -> dict[str, Any]:
        """The ticket with its audit trail, routing history and citizen-facing updates."""
        with self._sessions() as session:
            ticket = self._load(session, reference)
            self._check_visible(ticket, actor)
            data = ticket_to_dict(ticket, actor)
            data["audit"] = [audit_to_dict(a, actor) for a in self._audit_rows(session, ticket.id)]
            data["assignments"] = [
                assignment_to_dict(a, actor)
                for a in session.scalars(
                    select(RoutingAssignment)
                    .where(RoutingAssignment.ticket_id == ticket.id)
                    .order_by(RoutingAssignment.id)
                )
            ]
            data["updates"] = [
                update_to_dict(u, actor)
                for u in session.scalars(
                    select(CitizenUpdate)
                    .where(CitizenUpdate.ticket_id == ticket.id)
                    .order_by(CitizenUpdate.id)
                )
            ]
            suggestion = self._catalog.suggestion(
                ticket.category, ticket.province_code, ticket.district_code
            )
            data["suggested_agency"] = suggestion.agency
            data["suggestion_rule"] = suggestion.why
            return data

    def audit(self, reference: str, actor: Actor | None = None) -> list[dict[str, Any]]:
        with self._sessions() as session:
            ticket = self._load(session, reference)
            self._check_visible(ticket, actor)
            return [audit_to_dict(a, actor) for a in self._audit_rows(session, ticket.id)]

    def search(
        self,
        filters: TicketFilter,
        actor: Actor | None = None,
        *,
        cursor: int | None = None,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first; ``cursor`` is the id to continue below. Returns (items, next_cursor)."""
        limit = max(1, min(limit, 200))
        query = ticket_query(filters, actor).order_by(Ticket.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(Ticket.id < cursor)
        with self._sessions() as session:
            rows = list(session.scalars(query))
            items = [ticket_to_dict(t, actor) for t in rows[:limit]]
            next_cursor = rows[limit - 1].id if len(rows) > limit else None
            return items, next_cursor

    def open_tickets_for_phone(self, phone: str) -> list[dict[str, Any]]:
        """A repeat caller's open tickets, newest first (the IVR offers their status)."""
        try:
            cleaned = clean_phone(phone)
        except InvalidInput:
            return []
        if cleaned is None:
            return []
        query = (
            select(Ticket)
            .where(Ticket.caller_phone == cleaned, Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.id.desc())
            .limit(10)
        )
        with self._sessions() as session:
            return [ticket_to_dict(t) for t in session.scalars(query)]

    def suggest_agency(self, reference: str) -> str:
        return self.suggestion(reference).agency

    def suggestion(self, reference: str) -> Suggestion:
        """The suggested agency and the routing rule that chose it (district > province > *)."""
        with self._sessions() as session:
            ticket = self._load(session, reference)
            return self._catalog.suggestion(
                ticket.category, ticket.province_code, ticket.district_code
            )

    # --- changes ----------------------------------------------------------------------------
    def update_fields(
        self,
        reference: str,
        changes: dict[str, Any],
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        unknown = set(changes) - set(EDITABLE_FIELDS)
        if unknown:
            raise InvalidInput(f"fields that cannot be edited: {', '.join(sorted(unknown))}")
        with self._transaction() as session:
            ticket = self._load_for_change(session, reference, actor, expected_version)
            if ticket.status not in OPEN_STATUSES:
                raise Conflict(f"ticket {reference} is {ticket.status}; reopen it to edit")
            before = self._snapshot(ticket)
            merged = {**{f: getattr(ticket, f) for f in EDITABLE_FIELDS}, **changes}
            if "caller_phone" in changes:
                merged["caller_phone"] = clean_phone(changes["caller_phone"])
            if "citizen_id" in changes:
                merged["citizen_id"] = clean_citizen_id(changes["citizen_id"])
            if "description" in changes:
                merged["description"] = clean_text(changes["description"], "description", 20_000)
            if not isinstance(merged["urgent"], bool):
                raise InvalidInput("urgent must be true or false", "urgent")
            self._check_category(merged["category"])
            self._check_place(merged["province_code"], merged["district_code"])
            self._check_placement(merged["province_code"], actor)
            self._check_masked_edit(ticket, changes, actor)
            for name in EDITABLE_FIELDS:
                setattr(ticket, name, merged[name])
            if "category" in changes:
                self._set_due_times(ticket)
            after = self._snapshot(ticket)
            diff_before = {k: v for k, v in before.items() if after.get(k) != v}
            diff_after = {k: after[k] for k in diff_before}
            if not diff_before:
                return ticket_to_dict(ticket, actor)
            ticket.updated_at = utcnow()
            self._audit(session, ticket, actor, "edited", diff_before, diff_after)
            record_event(session, "ticket.updated", self._event_data(ticket))
            session.flush()
            return ticket_to_dict(ticket, actor)

    def transition(
        self,
        reference: str,
        target: str,
        actor: Actor,
        *,
        reason: str | None = None,
        duplicate_of: str | None = None,
        resolution: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        try:
            to = TicketStatus(target)
        except ValueError as exc:
            allowed = ", ".join(s.value for s in TicketStatus)
            raise InvalidInput(f"unknown status {target!r}; one of {allowed}", "to") from exc
        if to is TicketStatus.ROUTED:
            raise InvalidInput("use routing to send a ticket to an agency", "to")
        with self._transaction() as session:
            ticket = self._load_for_change(session, reference, actor, expected_version)
            before = self._snapshot(ticket)
            try:
                check_transition(ticket.status, to)
            except IllegalTransition as exc:
                raise Conflict(f"ticket {reference}: {exc}") from exc
            now = utcnow()
            if to is TicketStatus.REJECTED:
                ticket.reject_reason = clean_text(reason, "reason", 2000, required=True)
            elif to is TicketStatus.DUPLICATE:
                original = self._duplicate_target(session, ticket, duplicate_of)
                ticket.duplicate_of_id = original.id
            elif to is TicketStatus.CONFIRMED:
                if not ticket.category:
                    raise InvalidInput("set a category before confirming", "category")
                ticket.confirmed_at = now
                ticket.claimed_by = None
                ticket.claim_expires_at = None
            elif to is TicketStatus.RESOLVED:
                ticket.resolution = clean_text(resolution, "resolution", 20_000) or None
                ticket.resolved_at = now
            elif to is TicketStatus.CLOSED:
                ticket.closed_at = now
            elif to is TicketStatus.REOPENED:
                ticket.resolved_at = None
                ticket.closed_at = None
                if reason:
                    ticket.reject_reason = None
            ticket.status = to
            ticket.updated_at = now
            after = self._snapshot(ticket)
            if reason and to is not TicketStatus.REJECTED:
                after["reason"] = clean_text(reason, "reason", 2000)
            self._audit(session, ticket, actor, f"status:{to.value}", before, after)
            record_event(
                session,
                "ticket.transitioned",
                {**self._event_data(ticket), "from": before["status"], "to": to.value},
            )
            session.flush()
            return ticket_to_dict(ticket, actor)

    def route(
        self,
        reference: str,
        agency_code: str | None,
        actor: Actor,
        *,
        note: str = "",
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Send a confirmed (or reopened, or already routed) ticket to an agency."""
        with self._transaction() as session:
            ticket = self._load_for_change(session, reference, actor, expected_version)
            suggested = self._catalog.suggest_agency(
                ticket.category, ticket.province_code, ticket.district_code
            )
            agency = agency_code or suggested
            if agency not in self._catalog.agencies:
                raise InvalidInput(f"unknown agency {agency!r}", "agency_code")
            before = self._snapshot(ticket)
            try:
                check_transition(ticket.status, TicketStatus.ROUTED)
            except IllegalTransition as exc:
                raise Conflict(f"ticket {reference}: {exc}") from exc
            session.execute(
                update(RoutingAssignment)
                .where(RoutingAssignment.ticket_id == ticket.id, RoutingAssignment.active)
                .values(active=False)
            )
            session.add(
                RoutingAssignment(
                    ticket_id=ticket.id,
                    agency_code=agency,
                    suggested_agency=suggested,
                    note=clean_text(note, "note", 2000),
                    assigned_by=actor.name,
                )
            )
            now = utcnow()
            ticket.status = TicketStatus.ROUTED
            ticket.agency_code = agency
            ticket.routed_at = now
            ticket.updated_at = now
            self._audit(session, ticket, actor, "routed", before, self._snapshot(ticket))
            record_event(
                session,
                "ticket.routed",
                {**self._event_data(ticket), "agency_code": agency, "suggested": suggested},
            )
            session.flush()
            for hook in self.route_hooks:
                hook(session, ticket)
            return ticket_to_dict(ticket, actor)

    def add_citizen_update(
        self, reference: str, message: str, actor: Actor, *, channel: str = "phone"
    ) -> dict[str, Any]:
        text = clean_text(message, "message", 5000, required=True)
        if channel not in ("phone", "sms", "letter", "email", "line", "in_person"):
            raise InvalidInput(f"unknown channel {channel!r}", "channel")
        with self._transaction() as session:
            ticket = self._load_for_change(session, reference, actor, None)
            update_row = CitizenUpdate(
                ticket_id=ticket.id, message=text, channel=channel, created_by=actor.name
            )
            session.add(update_row)
            now = utcnow()
            if ticket.first_update_at is None:
                ticket.first_update_at = now
            ticket.updated_at = now
            self._audit(
                session, ticket, actor, "citizen_update", {}, {"message": text, "channel": channel}
            )
            record_event(session, "ticket.updated", self._event_data(ticket))
            session.flush()
            return update_to_dict(update_row)

    def claim(self, reference: str, actor: Actor, *, minutes: int = 10) -> dict[str, Any]:
        """Reserve a draft for one call-taker; a claim by someone else that has not expired wins.

        A claim is not an edit: it does not change the ticket's version, so a call-taker's form
        stays current while the claim is renewed."""
        if actor.user_id is None:
            raise PermissionDenied("only a signed-in user can claim a ticket")
        with self._transaction() as session:
            ticket = self._load_for_change(session, reference, actor, None)
            now = utcnow()
            holder = self._live_claim_holder(ticket, now)
            if holder not in (None, actor.user_id):
                raise Conflict(f"ticket {reference} is being worked on by another call-taker")
            expires = now + timedelta(minutes=minutes)
            self._set_claim(session, ticket, actor.user_id, expires)
            record_event(
                session, "ticket.claimed", {**self._event_data(ticket), "user_id": actor.user_id}
            )
            return ticket_to_dict(ticket, actor)

    def release(self, reference: str, actor: Actor) -> None:
        with self._transaction() as session:
            ticket = self._load(session, reference)
            self._check_visible(ticket, actor)
            if ticket.claimed_by == actor.user_id:
                self._set_claim(session, ticket, None, None)
                record_event(
                    session, "ticket.claimed", {**self._event_data(ticket), "user_id": None}
                )

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

    def apply_transcript(
        self,
        ticket_id: int,
        *,
        transcript: str | None,
        words: list[dict[str, Any]] | None,
        extracted: dict[str, Any],
        confidence: dict[str, float],
        asr_status: str,
        asr_error: str | None = None,
        actor: Actor | None = None,
    ) -> dict[str, Any]:
        """Store the ASR result on a draft. Fields a call-taker already edited are not touched."""
        actor = actor or Actor.system("asr")
        if asr_status not in ("pending", "streaming", "done", "failed", "no_model"):
            raise InvalidInput(f"unknown asr status {asr_status!r}", "asr_status")
        with self._transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket with id {ticket_id}")
            before = self._snapshot(ticket)
            edited = self._fields_edited_by_people(session, ticket.id)
            machine_description = not ticket.description or ticket.description == (
                ticket.transcript or ""
            )
            ticket.transcript = transcript
            ticket.transcript_words = words
            ticket.asr_status = asr_status
            ticket.asr_error = asr_error
            if ticket.status is TicketStatus.DRAFT:
                merged = dict(ticket.field_confidence or {})
                for name, value in extracted.items():
                    if name not in EDITABLE_FIELDS or name in edited or value is None:
                        continue
                    if name == "category" and value not in self._catalog.categories:
                        continue
                    setattr(ticket, name, value)
                    merged[name] = float(confidence.get(name, 0.0))
                # The description follows the transcript (partial, then final) until a person
                # writes one.
                if transcript and machine_description and "description" not in edited:
                    ticket.description = transcript
                self._drop_inconsistent_place(ticket)
                ticket.field_confidence = merged
                self._set_due_times(ticket)
            ticket.updated_at = utcnow()
            after = self._snapshot(ticket)
            changed = {k: v for k, v in before.items() if after.get(k) != v}
            self._audit(
                session,
                ticket,
                actor,
                f"asr:{asr_status}",
                changed,
                {k: after[k] for k in changed},
            )
            event = {"done": "asr.done", "failed": "asr.failed"}.get(asr_status)
            if event:
                record_event(session, event, {**self._event_data(ticket), "error": asr_error})
            record_event(session, "ticket.updated", self._event_data(ticket))
            session.flush()
            return ticket_to_dict(ticket, actor)

    # --- helpers ---------------------------------------------------------------------------
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
