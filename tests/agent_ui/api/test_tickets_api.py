from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from ticketing.container import Services
from ticketing.reference import is_valid_reference

NEW = {
    "description": "ไฟฟ้าดับทั้งหมู่บ้าน",
    "category": "INFRASTRUCTURE",
    "province_code": "50",
    "district_code": "5015",
    "caller_phone": "0812345678",
}


def _error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


def test_create_confirm_route_refuse_illegal_and_audit(
    client: TestClient, agent: dict[str, str]
) -> None:
    created = client.post("/api/v1/tickets", json=NEW, headers=agent)
    assert created.status_code == 201
    ticket = created.json()
    ref = ticket["reference"]
    assert ticket["status"] == "draft"
    assert is_valid_reference(ref)
    assert created.headers["location"] == f"/api/v1/tickets/{ref}"

    confirmed = client.post(
        f"/api/v1/tickets/{ref}/transitions", json={"to": "confirmed"}, headers=agent
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"
    routed = client.post(f"/api/v1/tickets/{ref}/transitions", json={"to": "routed"}, headers=agent)
    assert routed.status_code == 200
    assert routed.json()["agency_code"] == "LOCAL_ADMIN-50"

    illegal = client.post(f"/api/v1/tickets/{ref}/transitions", json={"to": "draft"}, headers=agent)
    assert illegal.status_code == 409
    assert _error(illegal)["code"] == "conflict"
    assert "cannot go from routed to draft" in _error(illegal)["message"]

    audit = client.get(f"/api/v1/tickets/{ref}/audit", headers=agent)
    assert audit.status_code == 200
    items = audit.json()["items"]
    assert [i["action"] for i in items] == ["created", "status:confirmed", "routed"]
    assert items[1]["before"]["status"] == "draft"
    assert items[1]["after"]["status"] == "confirmed"
    assert all(i["actor"] == "agent1" for i in items)


def test_get_list_filters_and_cursor(client: TestClient, agent: dict[str, str]) -> None:
    refs = [
        client.post("/api/v1/tickets", json=NEW, headers=agent).json()["reference"]
        for _ in range(5)
    ]
    urgent = client.post(
        "/api/v1/tickets", json={**NEW, "urgent": True, "category": "DISASTER"}, headers=agent
    ).json()["reference"]
    first = client.get("/api/v1/tickets?limit=4", headers=agent).json()
    assert [t["reference"] for t in first["items"]] == [urgent, *refs[::-1][:3]]
    second = client.get(
        f"/api/v1/tickets?limit=4&cursor={first['next_cursor']}", headers=agent
    ).json()
    assert [t["reference"] for t in second["items"]] == refs[::-1][3:]
    assert second["next_cursor"] is None
    only_urgent = client.get("/api/v1/tickets?urgent=true", headers=agent).json()["items"]
    assert [t["reference"] for t in only_urgent] == [urgent]
    by_category = client.get(
        "/api/v1/tickets?category=DISASTER&status=draft", headers=agent
    ).json()["items"]
    assert len(by_category) == 1
    assert client.get("/api/v1/tickets?overdue=true", headers=agent).json()["items"] == []
    detail = client.get(f"/api/v1/tickets/{urgent}", headers=agent).json()
    assert detail["suggested_agency"] == "DDPM-50"
    assert detail["audit"][0]["action"] == "created"


def test_updates_and_patch_with_version(client: TestClient, agent: dict[str, str]) -> None:
    ticket = client.post("/api/v1/tickets", json=NEW, headers=agent).json()
    ref = ticket["reference"]
    first = client.patch(
        f"/api/v1/tickets/{ref}",
        json={"category": "NUISANCE", "version": ticket["version"]},
        headers=agent,
    )
    assert first.status_code == 200
    stale = client.patch(
        f"/api/v1/tickets/{ref}",
        json={"category": "DRUGS", "version": ticket["version"]},
        headers=agent,
    )
    assert stale.status_code == 409
    assert _error(stale)["code"] == "stale_version"
    update = client.post(
        f"/api/v1/tickets/{ref}/updates", json={"message": "ส่งเรื่องให้ อบต. แล้ว"}, headers=agent
    )
    assert update.status_code == 201
    detail = client.get(f"/api/v1/tickets/{ref}", headers=agent).json()
    assert detail["category"] == "NUISANCE"
    assert detail["updates"][0]["message"] == "ส่งเรื่องให้ อบต. แล้ว"
    assert detail["first_update_at"] is not None


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_json"),
        (b"[1, 2]", "application/json", 400, "invalid_json"),
        (b"\xff\xfe", "application/json", 400, "invalid_json"),
        (b"description=x", "application/x-www-form-urlencoded", 400, "bad_request"),
        (b'{"description": ""}', "application/json", 422, "invalid"),
        (b'{"description": 5}', "application/json", 422, "invalid"),
        (b'{"description": "x", "urgent": "yes"}', "application/json", 422, "invalid"),
        (b'{"description": "x", "category": "NOPE"}', "application/json", 422, "invalid"),
        (b'{"description": "x", "colour": "red"}', "application/json", 422, "invalid"),
        (
            b'{"description": "x", "province_code": "50", "district_code": "1001"}',
            "application/json",
            422,
            "invalid",
        ),
        (
            b'{"description": "x", "citizen_id": "1111111111111"}',
            "application/json",
            422,
            "invalid",
        ),
        (b'{"description": "\\u0000"}', "application/json", 422, "invalid"),
    ],
)
def test_bad_bodies_get_json_errors_and_store_nothing(
    client: TestClient,
    agent: dict[str, str],
    services: Services,
    body: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = client.post(
        "/api/v1/tickets", content=body, headers={**agent, "Content-Type": content_type}
    )
    assert response.status_code == status
    assert _error(response)["code"] == code
    assert client.get("/api/v1/tickets", headers=agent).json()["items"] == []


def test_transition_errors(client: TestClient, agent: dict[str, str]) -> None:
    ref = client.post("/api/v1/tickets", json=NEW, headers=agent).json()["reference"]
    url = f"/api/v1/tickets/{ref}/transitions"
    assert client.post(url, json={}, headers=agent).status_code == 422
    assert client.post(url, json={"to": "flying"}, headers=agent).status_code == 422
    rejected = client.post(url, json={"to": "rejected"}, headers=agent)
    assert rejected.status_code == 422
    assert _error(rejected)["field"] == "reason"
    assert (
        client.post(
            "/api/v1/tickets/690000000/transitions", json={"to": "confirmed"}, headers=agent
        ).status_code
        == 404
    )
    assert client.get("/api/v1/tickets/nonsense", headers=agent).status_code == 404
    assert client.get("/api/v1/tickets?status=flying", headers=agent).status_code == 400
    assert client.get("/api/v1/tickets?urgent=maybe", headers=agent).status_code == 400
    assert client.get("/api/v1/tickets?created_from=yesterday", headers=agent).status_code == 400


def test_authentication_and_roles(
    client: TestClient,
    agent: dict[str, str],
    supervisor: dict[str, str],
    admin: dict[str, str],
    services: Services,
) -> None:
    missing = client.get("/api/v1/tickets")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert (
        client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert client.get("/api/v1/tickets", headers={"Authorization": "Basic abc"}).status_code == 401
    # admins manage accounts; they may read but not work tickets
    assert client.get("/api/v1/tickets", headers=admin).status_code == 200
    assert client.post("/api/v1/tickets", json=NEW, headers=admin).status_code == 403
    # supervisors see metrics; agents don't
    assert client.get("/api/v1/metrics/summary", headers=supervisor).status_code == 200
    assert client.get("/api/v1/metrics/summary", headers=agent).status_code == 403
    # a revoked token stops working
    token = agent["Authorization"].split()[1]
    assert services.users.revoke_token(token) == 1
    assert client.get("/api/v1/tickets", headers=agent).status_code == 401


def test_openapi_health_and_metrics(client: TestClient, supervisor: dict[str, str]) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/tickets/{reference}/transitions" in spec["paths"]
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    client.post("/api/v1/tickets", json={**NEW, "urgent": True}, headers=supervisor)
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert "# TYPE hotline_drafts_waiting gauge" in text
    assert "hotline_drafts_waiting 1" in text
    assert "hotline_urgent_open 1" in text
    assert 'hotline_backlog_tickets{age_days="0-7"} 1' in text
    assert "hotline_asr_queue_depth 0" in text


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
