"""Query builders for ticket lists and searches (kept apart from the service's transactions)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, not_, or_, select

from ticketing.actors import Actor
from ticketing.errors import PermissionDenied
from ticketing.filters import TicketFilter
from ticketing.masking import has_digit_run
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


def visible_condition(actor: Actor | None) -> ColumnElement[bool] | None:
    """SQL form of ``Actor.may_see_province``: None when the actor sees every province."""
    if actor is not None and actor.role == "agency":
        return false()  # an agency reads its own queue through ticketing.agency_work
    if actor is None or not actor.scoped:
        return None
    return or_(Ticket.province_code.in_(actor.provinces), Ticket.province_code.is_(None))


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own wildcards taken literally (used with ``escape="\\"``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def check_search_rights(filters: TicketFilter, actor: Actor | None) -> None:
    """A viewer who sees numbers masked may not look tickets up by a number: the answer (found or
    not) would tell them whether the number is on file."""
    if actor is None or actor.sees_personal_data:
        return
    if filters.caller_phone or filters.citizen_id:
        raise PermissionDenied("searching by phone number or citizen ID needs a call-taker's role")


def ticket_query(filters: TicketFilter, actor: Actor | None) -> Select[Ticket]:
    check_search_rights(filters, actor)
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
        masked_viewer = actor is not None and not actor.sees_personal_data
        if masked_viewer and has_digit_run(filters.text):
            # Digits in the words: only a reference number is looked up, never the text, which
            # may hold a number this viewer sees masked.
            query = query.where(Ticket.reference == filters.text.replace(" ", ""))
        else:
            pattern = like_pattern(filters.text)
            query = query.where(
                or_(
                    Ticket.description.like(pattern, escape="\\"),
                    Ticket.transcript.like(pattern, escape="\\"),
                    Ticket.reference == filters.text,
                )
            )
    if filters.sla:
        query = query.where(Ticket.status.in_(OPEN_STATUSES), Ticket.sla_state == filters.sla)
    visible = visible_condition(actor)
    if visible is not None:
        query = query.where(visible)
    return query
