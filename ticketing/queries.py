"""Query builders for ticket lists and searches (kept apart from the service's transactions)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, not_, or_, select

from ticketing.actors import Actor
from ticketing.filters import TicketFilter
from ticketing.models import Ticket
from ticketing.status import OPEN_STATUSES, TicketStatus
from ticketing.timeutil import utcnow

FINISHED = (
    TicketStatus.RESOLVED,
    TicketStatus.CLOSED,
    TicketStatus.REJECTED,
    TicketStatus.DUPLICATE,
)


def overdue_condition() -> ColumnElement[bool]:
    """Open (the complement of FINISHED) and past its resolve-by time; served by an index."""
    return and_(Ticket.status.in_(OPEN_STATUSES), Ticket.resolve_due_at < utcnow())


def ticket_query(filters: TicketFilter, actor: Actor | None) -> Select[Ticket]:
    query = select(Ticket)
    if filters.status:
        query = query.where(Ticket.status.in_([TicketStatus(s) for s in filters.status]))
    if filters.category:
        query = query.where(Ticket.category == filters.category)
    if filters.province_code:
        query = query.where(Ticket.province_code == filters.province_code)
    if filters.agency_code:
        query = query.where(Ticket.agency_code == filters.agency_code)
    if filters.urgent is not None:
        query = query.where(Ticket.urgent == filters.urgent)
    if filters.created_from is not None:
        query = query.where(Ticket.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(Ticket.created_at < filters.created_to)
    if filters.overdue is True:
        query = query.where(overdue_condition())
    elif filters.overdue is False:
        query = query.where(not_(overdue_condition()))
    if filters.caller_phone:
        query = query.where(Ticket.caller_phone == filters.caller_phone)
    if filters.citizen_id:
        query = query.where(Ticket.citizen_id == filters.citizen_id)
    if filters.text:
        pattern = f"%{filters.text}%"
        query = query.where(
            or_(
                Ticket.description.like(pattern),
                Ticket.transcript.like(pattern),
                Ticket.reference == filters.text,
            )
        )
    if filters.sla:
        query = query.where(Ticket.status.in_(OPEN_STATUSES), Ticket.sla_state == filters.sla)
    if actor is not None and actor.provinces and actor.role == "agent":
        query = query.where(
            or_(Ticket.province_code.in_(actor.provinces), Ticket.province_code.is_(None))
        )
    return query
