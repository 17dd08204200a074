"""Shared set-up of the citizen-loop tests: a ticket resolved by its agency."""

from __future__ import annotations

from datetime import UTC, datetime

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.tickets import NewTicket

AGENT = Actor(name="somchai", role="agent")
SUPERVISOR = Actor(name="boss", role="supervisor")
PASSWORD = "correct-horse-1"


def bangkok(text: str) -> datetime:
    """'2026-12-03 10:00' Bangkok time, as UTC."""
    return datetime.fromisoformat(text + "+07:00").astimezone(UTC)


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
    return ref
