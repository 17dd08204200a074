"""A province-scoped supervisor's wallboard, agents and calls (issue 13 with issue 9's scope):
their agents (and the centre-wide pool), the calls those agents took or whose draft is in their
provinces, the one national queue labelled centre-wide; the same over the live stream (SSE).
An unscoped supervisor sees everything. Real app, SQLite, Redis, a uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from ticketing.container import Services
from ticketing.live_queue import QueueEntry
from ticketing.models import Ticket
from ticketing.presence import AgentState

from .conftest import PASSWORD, LiveServer, sign_in
from .test_live import events


def _answered(services: Services, call_id: str, agent: str) -> None:
    services.calls.start_call(call_id, caller_number="0812345678", node="n1")
    services.call_queue.queued(call_id, priority="normal", reference=None)
    services.call_queue.bridged(call_id, agent)
    services.call_queue.conversation_ended(call_id, talk_seconds=30, hold_seconds=0)
    services.calls.end_call(call_id, "bye", abandoned=False)


def _abandoned_in(services: Services, call_id: str, province: str | None) -> None:
    services.calls.start_call(call_id, caller_number="0899999999", node="n1")
    services.call_queue.queued(call_id, priority="normal", reference=None)
    services.calls.end_call(call_id, "bye", abandoned=True)
    with services.sessions.begin() as session:
        session.execute(
            update(Ticket).where(Ticket.call_id == call_id).values(province_code=province)
        )


@pytest.fixture
def scene(services: Services) -> Iterator[dict[str, dict[str, str]]]:
    services.users.add_user("bkk_agent", PASSWORD, "agent", provinces=["10"])
    services.users.add_user("cm_boss", PASSWORD, "supervisor", provinces=["50"])
    for name in ("chiang_mai_agent", "bkk_agent", "somchai"):
        services.presence.request_state(name, "agent", AgentState.AVAILABLE)
    _answered(services, "c-cm", "chiang_mai_agent")
    _answered(services, "c-bkk", "bkk_agent")
    _abandoned_in(services, "c-ab-cm", "50")
    _abandoned_in(services, "c-ab-bkk", "10")
    _abandoned_in(services, "c-ab-none", None)
    now = datetime.now(UTC)
    for call_id in ("w1", "w2"):  # the national queue: two callers wait
        services.live_queue.join(QueueEntry(call_id, "normal", now, node="n1"))
    services.queue_reads.cache_seconds = 0
    yield {
        name: {"Authorization": f"Bearer {services.users.create_token(name)}"}
        for name in ("cm_boss", "boss")
    }


def test_the_api_and_the_wallboard_for_a_scoped_and_an_unscoped_supervisor(
    client: TestClient, services: Services, scene: dict[str, dict[str, str]]
) -> None:
    def agents(who: str) -> set[str]:
        reply = client.get("/api/v1/agents", headers=scene[who])
        assert reply.status_code == 200, reply.text
        return {a["username"] for a in reply.json()["items"]}

    def calls(who: str) -> set[str]:
        reply = client.get("/api/v1/calls", headers=scene[who])
        assert reply.status_code == 200, reply.text
        return {c["id"] for c in reply.json()["items"]}

    def board(who: str) -> dict[str, Any]:
        reply = client.get("/console/api/wallboard", headers=scene[who])
        assert reply.status_code == 200, reply.text
        return reply.json()

    # agents: their province's and the centre-wide pool (no scope), not Bangkok's
    assert {"chiang_mai_agent", "somchai"} <= agents("cm_boss")
    assert "bkk_agent" not in agents("cm_boss")
    assert {"chiang_mai_agent", "somchai", "bkk_agent"} <= agents("boss")
    # calls: taken by their agents or with the draft in their province
    assert calls("cm_boss") == {"c-cm", "c-ab-cm"}
    assert calls("boss") == {"c-cm", "c-bkk", "c-ab-cm", "c-ab-bkk", "c-ab-none"}

    scoped, whole = board("cm_boss"), board("boss")
    assert scoped["scope"]["provinces"] == ["50"] and whole["scope"]["provinces"] == []
    assert {"callers_waiting", "oldest_wait_seconds"} <= set(scoped["scope"]["centre_wide"])
    # the national queue is the same for both
    assert scoped["callers_waiting"] == whole["callers_waiting"] == 2
    assert scoped["oldest_wait_seconds"] is not None
    assert {a["username"] for a in scoped["agents"]} == {"chiang_mai_agent", "somchai"}
    assert "bkk_agent" in {a["username"] for a in whole["agents"]}
    assert scoped["agents_by_state"]["available"] == 2
    assert whole["agents_by_state"]["available"] == 3
    assert (scoped["today"]["entered"], scoped["today"]["answered"]) == (2, 1)
    assert scoped["today"]["abandoned"] == 1
    assert (whole["today"]["entered"], whole["today"]["answered"]) == (5, 2)
    assert whole["today"]["abandoned"] == 3


def test_the_live_stream_tells_a_scoped_supervisor_of_their_agents_only(
    live_server: LiveServer, services: Services, scene: dict[str, dict[str, str]]
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=5) as scoped_client,
        httpx.Client(base_url=live_server.url, timeout=5) as whole_client,
    ):
        sign_in(scoped_client, "cm_boss")
        sign_in(whole_client, "boss")
        with (
            scoped_client.stream("GET", "/console/live") as scoped_response,
            whole_client.stream("GET", "/console/live") as whole_response,
        ):
            scoped, whole = events(scoped_response), events(whole_response)
            assert next(scoped)[0] == "hello" and next(whole)[0] == "hello"
            services.presence.request_state("bkk_agent", "agent", AgentState.BREAK, "meal")
            services.presence.request_state("chiang_mai_agent", "agent", AgentState.BREAK, "meal")
            heard_scoped = _agent_states(scoped, until="chiang_mai_agent")
            heard_whole = _agent_states(whole, until="chiang_mai_agent")
    assert heard_scoped == ["chiang_mai_agent"]
    assert heard_whole == ["bkk_agent", "chiang_mai_agent"]


def _agent_states(stream: Iterator[tuple[str, dict[str, Any]]], until: str) -> list[str]:
    heard = []
    for kind, message in stream:
        if kind == "hotline" and message["type"] == "agent.state":
            heard.append(message["data"]["username"])
            if message["data"]["username"] == until:
                return heard
    raise AssertionError("stream ended")
