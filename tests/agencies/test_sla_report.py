"""Chase lists with counts, SLA met % per clock/category/agency, the per-clock gauges."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import update

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.models import Ticket
from ticketing.tickets import NewTicket
from ticketing.timeutil import utcnow

AGENT = Actor(name="somchai", role="agent")
PASSWORD = "correct-horse-1"


def _ticket(services: Services, province: str = "50", category: str = "DRUGS") -> str:
    ticket = services.tickets.create(
        NewTicket(description="เรื่องทดสอบ", category=category, province_code=province), AGENT
    )
    return str(ticket["reference"])


def _shift(services: Services, ref: str, **values: object) -> None:
    with services.sessions.begin() as session:
        session.execute(update(Ticket).where(Ticket.reference == ref).values(**values))


def test_chase_lists_and_counts(services: Services) -> None:
    now = utcnow()
    overdue = _ticket(services)
    _shift(services, overdue, resolve_due_at=now - timedelta(hours=1))
    today = _ticket(services)
    services.tickets.transition(today, "confirmed", AGENT)
    _shift(services, today, progress_due_at=now + timedelta(minutes=1))
    old = _ticket(services)
    services.tickets.transition(old, "confirmed", AGENT)
    _shift(services, old, created_at=now - timedelta(days=65))
    returned = _ticket(services)
    services.tickets.transition(returned, "confirmed", AGENT)
    services.tickets.route(returned, None, AGENT)
    services.users.add_user("police50", PASSWORD, "agency")
    services.agency_work.assign_user("police50", "POLICE-50")
    police = services.users.authenticate("police50", PASSWORD)
    hopeless = _ticket(services)
    services.tickets.transition(hopeless, "confirmed", AGENT)
    services.tickets.route(hopeless, None, AGENT)
    services.agency_work.return_to_centre(returned, police, "ไม่ใช่หน้าที่ของเรา")
    services.agency_work.post_result(hopeless, police, "อยู่นอกอำนาจ", "cannot_be_solved")
    elsewhere = _ticket(services, province="10")
    _shift(services, elsewhere, resolve_due_at=now - timedelta(hours=1))

    reports = services.sla_reports
    counts = reports.counts(None)
    assert counts["overdue"] == 2
    assert counts["pending_30"] == counts["pending_60"] == 1 and counts["pending_90"] == 0
    assert counts["returned"] == 1 and counts["cannot_be_solved"] == 1
    assert [t["reference"] for t in reports.worklist("returned", None)] == [returned]
    assert [t["reference"] for t in reports.worklist("cannot_be_solved", None)] == [hopeless]
    assert [t["reference"] for t in reports.worklist("pending_60", None)] == [old]
    assert today in [t["reference"] for t in reports.worklist("due_today", None)]
    # A scoped call-taker counts only their provinces.
    scoped = Actor(name="cm", role="agent", provinces=("50",))
    assert reports.counts(scoped)["overdue"] == 1
    assert [t["reference"] for t in reports.worklist("overdue", scoped)] == [overdue]


def test_met_rates_per_clock_category_and_agency(services: Services) -> None:
    services.users.add_user("police50", PASSWORD, "agency")
    services.agency_work.assign_user("police50", "POLICE-50")
    police = services.users.authenticate("police50", PASSWORD)
    on_time = _ticket(services)
    late = _ticket(services)
    for ref in (on_time, late):
        services.tickets.transition(ref, "confirmed", AGENT)
        services.tickets.route(ref, None, AGENT)
        services.agency_work.post_result(ref, police, "เสร็จแล้ว")
    _shift(services, late, resolve_due_at=utcnow() - timedelta(days=1))
    rates = services.sla_reports.met_rates(None)
    assert rates["clocks"]["resolve"] == {"met": 1, "decided": 2, "ratio": 0.5}
    assert rates["by_category"]["resolve"]["DRUGS"]["ratio"] == 0.5
    assert rates["by_agency"]["resolve"]["POLICE-50"]["decided"] == 2
    services.sla_reports.refresh_gauges()
    assert REGISTRY.get_sample_value("hotline_sla_met_ratio", {"clock": "resolve"}) == 0.5
    assert REGISTRY.get_sample_value("hotline_sla_breached_tickets", {"clock": "resolve"}) == 0
