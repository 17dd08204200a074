"""Issue 12 in Debian's Chromium: the ticket page offers "close" on a resolved ticket only under
the rules (and says why not), and the dashboard's survey tiles count both kinds of rating."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from sqlalchemy import select

from config.citizen_settings import CitizenSettings
from tests.citizen.helpers import bangkok, resolved_ticket
from ticketing.container import Services
from ticketing.models import SurveyResult, Ticket
from ticketing.result_calls import ResultCalls

from .conftest import LiveServer
from .test_browser import ARTIFACTS, browser, signed_in_page

__all__ = ["browser"]

pytestmark = pytest.mark.slow

MORNING = bangkok("2026-12-03 10:00")


def test_close_is_offered_only_once_the_citizen_knows(
    live_server: LiveServer,
    browser: Any,
    services: Services,
) -> None:
    ref = resolved_ticket(services)
    page = signed_in_page(browser, live_server, "somchai", f"/tickets/{ref}")
    page.wait_for_selector("#citizen-loop:not([hidden])")
    page.wait_for_function("() => document.getElementById('cl-rule').dataset.code === 'pending'")
    assert page.is_disabled("#a-close")
    assert "ยังปิดเรื่องไม่ได้" in str(page.text_content("#cl-rule"))
    assert "ยังไม่มีการโทรแจ้งผล" in str(page.text_content("#cl-calls"))

    [claim] = services.result_calls.claim_due("node-a", now=MORNING)
    services.result_calls.finish(claim, "rated", rating=4, now=MORNING)
    page.reload()
    page.wait_for_function(
        "() => document.getElementById('cl-rule').dataset.code === 'result_call'"
    )
    assert "ให้คะแนน 4/5" in str(page.text_content("#cl-calls"))
    assert "คะแนนล่าสุด 4/5" in str(page.text_content("#cl-rating"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "citizen-close.png"))
    page.click("#a-close")
    page.wait_for_selector("#t-status.st-closed")
    assert services.tickets.get(ref)["status"] == "closed"


def test_the_survey_tiles_count_result_calls_and_the_post_call_survey(
    live_server: LiveServer,
    browser: Any,
    services: Services,
) -> None:
    rated = resolved_ticket(services)
    surveyed = resolved_ticket(services)
    any_time = ResultCalls(
        services.sessions, services.catalog, CitizenSettings(call_start=time(0), call_end=None)
    )
    claims = {c.ticket_reference: c for c in any_time.claim_due("n", limit=2)}
    any_time.finish(claims[rated], "rated", rating=5)
    any_time.finish(claims[surveyed], "answered")
    with services.sessions.begin() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.reference == surveyed)).one()
        session.add(SurveyResult(ticket_id=ticket.id, rating=2))  # the post-call survey
    page = signed_in_page(browser, live_server, "boss", "/dashboard")
    page.wait_for_function(
        "() => document.querySelector('[data-survey=average]').textContent === '3.50'"
    )
    assert page.text_content('[data-survey="low"]') == "1"
    assert page.text_content('[data-survey="rate"]') == "100%"  # 2 ratings, 2 people reached
    assert "alarm" in str(page.get_attribute("#tile-sv-low", "class"))
    rows = page.eval_on_selector_all("#sv-by tr", "rows => rows.map(r => r.innerText)")
    assert len(rows) == 1 and "2" in rows[0] and "3.50" in rows[0]
    page.select_option("#sv-group", "province_code")
    page.wait_for_function("() => document.querySelector('#sv-by tr th').textContent === 'เชียงใหม่'")
    page.select_option("#sv-period", "month")
    page.screenshot(path=str(ARTIFACTS / "citizen-survey.png"))
