"""Tickets: ``TicketService`` is composed by job — creation, reads, claims, the transcript merge
and, here, the lifecycle (edits, status transitions, routing, citizen updates)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update

from ticketing.actors import Actor
from ticketing.errors import Conflict, InvalidInput
from ticketing.events import record_event
from ticketing.models import (
    CitizenUpdate,
    RoutingAssignment,
)
from ticketing.serialize import (
    ticket_to_dict,
    update_to_dict,
)
from ticketing.status import OPEN_STATUSES, IllegalTransition, TicketStatus, check_transition
from ticketing.ticket_base import EDITABLE_FIELDS, NewTicket
from ticketing.ticket_claims import TicketClaims
from ticketing.ticket_creation import TicketCreation
from ticketing.ticket_reads import TicketReads
from ticketing.timeutil import utcnow
from ticketing.transcript_merge import TranscriptMerge
from ticketing.validation import (
    clean_citizen_id,
    clean_phone,
    clean_text,
)

log = logging.getLogger(__name__)

__all__ = ["EDITABLE_FIELDS", "NewTicket", "TicketService"]


class TicketService(TicketCreation, TicketReads, TicketClaims, TranscriptMerge):
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
