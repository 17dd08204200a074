"""The agency's side of a ticket, on SQLite and PostgreSQL: worklist order, accept, return,
progress report, result; other agencies' tickets do not exist for it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ticketing.models import AuditEvent, MailOutbox, Notification, OutboxEvent, Ticket
from ticketing.tickets import NewTicket
from ticketing.timeutil import utcnow

AGENT = Actor(name="somchai", role="agent")
PASSWORD = "correct-horse-1"


def agency_actor(services: Services, name: str, code: str) -> Actor:
    services.users.add_user(name, PASSWORD, "agency")
    services.agency_work.assign_user(name, code)
    return services.users.authenticate(name, PASSWORD)


def routed_ticket(services: Services, category: str = "DRUGS", province: str = "50") -> str:
    ticket = services.tickets.create(
        NewTicket(
            description="ขายยาบ้าในซอย โทร 0812345678",
            category=category,
            province_code=province,
            caller_phone="0812345678",
        ),
        AGENT,
    )
    ref = ticket["reference"]
    services.tickets.transition(ref, "confirmed", AGENT)
    services.tickets.route(ref, None, AGENT)
    return str(ref)


def test_an_agency_user_carries_its_agency(services: Services) -> None:
    actor = agency_actor(services, "police50", "POLICE-50")
    assert (actor.role, actor.agency_code) == ("agency", "POLICE-50")
    with pytest.raises(InvalidInput, match="unknown agency"):
        services.agency_work.assign_user("police50", "POLICE-99")


def test_worklist_holds_only_the_agencys_tickets_most_urgent_deadline_first(
    services: Services,
) -> None:
    police = agency_actor(services, "police50", "POLICE-50")
    first = routed_ticket(services)
    second = routed_ticket(services)
    other_province = routed_ticket(services, province="10")  # POLICE-10
    consumer = routed_ticket(services, category="CONSUMER")  # OCPB
    # The second one is overdue: its progress clock passed.
    with services.sessions.begin() as session:
        session.execute(
            update(Ticket)
            .where(Ticket.reference == second)
            .values(progress_due_at=utcnow() - timedelta(hours=1))
        )
    items = services.agency_work.worklist(police)
    assert [i["reference"] for i in items] == [second, first]
    assert items[0]["overdue"] is True and items[1]["overdue"] is False
    assert items[0]["caller_phone"] != "0812345678"  # masked for an agency
    for foreign in (other_province, consumer):
        with pytest.raises(NotFound):
            services.agency_work.detail(foreign, police)
        with pytest.raises(NotFound):
            services.agency_work.accept(foreign, police)


def test_accept_progress_and_result(services: Services) -> None:
    police = agency_actor(services, "police50", "POLICE-50")
    ref = routed_ticket(services)
    assert services.agency_work.accept(ref, police)["status"] == "in_progress"
    with pytest.raises(Conflict):
        services.agency_work.accept(ref, police)
    services.agency_work.progress_report(ref, police, "ส่งสายตรวจไปดูแล้ว")
    detail = services.agency_work.detail(ref, police)
    assert detail["first_update_at"] is not None
    assert [u["message"] for u in detail["updates"]] == ["ส่งสายตรวจไปดูแล้ว"]
    with pytest.raises(InvalidInput):
        services.agency_work.post_result(ref, police, "จับกุมแล้ว", "nonsense")
    result = services.agency_work.post_result(ref, police, "จับกุมผู้ขายได้แล้ว", "resolved")
    assert (result["status"], result["resolution"]) == ("resolved", "จับกุมผู้ขายได้แล้ว")
    actions = [a["action"] for a in services.tickets.audit(ref)]
    assert actions[-3:] == ["status:in_progress", "progress_report", "result"]
    # Resolved tickets leave the queue but stay readable.
    assert services.agency_work.worklist(police) == []
    assert services.agency_work.detail(ref, police)["status"] == "resolved"


def test_return_sends_the_ticket_back_to_the_routing_queue(services: Services) -> None:
    services.users.add_user("boss50", PASSWORD, "supervisor", provinces=("50",))
    police = agency_actor(services, "police50", "POLICE-50")
    ref = routed_ticket(services)
    with pytest.raises(InvalidInput):
        services.agency_work.return_to_centre(ref, police, "  ")
    services.agency_work.return_to_centre(ref, police, "ไม่ใช่เรื่องยาเสพติด เป็นเรื่องเสียงดัง")
    ticket = services.tickets.get(ref)
    assert (ticket["status"], ticket["agency_code"]) == ("confirmed", None)
    with pytest.raises(NotFound):
        services.agency_work.detail(ref, police)
    with services.sessions() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "returned")).one()
        assert audit.after["reason"] == "ไม่ใช่เรื่องยาเสพติด เป็นเรื่องเสียงดัง"
        assert audit.before["agency_code"] == "POLICE-50"
        row = session.get(Ticket, ticket["id"])
        assert row is not None and row.returned_by == "POLICE-50"
        events = [e.event_type for e in session.scalars(select(OutboxEvent))]
        assert "ticket.returned" in events
        kinds = {(n.kind, n.user_id) for n in session.scalars(select(Notification))}
        assert any(kind == "returned" for kind, _ in kinds)
    # SLA keeps running: due times unchanged; the centre can route it again.
    again = services.tickets.route(ref, "LOCAL_ADMIN-50", AGENT)
    assert again["status"] == "routed"


def test_routing_notifies_the_agency_in_the_console_and_by_mail(services: Services) -> None:
    police = agency_actor(services, "police50", "POLICE-50")
    ref = routed_ticket(services)
    listing = services.notifications.for_user(police.user_id or 0)
    assert listing["unread"] == 1
    assert listing["items"][0]["reference"] == ref
    assert listing["items"][0]["kind"] == "routed"
    assert services.notifications.mark_read(police.user_id or 0) == 1
    assert services.notifications.for_user(police.user_id or 0)["unread"] == 0
    with services.sessions() as session:
        # No address configured for POLICE in the defaults: no mail row.
        assert list(session.scalars(select(MailOutbox))) == []


def test_only_agency_users_work_the_agency_queue(services: Services) -> None:
    with pytest.raises(PermissionDenied):
        services.agency_work.worklist(AGENT)
    unassigned = Actor(name="x", role="agency", user_id=99)
    with pytest.raises(PermissionDenied):
        services.agency_work.worklist(unassigned)
    # And the centre's services refuse an agency user everything by province.
    ref = routed_ticket(services)
    police = agency_actor(services, "police50", "POLICE-50")
    with pytest.raises(PermissionDenied):
        services.tickets.get(ref, police)
