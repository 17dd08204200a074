"""Reading tickets: one, its detail (audit, routing, updates, suggestion), search, and a
caller's open ones."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from config.catalog import Suggestion
from ticketing.actors import Actor
from ticketing.citizen_loop import citizen_view
from ticketing.errors import InvalidInput
from ticketing.filters import TicketFilter
from ticketing.models import (
    CitizenUpdate,
    RoutingAssignment,
    Ticket,
)
from ticketing.queries import ticket_query
from ticketing.serialize import (
    assignment_to_dict,
    audit_to_dict,
    ticket_to_dict,
    update_to_dict,
)
from ticketing.status import OPEN_STATUSES
from ticketing.ticket_base import TicketServiceBase
from ticketing.validation import (
    clean_phone,
)

log = logging.getLogger(__name__)


class TicketReads(TicketServiceBase):
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
            data.update(citizen_view(session, ticket))  # issue 12: result calls, rating, close rule
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

    def open_references_for_phone(self, phone: str) -> list[str]:
        """A repeat caller's open tickets' references, newest first, at most 10 (the IVR puts the
        caller ahead in the queue and offers their status): references only, so a call's start
        neither loads whole tickets nor hands the call process anyone's personal data."""
        try:
            cleaned = clean_phone(phone)
        except InvalidInput:
            return []
        if cleaned is None:
            return []
        query = (
            select(Ticket.reference)
            .where(Ticket.caller_phone == cleaned, Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.id.desc())
            .limit(10)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def suggest_agency(self, reference: str) -> str:
        return self.suggestion(reference).agency

    def suggestion(self, reference: str) -> Suggestion:
        """The suggested agency and the routing rule that chose it (district > province > *)."""
        with self._sessions() as session:
            ticket = self._load(session, reference)
            return self._catalog.suggestion(
                ticket.category, ticket.province_code, ticket.district_code
            )
