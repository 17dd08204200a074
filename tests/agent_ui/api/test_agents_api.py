"""PUT /api/v1/agents/me/state and GET /api/v1/agents (issue 13)."""

from __future__ import annotations

from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from ticketing.container import Services
from ticketing.embedded_redis import EmbeddedRedis

STATE = "/api/v1/agents/me/state"


def test_an_agent_goes_available_then_on_break(
    client: TestClient, agent: dict[str, str], services: Services
) -> None:
    reply = client.put(STATE, json={"state": "available"}, headers=agent)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["username"], body["state"], body["reason"]) == ("agent1", "available", None)
    assert body["since"] is not None
    reply = client.put(STATE, json={"state": "break", "reason": "meal"}, headers=agent)
    assert (reply.status_code, reply.json()["reason"]) == (200, "meal")
    assert services.presence.store.get("agent1").state.value == "break"
    assert REGISTRY.get_sample_value("hotline_agents", {"state": "break"}) == 1


def test_bad_requests_get_clear_errors(client: TestClient, agent: dict[str, str]) -> None:
    cases = [
        ({"state": "break"}, 422, "break needs a reason, one of:"),
        ({"state": "break", "reason": "coffee"}, 422, "one of:"),
        ({"state": "available", "reason": "meal"}, 422, "a reason goes only with break"),
        ({"state": "on_call"}, 422, "state"),
        ({"state": "available", "extra": 1}, 422, "unknown fields: extra"),
        ({}, 422, "state"),
    ]
    for body, status, message in cases:
        reply = client.put(STATE, json=body, headers=agent)
        assert reply.status_code == status, (body, reply.text)
        assert message in reply.json()["error"]["message"], (body, reply.text)
    reply = client.put(STATE, content=b"[", headers={**agent, "content-type": "application/json"})
    assert reply.status_code == 400


def test_an_agent_on_a_call_cannot_go_on_break(
    client: TestClient, agent: dict[str, str], services: Services
) -> None:
    client.put(STATE, json={"state": "available"}, headers=agent)
    services.presence.ring("agent1", "call-7")
    services.presence.answer("agent1")
    reply = client.put(STATE, json={"state": "break", "reason": "meal"}, headers=agent)
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "conflict"
    assert services.presence.store.get("agent1").state.value == "on_call"


def test_supervisors_see_every_agent(
    client: TestClient,
    agent: dict[str, str],
    supervisor: dict[str, str],
    admin: dict[str, str],
    services: Services,
) -> None:
    services.users.add_user("agent2", "agent2-password", "agent", display_name="มาลี")
    client.put(STATE, json={"state": "available"}, headers=agent)
    services.presence.ring("agent1", "call-8")
    for headers in (supervisor, admin):
        reply = client.get("/api/v1/agents", headers=headers)
        assert reply.status_code == 200, reply.text
        items = {a["username"]: a for a in reply.json()["items"]}
        assert {"agent1", "agent2"} <= set(items)  # (the console's conftest adds more agents)
        assert "super1" not in items and "admin1" not in items
        assert (items["agent1"]["state"], items["agent1"]["call_id"]) == ("ringing", "call-8")
        assert (items["agent2"]["state"], items["agent2"]["display_name"]) == ("offline", "มาลี")


def test_roles(client: TestClient, agent: dict[str, str], supervisor: dict[str, str]) -> None:
    assert client.get("/api/v1/agents", headers=agent).status_code == 403
    reply = client.put(STATE, json={"state": "available"}, headers=supervisor)
    assert reply.status_code == 403
    assert client.get("/api/v1/agents").status_code == 401


def test_redis_down_is_503_and_serving_goes_on(
    client: TestClient, agent: dict[str, str], redis_server: EmbeddedRedis
) -> None:
    redis_server.stop()
    try:
        reply = client.put(STATE, json={"state": "available"}, headers=agent)
        assert reply.status_code == 503
        assert reply.json()["error"]["code"] == "unavailable"
    finally:
        redis_server.start()
    assert client.put(STATE, json={"state": "available"}, headers=agent).status_code == 200


def test_a_scoped_supervisor_sees_the_agents_of_their_provinces(
    client: TestClient, services: Services
) -> None:
    services.users.add_user("cm_agent", "cm-agent-password", "agent", provinces=["50"])
    services.users.add_user("bkk_agent", "bkk-agent-password", "agent", provinces=["10"])
    services.users.add_user("any_agent", "any-agent-password", "agent")
    services.users.add_user("cm_boss", "cm-boss-password", "supervisor", provinces=["50"])
    headers = {"Authorization": f"Bearer {services.users.create_token('cm_boss')}"}
    names = {a["username"] for a in client.get("/api/v1/agents", headers=headers).json()["items"]}
    assert {"cm_agent", "any_agent"} <= names and "bkk_agent" not in names
