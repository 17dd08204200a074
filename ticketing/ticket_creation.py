"""Creating tickets: validation, the reference number from the counter row, due times."""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ticketing.actors import Actor
from ticketing.errors import Conflict, InvalidInput
from ticketing.events import record_event
from ticketing.models import (
    Ticket,
)
from ticketing.reference import (
    buddhist_year_prefix,
    format_reference,
)
from ticketing.reference_counter import next_number
from ticketing.serialize import (
    ticket_to_dict,
)
from ticketing.status import TicketStatus
from ticketing.ticket_base import NewTicket, TicketServiceBase
from ticketing.timeutil import utcnow
from ticketing.validation import (
    CHANNELS,
    clean_citizen_id,
    clean_phone,
    clean_text,
)

log = logging.getLogger(__name__)


class TicketCreation(TicketServiceBase):
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
        return format_reference(year, next_number(session, year))
