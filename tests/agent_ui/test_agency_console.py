"""The agency console over HTTP: sign-in lands on /agency, the worklist and actions, 404 for
other agencies' tickets, no way into the centre's API, notifications with unread count."""

from __future__ import annotations

from typing import Any

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.tickets import NewTicket

from .conftest import PASSWORD, phone_draft, sign_in

AGENT = Actor(name="somchai", role="agent")


def _agency_user(services: Services, name: str, code: str) -> None:
    services.users.add_user(name, PASSWORD, "agency")
    services.agency_work.assign_user(name, code)


def _routed(services: Services, province: str = "50") -> str:
    ticket = services.tickets.create(
        NewTicket(description="มีการขายยาเสพติด", category="DRUGS", province_code=province),
        AGENT,
    )
    services.tickets.transition(ticket["reference"], "confirmed", AGENT)
    services.tickets.route(ticket["reference"], None, AGENT)
    return str(ticket["reference"])


def test_agency_user_works_its_queue_over_http(client: Any, services: Services) -> None:
    _agency_user(services, "police50", "POLICE-50")
    mine = _routed(services)
    theirs = _routed(services, province="10")
    page = client.get("/login")
    assert page.status_code == 200
    csrf = sign_in(client, "police50")
    assert client.get("/", follow_redirects=False).headers["location"] == "/agency"
    assert client.get("/agency").status_code == 200
    assert client.get("/console").status_code == 403
    assert client.get(f"/api/v1/tickets/{mine}").status_code == 403
    assert client.get("/api/v1/tickets").status_code == 403

    worklist = client.get("/agency/api/worklist").json()
    assert [i["reference"] for i in worklist["items"]] == [mine]
    assert client.get(f"/agency/api/tickets/{theirs}").status_code == 404
    headers = {"X-CSRF-Token": csrf}
    assert client.post(f"/agency/api/tickets/{theirs}/accept", headers=headers).status_code == 404
    assert client.post(f"/agency/api/tickets/{mine}/accept").status_code == 403  # no CSRF
    accepted = client.post(f"/agency/api/tickets/{mine}/accept", headers=headers)
    assert accepted.status_code == 200 and accepted.json()["status"] == "in_progress"
    progress = client.post(
        f"/agency/api/tickets/{mine}/progress", json={"message": "กำลังตรวจสอบ"}, headers=headers
    )
    assert progress.status_code == 201
    bad = client.post(
        f"/agency/api/tickets/{mine}/result",
        json={"resolution": "x", "resolution_type": "magic"},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "resolution_type"
    done = client.post(
        f"/agency/api/tickets/{mine}/result",
        json={"resolution": "อยู่นอกอำนาจ", "resolution_type": "cannot_be_solved"},
        headers=headers,
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["resolution_type"]) == (
        "resolved",
        "cannot_be_solved",
    )
    detail = client.get(f"/agency/api/tickets/{mine}").json()
    assert [t["action"] for t in detail["timeline"]][-3:] == [
        "status:in_progress",
        "progress_report",
        "result",
    ]

    notes = client.get("/notifications/api").json()
    assert notes["unread"] == 1 and notes["items"][0]["reference"] == mine
    bad_ids = client.post("/notifications/api/read", json={"ids": "all"}, headers=headers)
    assert bad_ids.status_code == 422  # a field of the wrong type, as everywhere in the API
    assert bad_ids.json()["error"]["field"] == "ids"
    assert client.post("/notifications/api/read", json={}, headers=headers).json() == {"marked": 1}


def test_agency_users_hear_no_recordings(client: Any, services: Services, settings: Any) -> None:
    _agency_user(services, "police50", "POLICE-50")
    draft = phone_draft(services, settings)
    sign_in(client, "police50")
    assert client.get(f"/recordings/{draft.recording_id}").status_code == 403
    assert client.get("/console/api/queue").status_code == 403


def test_return_with_reason_over_http(client: Any, services: Services) -> None:
    _agency_user(services, "police50", "POLICE-50")
    ref = _routed(services)
    csrf = sign_in(client, "police50")
    headers = {"X-CSRF-Token": csrf}
    empty = client.post(f"/agency/api/tickets/{ref}/return", json={}, headers=headers)
    assert empty.status_code == 422
    back = client.post(
        f"/agency/api/tickets/{ref}/return", json={"reason": "ผิดหน่วยงาน"}, headers=headers
    )
    assert back.status_code == 200 and back.json()["status"] == "confirmed"
    assert client.get(f"/agency/api/tickets/{ref}").status_code == 404
    assert client.get("/agency/api/worklist").json()["items"] == []


def test_suggestion_names_its_rule(client: Any, services: Services) -> None:
    ticket = services.tickets.create(
        NewTicket(
            description="ขอทำบัตรใหม่",
            category="CIVIL_REGISTRATION",
            province_code="50",
            district_code="5001",
        ),
        AGENT,
    )
    sign_in(client, "somchai")
    found = client.get(f"/api/v1/tickets/{ticket['reference']}/suggested-agency").json()
    assert found["agency_code"] == "DISTRICT_OFFICE-5001"
    assert "CIVIL_REGISTRATION" in found["rule"]


def test_worklists_page_counts_and_metrics(client: Any, services: Services) -> None:
    ref = _routed(services)
    assert client.get("/worklists", follow_redirects=False).status_code == 303
    sign_in(client, "boss")
    assert client.get("/worklists").status_code == 200
    counts = client.get("/worklists/api/counts").json()
    assert set(counts) >= {"overdue", "due_today", "pending_90", "returned", "cannot_be_solved"}
    assert client.get("/worklists/api/lists/nope").status_code == 404
    assert client.get("/worklists/api/lists/overdue").json()["items"] == []
    met = client.get("/worklists/api/sla-met").json()
    assert set(met["clocks"]) == {"confirm", "progress", "resolve"}
    text = client.get("/metrics").text
    assert 'hotline_sla_breached_tickets{clock="resolve"} 0.0' in text
    assert "# TYPE hotline_sla_met_ratio gauge" in text
    listed = client.get("/api/v1/tickets", params={"sla": "breached"}).json()
    assert listed["items"] == [] and ref
    assert client.get("/api/v1/tickets", params={"sla": "late"}).status_code == 400
