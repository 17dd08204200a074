"""POST /api/v1/calls/{id}/listen (issue 13): supervisors and admins only, sent to the node that
holds the call, and logged like a recording listen (PDPA) and on the call's audit."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from ticketing.container import Services
from ticketing.models import AuditEvent, RecordingAccess


def test_listen_in_roles_command_and_log(
    client: TestClient,
    services: Services,
    agent: dict[str, str],
    supervisor: dict[str, str],
    admin: dict[str, str],
) -> None:
    services.calls.start_call("c9", caller_number="0812345678", node="node-9")
    services.call_queue.queued("c9", priority="normal", reference=None)
    services.call_queue.bridged("c9", "agent1")
    rows = services.call_queue.start_conversation_recording("c9", "recordings/c9-conv.wav")
    reader = services.call_commands.reader("node-9", "c9")
    # the officer on the call may not listen in (nor may anyone signed out)
    assert client.post("/api/v1/calls/c9/listen", headers=agent).status_code == 403
    assert client.post("/api/v1/calls/c9/listen").status_code == 401
    reply = client.post("/api/v1/calls/c9/listen", headers=supervisor)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["action"] == "listen" and body["node"] == "node-9"
    assert body["target"].startswith("agent:")
    command = reader.next()
    assert command is not None and command.action == "listen"
    assert command.target == f"agent:{command.by}" and command.by
    assert client.post("/api/v1/calls/c9/listen", headers=admin).status_code == 202
    with services.sessions() as session:
        access = list(session.scalars(select(RecordingAccess)))
        audits = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "call_listened"))
        )
    caller_and_agent = {rows["caller"], rows["agent"]}
    assert {a.recording_id for a in access} == caller_and_agent
    assert {a.purpose for a in access} == {"listen_live"} and len(access) == 4
    assert all(a.user_id is not None for a in access)
    assert len(audits) == 2 and audits[0].ticket_id == rows["ticket_id"]
    assert audits[0].actor == f"user:{command.by}"
    # an unknown call: 404; a call no longer with an officer: 409 (and nothing logged)
    assert client.post("/api/v1/calls/nope/listen", headers=supervisor).status_code == 404
    services.calls.end_call("c9", "bye", abandoned=False)
    assert client.post("/api/v1/calls/c9/listen", headers=supervisor).status_code == 409
    with services.sessions() as session:
        assert len(list(session.scalars(select(RecordingAccess)))) == 4
