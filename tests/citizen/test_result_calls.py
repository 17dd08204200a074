"""The result-call outbox on SQLite and PostgreSQL: attempts in the call hours, never on
holidays, 2 h apart; the lease between two nodes; a node that dies mid-attempt; numbers that
cannot be dialled; the close rules; ratings and follow-ups."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from config.citizen_settings import CitizenSettings
from ticketing.container import Services
from ticketing.errors import Conflict
from ticketing.models import AuditEvent, Notification, OutboxEvent, SurveyResult
from ticketing.result_calls import INTERRUPTED, ResultCalls

from .helpers import AGENT, back_date, bangkok, resolved_ticket

MORNING = bangkok("2026-12-03 10:00")  # a Thursday, no holiday


def _events(services: Services, kind: str) -> list[dict[str, object]]:
    with services.sessions() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == kind))
        return [dict(r.payload) for r in rows]


def test_a_resolved_ticket_owes_a_result_call_and_a_rating_closes_the_loop(
    services: Services,
) -> None:
    ref = resolved_ticket(services)
    [owed] = services.result_calls.state_of(ref)
    assert (owed["state"], owed["attempts"], owed["max_attempts"]) == ("pending", 0, 3)
    [claim] = services.result_calls.claim_due("node-a", now=MORNING)
    assert (claim.ticket_reference, claim.attempt, claim.number) == (ref, 1, "0812345678")
    assert claim.resolution_type == "resolved" and claim.agency_code
    assert services.result_calls.finish(claim, "rated", rating=4, now=MORNING)
    assert services.result_calls.state_of(ref)[0]["state"] == "done"
    detail = services.tickets.detail(ref)
    assert detail["rating"] == 4
    assert detail["result_calls"] == [
        {"at": detail["result_calls"][0]["at"], "outcome": "rated", "rating": 4}
    ]
    [attempt] = _events(services, "citizen.call_attempt")
    assert attempt["outcome"] == "rated" and attempt["caller_masked"] == "••••••5678"
    assert "0812345678" not in str(attempt)
    assert _events(services, "survey.rated")[0]["rating"] == 4
    assert "result_call" in [a["action"] for a in services.tickets.audit(ref)]
    assert services.tickets.transition(ref, "closed", AGENT)["status"] == "closed"


def test_no_call_outside_the_call_hours_nor_on_a_holiday(services: Services) -> None:
    holiday = date(2026, 12, 4)
    calls = ResultCalls(services.sessions, services.catalog, CitizenSettings(), {holiday})
    ref = resolved_ticket(services)
    late = bangkok("2026-12-03 20:30")
    assert calls.claim_due("node-a", now=late) == []
    # Deferred past the holiday (Friday 4 December) to Saturday 08:00 Bangkok.
    assert calls.state_of(ref)[0]["next_attempt_at"] == "2026-12-05T01:00:00+00:00"
    assert calls.claim_due("node-a", now=bangkok("2026-12-04 10:00")) == []
    [claim] = calls.claim_due("node-a", now=bangkok("2026-12-05 08:00"))
    assert claim.ticket_reference == ref


def test_any_time_means_any_time(services: Services) -> None:
    from config.citizen_settings import CitizenSettings as C

    hours = C.from_env({"HOTLINE_CALL_HOURS": "00:00-24:00"})
    calls = ResultCalls(services.sessions, services.catalog, hours)
    resolved_ticket(services)
    assert len(calls.claim_due("node-a", now=bangkok("2026-12-03 03:00"))) == 1


def test_unanswered_attempts_are_spaced_and_then_exhausted(services: Services) -> None:
    calls = services.result_calls
    ref = resolved_ticket(services)
    [first] = calls.claim_due("node-a", now=MORNING)
    calls.finish(first, "no_answer", sip_status=408, now=MORNING)
    state = calls.state_of(ref)[0]
    assert state["next_attempt_at"] == (MORNING + timedelta(hours=2)).isoformat()
    assert calls.claim_due("node-a", now=MORNING + timedelta(hours=1)) == []
    [second] = calls.claim_due("node-a", now=MORNING + timedelta(hours=2))
    assert second.attempt == 2
    evening = bangkok("2026-12-03 19:00")
    calls.finish(second, "busy", sip_status=486, now=evening)
    # 21:00 is outside the hours: the third attempt waits for 08:00 next morning.
    assert calls.state_of(ref)[0]["next_attempt_at"] == "2026-12-04T01:00:00+00:00"
    with pytest.raises(Conflict, match="still trying"):
        services.tickets.transition(ref, "closed", AGENT)
    [third] = calls.claim_due("node-a", now=bangkok("2026-12-04 08:00"))
    calls.finish(third, "failed", sip_status=503, now=bangkok("2026-12-04 08:01"))
    state = calls.state_of(ref)[0]
    assert (state["state"], state["reason"]) == ("exhausted", "3 attempts, the last: failed")
    assert calls.claim_due("node-a", now=bangkok("2026-12-05 10:00")) == []
    assert services.tickets.transition(ref, "closed", AGENT)["status"] == "closed"
    outcomes = [e["outcome"] for e in _events(services, "citizen.call_attempt")]
    assert outcomes == ["no_answer", "busy", "failed"]


def test_two_nodes_never_call_the_same_citizen_and_a_dead_node_is_recorded_once(
    services: Services,
) -> None:
    calls = services.result_calls
    ref = resolved_ticket(services)
    [claim] = calls.claim_due("node-a", now=MORNING)
    assert calls.claim_due("node-b", now=MORNING) == []
    # node-a dies; its lease (600 s) runs out; node-b records the attempt once, retries later.
    after_lease = MORNING + timedelta(seconds=601)
    assert calls.claim_due("node-b", now=after_lease) == []
    assert calls.claim_due("node-b", now=after_lease) == []
    state = calls.state_of(ref)[0]
    assert (state["state"], state["attempts"], state["last_outcome"]) == ("pending", 1, "failed")
    assert not calls.finish(claim, "rated", rating=5, now=after_lease)  # too late, not counted
    with services.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "result_call"))
        assert [r.after["reason"] for r in rows] == [INTERRUPTED]
        assert session.scalars(select(SurveyResult)).all() == []
    [retry] = calls.claim_due("node-b", now=after_lease + timedelta(hours=2))
    assert retry.attempt == 2


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        (None, "no callback number"),
        ("021234567123", "extension"),
        ("1234", "internal extension"),
        ("12345678901", "not a Thai number"),
    ],
)
def test_a_number_that_cannot_be_dialled_fails_at_once_without_a_dial(
    services: Services, phone: str | None, reason: str
) -> None:
    ref = resolved_ticket(services, phone=phone)
    assert services.result_calls.claim_due("node-a", now=MORNING) == []
    state = services.result_calls.state_of(ref)[0]
    assert state["state"] == "exhausted" and reason in state["reason"]
    assert services.tickets.detail(ref)["result_calls"][0]["outcome"] == "failed"
    assert services.tickets.transition(ref, "closed", AGENT)["status"] == "closed"


def test_closing_needs_the_citizen_to_know(services: Services) -> None:
    ref = resolved_ticket(services)
    with pytest.raises(Conflict, match="cannot be closed yet"):
        services.tickets.transition(ref, "closed", AGENT)
    assert services.tickets.get(ref)["status"] == "resolved"
    services.tickets.add_citizen_update(ref, "โทรแจ้งผลแล้ว", AGENT, channel="phone")
    assert services.tickets.transition(ref, "closed", AGENT)["status"] == "closed"


def test_reopening_cancels_the_pending_call(services: Services) -> None:
    ref = resolved_ticket(services)
    services.tickets.transition(ref, "reopened", AGENT, reason="ยังไม่ซ่อม")
    assert services.result_calls.state_of(ref)[0]["state"] == "cancelled"
    assert services.result_calls.claim_due("node-a", now=MORNING) == []


def test_a_low_rating_and_a_wish_for_an_officer_reach_the_supervisor(services: Services) -> None:
    services.users.add_user("boss", "correct-horse-1", "supervisor")
    low = resolved_ticket(services)
    officer = resolved_ticket(services, phone="021234567")
    claims = {
        c.ticket_reference: c for c in services.result_calls.claim_due("n", limit=5, now=MORNING)
    }
    services.result_calls.finish(claims[low], "rated", rating=1, now=MORNING)
    services.result_calls.finish(claims[officer], "wants_officer", now=MORNING)
    with services.sessions() as session:
        rows = session.scalars(select(Notification).where(Notification.kind != "routed"))
        kinds = sorted(n.kind for n in rows)
    assert kinds == ["citizen_callback", "low_rating"]
    [callback] = _events(services, "callback.requested")
    assert callback["caller_masked"] == "•••••4567"
    # ... and it is a callback request in the live call-takers' queue, waiting for an officer
    [request] = services.callbacks.requests()
    assert (request["id"], request["state"], request["attempts"]) == (
        callback["callback_id"],
        "pending",
        0,
    )
    assert request["ticket_reference"] == callback["ticket_reference"]


def test_a_low_post_call_survey_rating_reaches_the_supervisor_too(services: Services) -> None:
    services.users.add_user("boss", "correct-horse-1", "supervisor")
    ref = resolved_ticket(services)
    with services.sessions.begin() as session:
        ticket_id = services.tickets.get(ref)["id"]
        session.add(SurveyResult(ticket_id=ticket_id, rating=2))
    with services.sessions() as session:
        rows = session.scalars(select(Notification).where(Notification.kind != "routed"))
        assert [n.kind for n in rows] == ["low_rating"]
    assert services.tickets.detail(ref)["rating"] == 2


def test_progress_reports_call_only_for_the_categories_that_ask(services: Services) -> None:
    from ticketing.citizen_loop import install

    from .helpers import PASSWORD, routed_ticket

    install(  # a second rule set: progress calls for INFRASTRUCTURE (the default has none)
        services.sessions,
        services.catalog,
        CitizenSettings(progress_categories=("INFRASTRUCTURE",)),
    )
    ref, code = routed_ticket(services)
    services.users.add_user("works", PASSWORD, "agency")
    services.agency_work.assign_user("works", code)
    agency = services.users.authenticate("works", PASSWORD)
    services.agency_work.accept(ref, agency)
    services.agency_work.progress_report(ref, agency, "กำลังซ่อม เสร็จภายในสัปดาห์นี้")
    assert [s["trigger"] for s in services.result_calls.state_of(ref)] == ["progress"]
    back_date(services, ref)
    [claim] = services.result_calls.claim_due("node-a", now=MORNING)
    assert (claim.trigger, claim.progress) == ("progress", "กำลังซ่อม เสร็จภายในสัปดาห์นี้")


def test_two_nodes_claiming_at_once_never_share_a_call(services: Services) -> None:
    import threading

    refs = {resolved_ticket(services) for _ in range(12)}
    claimed: dict[str, list[str]] = {"node-a": [], "node-b": []}
    start = threading.Barrier(2)

    def claim(node: str) -> None:
        start.wait()
        for _ in range(6):
            try:
                got = services.result_calls.claim_due(node, limit=2, now=MORNING)
            except Exception:  # a serialisation loss is retried by the node's next pass
                continue
            claimed[node] += [c.ticket_reference for c in got]

    threads = [threading.Thread(target=claim, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    every = claimed["node-a"] + claimed["node-b"]
    assert len(every) == len(set(every))  # nobody called twice
    assert set(every) <= refs
    left = services.result_calls.claim_due("node-c", limit=20, now=MORNING)
    assert set(every) | {c.ticket_reference for c in left} == refs
