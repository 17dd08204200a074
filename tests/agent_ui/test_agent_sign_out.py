"""Signing out of the console makes a call-taker offline (issue 13)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.agent_ui.conftest import sign_in
from ticketing.container import Services
from ticketing.embedded_redis import EmbeddedRedis

STATE = "/api/v1/agents/me/state"


def test_logout_sets_the_agent_offline(client: TestClient, services: Services) -> None:
    token = sign_in(client, "somchai")
    reply = client.put(STATE, json={"state": "available"}, headers={"x-csrf-token": token})
    assert reply.status_code == 200, reply.text
    assert services.presence.store.get("somchai").state.value == "available"
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert services.presence.store.get("somchai").state.value == "offline"


def test_logout_works_while_redis_is_down(
    client: TestClient, services: Services, redis_server: EmbeddedRedis
) -> None:
    token = sign_in(client, "somchai")
    redis_server.stop()
    try:
        reply = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert reply.status_code == 303
    finally:
        redis_server.start()
    assert client.get("/console", follow_redirects=False).status_code == 303
