"""GET /api/v1/calls, /api/v1/callbacks, /api/v1/agents/me, the wallboard's figures and the
queue's /metrics (issue 13), over the real app, SQLite and Redis."""

from __future__ import annotations

from starlette.testclient import TestClient

from ticketing.container import Services
from ticketing.presence import AgentState
from ticketing.timeutil import utcnow


def _answered_call(services: Services, call_id: str, agent: str) -> None:
    services.calls.start_call(call_id, caller_number="0812345678", node="n1")
    services.call_queue.queued(call_id, priority="normal", reference=None)
    services.call_queue.bridged(call_id, agent)
    services.call_queue.conversation_ended(call_id, talk_seconds=42, hold_seconds=0)
    services.calls.end_call(call_id, "bye", abandoned=False)


def test_calls_per_role(
    client: TestClient,
    services: Services,
    agent: dict[str, str],
    supervisor: dict[str, str],
    admin: dict[str, str],
) -> None:
    _answered_call(services, "c1", "agent1")
    _answered_call(services, "c2", "someone_else")
    reply = client.get("/api/v1/calls?limit=10", headers=supervisor)
    assert reply.status_code == 200, reply.text
    items = reply.json()["items"]
    assert {i["id"] for i in items} == {"c1", "c2"}
    assert all(i["caller"] == "••••••5678" for i in items)  # supervisors see numbers masked
    first = next(i for i in items if i["id"] == "c1")
    assert first["outcome"] == "answered" and first["talk_seconds"] == 42
    assert first["ticket_reference"] and first["queue_entered_at"] and first["answered_at"]
    assert client.get("/api/v1/calls", headers=admin).status_code == 200
    mine = client.get("/api/v1/calls", headers=agent).json()["items"]
    assert [i["id"] for i in mine] == ["c1"] and mine[0]["caller"] == "0812345678"
    for bad in ("0", "201", "x", "-1"):
        reply = client.get(f"/api/v1/calls?limit={bad}", headers=supervisor)
        assert reply.status_code == 400, (bad, reply.text)
    assert client.get("/api/v1/calls").status_code == 401


def test_callbacks_and_my_presence(
    client: TestClient, services: Services, agent: dict[str, str], supervisor: dict[str, str]
) -> None:
    services.calls.start_call("c3", caller_number="0812345678", node="n1")
    services.callbacks.request("0899999999", call_id="c3", ticket_reference=None)
    [item] = client.get("/api/v1/callbacks", headers=supervisor).json()["items"]
    assert item["number"] == "••••••9999" and item["state"] == "pending" and item["attempts"] == 0
    [item] = client.get("/api/v1/callbacks", headers=agent).json()["items"]
    assert item["number"] == "0899999999"
    me = client.get("/api/v1/agents/me", headers=agent)
    assert (me.status_code, me.json()["state"]) == (200, "offline")
    services.presence.request_state("agent1", "agent", AgentState.AVAILABLE)
    assert client.get("/api/v1/agents/me", headers=agent).json()["state"] == "available"
    assert client.get("/api/v1/agents/me", headers=supervisor).status_code == 403


def test_queue_figures_in_metrics(client: TestClient, services: Services) -> None:
    _answered_call(services, "c4", "agent1")
    body = client.get("/metrics").text
    for name in (
        "hotline_queue_calls_waiting",
        "hotline_queue_oldest_wait_seconds",
        "hotline_queue_answered_total",
        "hotline_queue_abandoned_total",
        "hotline_queue_service_level",
        "hotline_queue_wait_seconds_bucket",
        "hotline_call_handle_seconds_bucket",
    ):
        assert f"\n{name}" in body, name
    assert "hotline_queue_answered_total 1.0" in body


def test_agents_gauge_follows_changes_made_by_other_processes(
    client: TestClient, services: Services
) -> None:
    # As an IVR node does it: the live store changes in another process, not this one's gauge.
    services.presence.store.apply("nodeagent", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    services.presence.store.apply("nodeagent2", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
    body = client.get("/metrics").text
    assert 'hotline_agents{state="available"} 2.0' in body


def test_the_officer_on_the_call_transfers_holds_and_mutes(
    client: TestClient, services: Services, agent: dict[str, str], supervisor: dict[str, str]
) -> None:
    services.calls.start_call("c7", caller_number="0812345678", node="node-7")
    services.call_queue.queued("c7", priority="normal", reference=None)
    services.call_queue.bridged("c7", "agent1")
    reader = services.call_commands.reader("node-7", "c7")  # the call's session, from now on
    reply = client.post("/api/v1/calls/c7/leg", json={"action": "hold"}, headers=agent)
    assert reply.status_code == 202, reply.text
    assert reply.json() == {"call_id": "c7", "action": "hold", "target": "", "node": "node-7"}
    reply = client.post("/api/v1/calls/c7/transfer", json={"target": "hub:1166"}, headers=agent)
    assert reply.status_code == 202, reply.text
    seen = [reader.next(), reader.next()]
    assert [(c.action, c.target, c.by) for c in seen if c] == [
        ("hold", "", "agent1"),
        ("transfer", "hub:1166", "agent1"),
    ]
    bad = client.post("/api/v1/calls/c7/transfer", json={"target": "hub:999"}, headers=agent)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "target"
    bad = client.post("/api/v1/calls/c7/leg", json={"action": "explode"}, headers=agent)
    assert bad.status_code == 422
    # another agent may not; a supervisor may; an ended call is a conflict
    services.users.add_user("agent2", "agent2-password", "agent")
    other = {"Authorization": f"Bearer {services.users.create_token('agent2')}"}
    assert (
        client.post("/api/v1/calls/c7/leg", json={"action": "mute"}, headers=other).status_code
        == 403
    )
    assert (
        client.post("/api/v1/calls/c7/leg", json={"action": "mute"}, headers=supervisor).status_code
        == 202
    )
    services.calls.end_call("c7", "bye", abandoned=False)
    ended = client.post("/api/v1/calls/c7/transfer", json={"target": "queue"}, headers=supervisor)
    assert ended.status_code == 409
    assert (
        client.post(
            "/api/v1/calls/nope/leg", json={"action": "hold"}, headers=supervisor
        ).status_code
        == 404
    )
