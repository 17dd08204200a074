"""The API's declared schemas and its handlers agree: every route is declared once, the OpenAPI
document is generated from the models (no drift), replies are checked against them, and the five
inputs that gave HTTP 500 on main 4c6c892 get the documented error body (issues 8.5 and 9)."""

from __future__ import annotations

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from agent_ui.api import schemas
from agent_ui.api.contract import OPERATIONS
from agent_ui.app import create_app
from config.settings import Settings
from ticketing import tickets as tickets_service
from ticketing.container import Services

NEW = {"description": "ถนนพัง", "category": "INFRASTRUCTURE", "province_code": "50"}


def _api_routes(settings: Settings, services: Services) -> set[tuple[str, str]]:
    app = create_app(settings, services)
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1")
    found = set()
    for route in mount.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD" and route.path != "/openapi.json":
                found.add((method, route.path))
    return found


def test_every_route_is_declared_once(settings: Settings, services: Services) -> None:
    declared = [(op.method, op.path) for op in OPERATIONS]
    assert len(declared) == len(set(declared))
    assert set(declared) == _api_routes(settings, services)


def test_the_document_is_the_models(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    components = spec["components"]["schemas"]
    assert "note" in components["Transition"]["properties"]
    assert set(components["Ticket"]["properties"]) == set(schemas.Ticket.model_fields)
    # 36 fields, plus escalation_level, sla, resolution_type and returned_by (agencies and SLA),
    # result_calls and rating (issue 12)
    assert len(schemas.Ticket.model_fields) == 42
    for op in OPERATIONS:
        entry = spec["paths"][op.path][op.method.lower()]
        ok = entry["responses"][str(op.status)]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{op.response.__name__}"}
        for code in op.errors:
            assert str(code) in entry["responses"]


def test_replies_match_the_models(
    client: TestClient, agent: dict[str, str], supervisor: dict[str, str]
) -> None:
    """Each operation's real reply validates against its declared model (extra fields fail)."""
    ref = client.post("/api/v1/tickets", json=NEW, headers=agent).json()["reference"]
    client.post(f"/api/v1/tickets/{ref}/updates", json={"message": "รับเรื่องแล้ว"}, headers=agent)
    calls = {
        ("GET", "/tickets"): client.get("/api/v1/tickets", headers=agent),
        ("GET", "/tickets/{reference}"): client.get(f"/api/v1/tickets/{ref}", headers=agent),
        ("GET", "/tickets/{reference}/audit"): client.get(
            f"/api/v1/tickets/{ref}/audit", headers=agent
        ),
        ("GET", "/catalog"): client.get("/api/v1/catalog", headers=agent),
        ("GET", "/metrics/summary"): client.get("/api/v1/metrics/summary", headers=supervisor),
        ("GET", "/tickets/{reference}/suggested-agency"): client.get(
            f"/api/v1/tickets/{ref}/suggested-agency", headers=agent
        ),
    }
    by_key = {(op.method, op.path): op for op in OPERATIONS}
    for key, response in calls.items():
        op = by_key[key]
        assert response.status_code == op.status, (key, response.text)
        op.response.model_validate(response.json())


def test_a_field_the_schema_lacks_is_caught(
    client: TestClient, agent: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drift between a handler and its schema fails loudly instead of reaching clients."""
    ref = client.post("/api/v1/tickets", json=NEW, headers=agent).json()["reference"]
    real = tickets_service.TicketService.detail

    def with_surprise(self: tickets_service.TicketService, *args: object, **kw: object) -> dict:
        return {**real(self, *args, **kw), "surprise": 1}  # type: ignore[arg-type]

    monkeypatch.setattr(tickets_service.TicketService, "detail", with_surprise)
    response = client.get(f"/api/v1/tickets/{ref}", headers=agent)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"


@pytest.mark.parametrize("bad", [{"a": 1}, [1, 2], 5])
@pytest.mark.parametrize("field", ["category", "province_code", "district_code"])
def test_objects_and_arrays_in_patch_are_422(
    client: TestClient, agent: dict[str, str], field: str, bad: object
) -> None:
    ref = client.post("/api/v1/tickets", json=NEW, headers=agent).json()["reference"]
    response = client.patch(f"/api/v1/tickets/{ref}", json={field: bad}, headers=agent)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"description": ' + b'{"a": ' * 30_000 + b"1" + b"}" * 30_001,
        b'{"description": "\\ud800"}',
        b'{"description": "x\\udfff y"}',
    ],
)
def test_deep_json_and_lone_surrogates_are_400(
    client: TestClient, agent: dict[str, str], body: bytes
) -> None:
    response = client.post(
        "/api/v1/tickets", content=body, headers={**agent, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert client.get("/api/v1/tickets", headers=agent).json()["items"] == []


@pytest.mark.parametrize("cursor", [str(10**26), str(2**63), "²", "-1"])
def test_absurd_cursors_are_400(client: TestClient, agent: dict[str, str], cursor: str) -> None:
    response = client.get("/api/v1/tickets", params={"cursor": cursor}, headers=agent)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
