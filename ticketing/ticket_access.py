"""Who may see and place what: the parts of the ticket service that hold a viewer to their
provinces and to masked personal data (a mixin of ``TicketService``, kept apart so the service's
own module stays about tickets)."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.actors import Actor
from ticketing.errors import PermissionDenied
from ticketing.masking import mask_text
from ticketing.models import Ticket
from ticketing.queries import visible_condition
from ticketing.serialize import ticket_to_dict
from ticketing.validation import clean_text

log = logging.getLogger(__name__)


class ScopedTicketAccess:
    if TYPE_CHECKING:  # provided by TicketService
        _sessions: sessionmaker[Session]

        def _transaction(self) -> AbstractContextManager[Session]: ...
        def _load(self, session: Session, reference: str) -> Ticket: ...
        def _check_visible(self, ticket: Ticket, actor: Actor | None) -> None: ...
        def detail(self, reference: str, actor: Actor | None = None) -> dict[str, Any]: ...
        @staticmethod
        def _audit(
            session: Session,
            ticket: Ticket,
            actor: Actor,
            action: str,
            before: dict[str, Any],
            after: dict[str, Any],
        ) -> None: ...

    def reveal(self, reference: str, actor: Actor, reason: str) -> dict[str, Any]:
        """An admin's look at the unmasked ticket: written to its audit trail (who, when, why)
        in the same transaction, and logged, before anything is shown."""
        if actor.role != "admin":
            raise PermissionDenied("only an admin may reveal masked personal data")
        why = clean_text(reason, "reason", 500, required=True)
        with self._transaction() as session:
            ticket = self._load(session, reference)
            self._check_visible(ticket, actor)
            self._audit(session, ticket, actor, "revealed", {}, {"reason": why})
            log.warning("ticket %s: personal data revealed to %s", ticket.reference, actor.name)
        return self.detail(reference, actor.for_reveal())

    def caller_history(
        self, reference: str, actor: Actor, *, limit: int = 20
    ) -> list[dict[str, Any]]:
        """The caller's other tickets, found by the real number even for a viewer who sees it
        masked: it follows a ticket they may open, so it answers no question about a number."""
        with self._sessions() as session:
            ticket = self._load(session, reference)
            self._check_visible(ticket, actor)
            if not ticket.caller_phone:
                return []
            query = (
                select(Ticket)
                .where(Ticket.caller_phone == ticket.caller_phone, Ticket.id != ticket.id)
                .order_by(Ticket.id.desc())
                .limit(limit)
            )
            visible = visible_condition(actor)
            if visible is not None:
                query = query.where(visible)
            return [ticket_to_dict(t, actor) for t in session.scalars(query)]

    @staticmethod
    def _check_placement(province: str | None, actor: Actor) -> None:
        if not actor.may_place_in(province):
            raise PermissionDenied(f"province {province} is outside your provinces")

    @staticmethod
    def _check_masked_edit(ticket: Ticket, changes: dict[str, Any], actor: Actor) -> None:
        """A viewer who sees numbers masked must not write the masked text back over them."""
        if actor.sees_personal_data or "description" not in changes:
            return
        if mask_text(ticket.description) != ticket.description:
            raise PermissionDenied(
                "the description holds personal numbers you see masked; a call-taker edits it"
            )


__all__ = ["ScopedTicketAccess"]
