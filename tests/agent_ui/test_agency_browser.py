"""The agency flow in Debian's Chromium: sign in, the worklist, accept, a progress report, the
result; another ticket is returned to the centre with a reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from config.holidays import load_calendar
from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.escalation import SlaPass
from ticketing.models import Ticket
from ticketing.tickets import NewTicket
from ticketing.timeutil import utcnow

from .conftest import PASSWORD, LiveServer
from .test_browser import ARTIFACTS, browser, signed_in_page

pytestmark = pytest.mark.slow
__all__ = ["browser"]

AGENT = Actor(name="somchai", role="agent")


def _routed(services: Services, description: str, province: str = "50") -> str:
    ticket = services.tickets.create(
        NewTicket(description=description, category="DRUGS", province_code=province), AGENT
    )
    services.tickets.transition(ticket["reference"], "confirmed", AGENT)
    services.tickets.route(ticket["reference"], None, AGENT)
    return str(ticket["reference"])


def test_agency_works_a_ticket_in_the_console(
    live_server: LiveServer, browser: Any, services: Services
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    services.users.add_user("police50", PASSWORD, "agency")
    services.agency_work.assign_user("police50", "POLICE-50")
    first = _routed(services, "มีการขายยาเสพติดหน้าโรงเรียน <b>ด่วน</b>")
    second = _routed(services, "เรื่องเสียงดังจากร้านคาราโอเกะ")
    foreign = _routed(services, "อีกจังหวัด", province="10")

    page = signed_in_page(browser, live_server, "police50", "/agency")
    page.wait_for_selector(f"#wl-{first}")
    assert page.query_selector(f"#wl-{foreign}") is None
    assert page.text_content("#wl-count") == "2"
    page.wait_for_function("() => document.getElementById('notif-count').textContent === '2'")

    page.click(f"#wl-{first}")
    page.wait_for_function(f"() => document.getElementById('a-ref').textContent === '{first}'")
    assert "<b>ด่วน</b>" in str(page.text_content("#a-description"))  # text, not markup
    page.click("#a-accept")
    page.wait_for_function(
        "() => document.getElementById('a-status').textContent === 'กำลังดำเนินการ'"
    )
    page.fill("#progress-message", "ส่งเจ้าหน้าที่ตรวจสอบพื้นที่แล้ว")
    page.click("#f-progress button[type=submit]")
    page.wait_for_selector("#a-updates li")
    assert "ส่งเจ้าหน้าที่ตรวจสอบพื้นที่แล้ว" in str(page.text_content("#a-updates"))
    page.fill("#result-text", "จับกุมผู้กระทำผิดได้แล้ว")
    page.select_option("#result-type", "resolved")
    page.click("#f-result button[type=submit]")
    page.wait_for_function("() => document.getElementById('a-status').textContent === 'แก้ไขแล้ว'")
    page.wait_for_function("() => document.getElementById('wl-count').textContent === '1'")
    assert services.tickets.get(first)["status"] == "resolved"

    page.click(f"#wl-{second}")
    page.wait_for_function(f"() => document.getElementById('a-ref').textContent === '{second}'")
    page.fill("#return-reason", "เป็นเรื่องเหตุรำคาญ ไม่ใช่ยาเสพติด")
    page.click("#f-return button[type=submit]")
    page.wait_for_function("() => document.getElementById('wl-count').textContent === '0'")
    returned = services.tickets.get(second)
    assert (returned["status"], returned["agency_code"]) == ("confirmed", None)
    audit = [a["action"] for a in services.tickets.audit(second)]
    assert audit[-1] == "returned"

    page.click("#notif-button")
    page.wait_for_selector("#notif-list li.unread")
    page.click("#notif-read")
    page.wait_for_function("() => document.getElementById('notif-count').textContent === '0'")
    page.screenshot(path=str(ARTIFACTS / "agency-console.png"))
    page.context.close()


def test_supervisor_chase_lists_and_live_notifications(
    live_server: LiveServer, browser: Any, services: Services
) -> None:
    ticket = services.tickets.create(NewTicket(description="เรื่องค้างนาน", category="DRUGS"), AGENT)
    ref = ticket["reference"]
    page = signed_in_page(browser, live_server, "boss", "/worklists")
    page.wait_for_selector("#live-status.on")
    page.wait_for_function(
        "() => document.querySelector('[data-count=overdue]').textContent === '0'"
    )
    assert page.text_content("#notif-count") == "0"
    with services.sessions.begin() as session:
        session.execute(
            update(Ticket)
            .where(Ticket.reference == ref)
            .values(created_at=utcnow() - timedelta(days=40))
        )
    sla = SlaPass(
        services.sessions, services.catalog, load_calendar(), after_commit=services.relay.kick
    )
    assert {clock for _, clock, _ in sla.run().marks} == {"confirm", "progress", "resolve"}
    # The breach events arrive over the live stream: the unread count moves without a reload.
    page.wait_for_function("() => document.getElementById('notif-count').textContent === '3'")
    page.reload()
    page.wait_for_function(
        "() => document.querySelector('[data-count=overdue]').textContent === '1'"
    )
    page.wait_for_selector(f"#c-{ref}")
    page.wait_for_selector("#sla-clocks tr[data-clock=resolve]")
    page.screenshot(path=str(ARTIFACTS / "worklists.png"))
    page.context.close()
