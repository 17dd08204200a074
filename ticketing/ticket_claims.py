"""Claims: a draft reserved for one call-taker for a few minutes (not an edit: no version bump)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from ticketing.actors import Actor
from ticketing.errors import Conflict, PermissionDenied
from ticketing.events import record_event
from ticketing.serialize import (
    ticket_to_dict,
)
from ticketing.ticket_base import TicketServiceBase
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)


class TicketClaims(TicketServiceBase):
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
