"""Issue 12 in the API: GET /api/v1/tickets/{ref} carries result_calls, rating and the close
rule; closing a resolved ticket is refused (409, the reason) until the citizen knows."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.citizen.helpers import bangkok, resolved_ticket
from ticketing.container import Services

MORNING = bangkok("2026-12-03 10:00")


def _close(client: TestClient, ref: str, headers: dict[str, str]) -> object:
    version = client.get(f"/api/v1/tickets/{ref}", headers=headers).json()["version"]
    return client.post(
        f"/api/v1/tickets/{ref}/transitions",
        json={"to": "closed", "version": version},
        headers=headers,
    )


def test_a_rated_result_call_is_in_the_ticket_and_lets_it_close(
    client: TestClient, services: Services, agent: dict[str, str]
) -> None:
    ref = resolved_ticket(services)
    body = client.get(f"/api/v1/tickets/{ref}", headers=agent).json()
    assert (body["result_calls"], body["rating"]) == ([], None)
    assert body["close_rule"]["allowed"] is False
    [claim] = services.result_calls.claim_due("node-a", now=MORNING)
    body = client.get(f"/api/v1/tickets/{ref}", headers=agent).json()
    assert [c["outcome"] for c in body["result_calls"]] == ["calling"]
    services.result_calls.finish(claim, "rated", rating=5, now=MORNING)
    body = client.get(f"/api/v1/tickets/{ref}", headers=agent).json()
    assert body["rating"] == 5
    assert body["result_calls"] == [
        {"at": "2026-12-03T03:00:00+00:00", "outcome": "rated", "rating": 5}
    ]
    assert body["close_rule"] == {
        "allowed": True,
        "why": "the result call reached the citizen (rated)",
        "code": "result_call",
    }
    closed = _close(client, ref, agent)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"  # type: ignore[attr-defined]


def test_closing_before_the_citizen_knows_is_refused_with_the_reason(
    client: TestClient, services: Services, agent: dict[str, str]
) -> None:
    ref = resolved_ticket(services)
    refused = _close(client, ref, agent)
    assert refused.status_code == 409  # type: ignore[attr-defined]
    message = refused.json()["error"]["message"]  # type: ignore[attr-defined]
    assert "cannot be closed yet" in message and "record the officer's contact" in message
    assert client.get(f"/api/v1/tickets/{ref}", headers=agent).json()["status"] == "resolved"
    update = client.post(
        f"/api/v1/tickets/{ref}/updates",
        json={"message": "โทรแจ้งผลแล้ว", "channel": "phone"},
        headers=agent,
    )
    assert update.status_code == 201
    rule = client.get(f"/api/v1/tickets/{ref}", headers=agent).json()["close_rule"]
    assert rule == {
        "allowed": True,
        "why": "an officer told the citizen (phone)",
        "code": "officer",
    }
    assert _close(client, ref, agent).status_code == 200  # type: ignore[attr-defined]


def test_exhausted_attempts_let_it_close_with_the_reason_shown(
    client: TestClient, services: Services, agent: dict[str, str]
) -> None:
    ref = resolved_ticket(services, phone=None)
    services.result_calls.claim_due("node-a", now=MORNING)
    rule = client.get(f"/api/v1/tickets/{ref}", headers=agent).json()["close_rule"]
    assert rule == {
        "allowed": True,
        "why": "the result call could not reach the citizen: no callback number on the ticket",
        "code": "exhausted",
    }
    assert _close(client, ref, agent).status_code == 200  # type: ignore[attr-defined]
