"""Shared set-up of the citizen-loop tests: a ticket resolved by its agency."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.models import Ticket
from ticketing.result_call_model import ResultCall
from ticketing.tickets import NewTicket

AGENT = Actor(name="somchai", role="agent")
SUPERVISOR = Actor(name="boss", role="supervisor")
PASSWORD = "correct-horse-1"


def bangkok(text: str) -> datetime:
    """'2026-12-03 10:00' Bangkok time, as UTC."""
    return datetime.fromisoformat(text + "+07:00").astimezone(UTC)


# The tests' agencies resolve their tickets on Wednesday 2 December 2026 at 09:00 Bangkok, so
# the result call owed is due from then and the tests' fixed Thursday morning (with the call
# hours, holidays and spacing around it) holds on whatever day the suite runs. Resolved on the
# real clock, the call was due only from the day of the run: once that Thursday had passed,
# every claim "on Thursday morning" found nothing.
RESOLVED_AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def routed_ticket(services: Services, phone: str | None = "0812345678") -> tuple[str, str]:
    ticket = services.tickets.create(
        NewTicket(
            description="ถนนเป็นหลุมหน้าบ้าน",
            category="INFRASTRUCTURE",
            province_code="50",
            caller_phone=phone,
        ),
        AGENT,
    )
    ref = str(ticket["reference"])
    services.tickets.transition(ref, "confirmed", AGENT)
    routed = services.tickets.route(ref, None, AGENT)
    return ref, str(routed["agency_code"])


def resolved_ticket(
    services: Services, phone: str | None = "0812345678", resolution_type: str = "resolved"
) -> str:
    ref, code = routed_ticket(services, phone)
    name = f"agency{ref[-4:]}"
    services.users.add_user(name, PASSWORD, "agency")
    services.agency_work.assign_user(name, code)
    actor = services.users.authenticate(name, PASSWORD)
    services.agency_work.post_result(ref, actor, "ซ่อมถนนเรียบร้อยแล้ว", resolution_type)
    back_date(services, ref)
    return ref


def back_date(services: Services, ref: str) -> None:
    """Move the ticket's resolution and the calls it owes to RESOLVED_AT."""
    with services.sessions.begin() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.reference == ref)).one()
        if ticket.resolved_at is not None:
            ticket.resolved_at = RESOLVED_AT
        session.execute(
            update(ResultCall)
            .where(ResultCall.ticket_id == ticket.id)
            .values(created_at=RESOLVED_AT, next_attempt_at=RESOLVED_AT)
        )
