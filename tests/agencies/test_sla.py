"""SLA passes at chosen times (SQLite and PostgreSQL): warnings at 80 %, breaches, escalation
to level 3, notifications per level, business hours and holidays, idempotence, a killed pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from config.holidays import BANGKOK, BusinessCalendar, load_calendar
from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.escalation import SlaPass
from ticketing.filters import TicketFilter
from ticketing.models import AuditEvent, Notification, OutboxEvent, SlaMark, Ticket, User
from ticketing.sla import sla_view
from ticketing.tickets import NewTicket

AGENT = Actor(name="somchai", role="agent")
PASSWORD = "correct-horse-1"
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=BANGKOK)  # a working day


def at(moment: datetime, minutes: float = 0, days: float = 0) -> datetime:
    return (moment + timedelta(minutes=minutes, days=days)).astimezone(UTC)


def ticket_created_at(services: Services, moment: datetime, **fields: object) -> str:
    values: dict[str, object] = {
        "description": "มีการขายยาเสพติด",
        "category": "DRUGS",  # confirm 30 min, progress 7 days, resolve 30 days
        "province_code": "50",
    }
    values.update(fields)
    ticket = services.tickets.create(NewTicket(**values), AGENT)  # type: ignore[arg-type]
    with services.sessions.begin() as session:
        session.execute(
            update(Ticket)
            .where(Ticket.id == ticket["id"])
            .values(created_at=moment.astimezone(UTC), updated_at=moment.astimezone(UTC))
        )
    return str(ticket["reference"])


@pytest.fixture
def sla(services: Services) -> SlaPass:
    return SlaPass(services.sessions, services.catalog, load_calendar())


def marks(services: Services) -> list[tuple[str, int]]:
    with services.sessions() as session:
        return sorted((m.clock, m.level) for m in session.scalars(select(SlaMark)))


def notifications_of(services: Services, username: str) -> list[str]:
    with services.sessions() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return [
            n.kind
            for n in session.scalars(
                select(Notification)
                .where(Notification.user_id == user.id)
                .order_by(Notification.id)
            )
        ]


def view_at(services: Services, ref: str, moment: datetime) -> dict[str, Any]:
    """The API's sla object as a client would have seen it at ``moment``."""
    with services.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.reference == ref)).one()
        return sla_view(ticket, moment)


def test_calendar_counts_business_minutes_over_weekends_and_holidays() -> None:
    calendar = load_calendar()
    friday = datetime(2026, 12, 4, 16, 20, tzinfo=BANGKOK)
    # 10 minutes on Friday; Sat, Sun, and Monday 7 Dec (substitute for Father's Day) are off.
    due = calendar.add_business_minutes(friday, 30)
    assert due == datetime(2026, 12, 8, 8, 50, tzinfo=BANGKOK)
    night = datetime(2026, 12, 1, 23, 0, tzinfo=BANGKOK)
    assert calendar.add_business_minutes(night, 60) == datetime(2026, 12, 2, 9, 30, tzinfo=BANGKOK)
    always = BusinessCalendar(weekdays=frozenset(range(1, 8)))
    assert always.add_business_days(TUESDAY_9, 2) == TUESDAY_9 + timedelta(days=2)


def test_confirm_clock_warns_breaches_and_escalates_once_each(
    services: Services, sla: SlaPass
) -> None:
    services.users.add_user("boss50", PASSWORD, "supervisor", provinces=("50",))
    services.users.add_user("boss10", PASSWORD, "supervisor", provinces=("10",))
    services.users.add_user("central", PASSWORD, "supervisor")
    ref = ticket_created_at(services, TUESDAY_9)

    assert sla.run(at(TUESDAY_9, minutes=20)).marks == []
    first = sla.run(at(TUESDAY_9, minutes=25))  # 80 % of 30 minutes = 24
    assert first.marks == [(ref, "confirm", 1)]
    assert sla.run(at(TUESDAY_9, minutes=26)).marks == []  # idempotent
    ticket = services.tickets.get(ref)
    assert ticket["escalation_level"] == 1
    assert ticket["sla"]["confirm"]["level"] == 1
    view = view_at(services, ref, at(TUESDAY_9, minutes=26))
    assert view["confirm"]["state"] == "warning"
    assert view["resolve"]["state"] == "ok"
    warned, _ = services.tickets.search(TicketFilter(sla="warning"))
    assert [t["reference"] for t in warned] == [ref]

    breach = sla.run(at(TUESDAY_9, minutes=31))  # past 100 %
    assert breach.marks == [(ref, "confirm", 2)]
    later = sla.run(at(TUESDAY_9, minutes=50))  # past 150 %
    assert later.marks == [(ref, "confirm", 3)]
    ticket = services.tickets.get(ref)
    assert ticket["escalation_level"] == 3
    assert ticket["sla"]["confirm"]["state"] == "breached"
    breached, _ = services.tickets.search(TicketFilter(sla="breached"))
    assert [t["reference"] for t in breached] == [ref]

    actions = [a["action"] for a in services.tickets.audit(ref)]
    assert actions.count("sla_warning") == 1 and actions.count("sla_breached") == 2
    audit = [a for a in services.tickets.audit(ref) if a["action"] == "sla_breached"]
    assert [(a["after"]["clock"], a["after"]["level"]) for a in audit] == [
        ("confirm", 2),
        ("confirm", 3),
    ]
    with services.sessions() as session:
        events = [
            (e.event_type, e.payload["clock"], e.payload["level"])
            for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
            if e.event_type.startswith("ticket.sla_")
        ]
    assert events == [
        ("ticket.sla_warning", "confirm", 1),
        ("ticket.sla_breached", "confirm", 2),
        ("ticket.sla_breached", "confirm", 3),
    ]
    # Levels 1-2 reach the province's supervisors; level 3 reaches central too.
    assert notifications_of(services, "boss50") == ["sla_warning", "sla_breached", "sla_breached"]
    assert notifications_of(services, "central") == ["sla_breached"]
    assert notifications_of(services, "boss10") == []

    # Confirming meets the clock late: it stays breached, and nothing new is marked.
    services.tickets.transition(ref, "confirmed", AGENT)
    assert sla.run(at(TUESDAY_9, minutes=60)).marks == []
    assert services.tickets.get(ref)["sla"]["confirm"]["state"] == "breached"


def test_business_hours_and_holidays_pause_only_the_confirm_clock(
    services: Services, sla: SlaPass
) -> None:
    friday = datetime(2026, 12, 4, 16, 20, tzinfo=BANGKOK)
    ref = ticket_created_at(services, friday)
    monday_noon = datetime(2026, 12, 7, 12, 0, tzinfo=BANGKOK)  # a holiday
    assert sla.run(monday_noon.astimezone(UTC)).marks == []
    ticket = services.tickets.get(ref)
    due = datetime.fromisoformat(ticket["sla"]["confirm"]["due"])
    assert due == datetime(2026, 12, 8, 8, 50, tzinfo=BANGKOK)
    # The day-based clocks run on calendar days.
    assert datetime.fromisoformat(ticket["sla"]["progress"]["due"]) == friday + timedelta(days=7)
    tuesday = datetime(2026, 12, 8, 8, 47, tzinfo=BANGKOK)  # 80 % = 24 business minutes
    assert sla.run(tuesday.astimezone(UTC)).marks == [(ref, "confirm", 1)]


def test_a_progress_report_meets_the_progress_clock(services: Services, sla: SlaPass) -> None:
    services.users.add_user("police50", PASSWORD, "agency")
    services.agency_work.assign_user("police50", "POLICE-50")
    police = services.users.authenticate("police50", PASSWORD)
    ref = ticket_created_at(services, TUESDAY_9)
    services.tickets.transition(ref, "confirmed", AGENT)
    services.tickets.route(ref, None, AGENT)
    services.agency_work.progress_report(ref, police, "รับเรื่องแล้ว กำลังตรวจสอบ")
    assert sla.run(at(TUESDAY_9, days=8)).marks == []  # progress met; resolve warns at day 24
    assert view_at(services, ref, at(TUESDAY_9, days=8))["progress"]["state"] == "met"
    breach = sla.run(at(TUESDAY_9, days=31))
    assert (ref, "resolve", 2) in breach.marks
    # The agency hears of its ticket's breach.
    assert "sla_breached" in notifications_of(services, "police50")


def test_a_jump_over_levels_is_announced_once_at_the_level_reached(
    services: Services, sla: SlaPass
) -> None:
    services.users.add_user("boss50", PASSWORD, "supervisor", provinces=("50",))
    ref = ticket_created_at(services, TUESDAY_9)
    assert sla.run(at(TUESDAY_9, minutes=50)).marks == [(ref, "confirm", 3)]
    assert marks(services) == [("confirm", 1), ("confirm", 2), ("confirm", 3)]
    assert notifications_of(services, "boss50") == ["sla_breached"]
    actions = [a["action"] for a in services.tickets.audit(ref)]
    assert actions.count("sla_breached") == 1 and "sla_warning" not in actions


def test_a_killed_pass_is_finished_by_the_next_without_duplicates(services: Services) -> None:
    services.users.add_user("boss50", PASSWORD, "supervisor", provinces=("50",))
    refs = [ticket_created_at(services, TUESDAY_9) for _ in range(7)]
    small = SlaPass(services.sessions, services.catalog, load_calendar(), batch=2)
    moment = at(TUESDAY_9, minutes=25)
    first = small.run(moment, max_batches=2)  # "killed" after two batches
    assert len(first.marks) == 4
    rest = small.run(moment)
    assert sorted(r for r, _, _ in first.marks + rest.marks) == sorted(refs)
    assert small.run(moment).marks == []
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SlaMark)) == 7
        assert session.scalar(select(func.count()).select_from(Notification)) == 7
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "sla_warning")
            )
            == 7
        )


def test_finished_tickets_settle_and_stop_escalating(services: Services, sla: SlaPass) -> None:
    ref = ticket_created_at(services, TUESDAY_9)
    services.tickets.transition(ref, "rejected", AGENT, reason="โทรผิด")
    sla.run(at(TUESDAY_9, days=60))
    assert marks(services) == []
    with services.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.reference == ref)).one()
        assert ticket.sla_state == "done"
        assert ticket.escalation_level == 0
