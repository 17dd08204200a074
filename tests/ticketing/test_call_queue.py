"""The call record of a queued call and callback requests, on SQLite (and PostgreSQL when set)
with the real Redis: times, outcome, the draft from queue entry, events in the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ticketing.call_queue_model import CallbackRequest
from ticketing.callbacks import entry_id
from ticketing.container import Services
from ticketing.errors import InvalidInput
from ticketing.models import AuditEvent, OutboxEvent, Recording, Ticket


def _events(services: Services, kind: str) -> list[dict[str, Any]]:
    with services.sessions() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == kind))
        return [dict(r.payload) for r in rows]


def test_queued_ringing_bridged_ended(services: Services) -> None:
    calls, queue = services.calls, services.call_queue
    calls.start_call("c1", caller_number="0812345678", node="n1")
    calls.answered("c1")
    first = queue.queued("c1", priority="repeat", reference=None)
    assert first["caller_masked"] == "••••••5678" and first["earlier_references"] == []
    again = queue.queued("c1", priority="urgent", reference=None)
    assert again["ticket_reference"] == first["ticket_reference"]  # one draft per call
    assert again["entered_at"] == first["entered_at"]  # put back: the caller keeps the time
    queue.ringing("c1", "somchai", ticket_reference=first["ticket_reference"], earlier=[])
    wait = queue.bridged("c1", "somchai")
    assert wait >= 0
    rec = queue.start_conversation_recording("c1", "recordings/c1-conversation.wav")
    queue.conversation_ended("c1", talk_seconds=21.5, hold_seconds=0)
    queue.wrap_up("c1", 30)
    calls.end_call("c1", "bye", abandoned=False)
    [row] = queue.recent_calls(limit=5)
    assert row["outcome"] == "answered" and row["agent"] == "somchai"
    assert row["talk_seconds"] == 21.5 and row["wrapup_seconds"] == 30
    assert row["ticket_reference"] == first["ticket_reference"] and row["priority"] == "urgent"
    with services.sessions() as session:
        channels = {r.channel: r.path for r in session.scalars(select(Recording))}
        ticket = session.scalar(select(Ticket).where(Ticket.call_id == "c1"))
        assert ticket is not None and ticket.recording_id == rec["caller"]
    assert channels == {
        "caller": "recordings/c1-conversation.wav",
        "agent": "recordings/c1-conversation.wav",
    }
    [queued, _again] = _events(services, "call.queued")
    assert queued["caller_masked"] == "••••••5678" and "0812345678" not in str(queued)
    [ringing] = _events(services, "call.ringing_agent")
    assert (
        ringing["agent"] == "somchai" and ringing["ticket_reference"] == first["ticket_reference"]
    )
    [ended] = _events(services, "call.ended")
    assert ended["outcome"] == "answered" and ended["talk_seconds"] == 21.5
    assert _events(services, "call.bridged")[0]["agent"] == "somchai"


def test_hanging_up_in_the_queue_is_abandoned(services: Services) -> None:
    services.calls.start_call("c2", caller_number="0812345678")
    services.call_queue.queued("c2", priority="normal", reference=None)
    services.calls.end_call("c2", "bye", abandoned=True)
    [row] = services.call_queue.recent_calls()
    assert row["outcome"] == "abandoned_in_queue" and row["wait_seconds"] is not None
    services.calls.start_call("c3")
    services.calls.end_call("c3", "completed", abandoned=False)
    assert services.call_queue.recent_calls()[0]["outcome"] == "ivr_only"


def test_a_callback_request_keeps_the_callers_place(services: Services) -> None:
    services.calls.start_call("c4", caller_number="0899999999")
    queued = services.call_queue.queued("c4", priority="normal", reference=None)
    services.live_queue.join(services.live_queue.get("x") or _entry("later", queued["entered_at"]))
    with pytest.raises(InvalidInput):
        services.callbacks.request("12ab", call_id="c4", ticket_reference=None)
    view = services.callbacks.request(
        "089-999-9999",
        call_id="c4",
        ticket_reference=queued["ticket_reference"],
        queue_position_at=queued["entered_at"],
    )
    assert view["number"] == "0899999999" and view["state"] == "pending"
    entries = services.live_queue.snapshot().entries
    assert [e.entry_id for e in entries] == [entry_id(view["id"]), "later"]
    assert entries[0].kind == "callback" and entries[0].caller_masked == "••••••9999"
    [event] = _events(services, "callback.requested")
    assert event["caller_masked"] == "••••••9999" and "0899999999" not in str(event)
    with services.sessions() as session:
        audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "callback_requested"))
        assert audit is not None and audit.ticket_id is not None
    services.callbacks.start_attempt(view["id"], "somchai")
    after = services.callbacks.finish_attempt(view["id"], "busy", reached=False)
    assert after["state"] == "pending" and after["attempts"] == 1
    assert services.live_queue.get(entry_id(view["id"])) is None
    assert services.callbacks.requeue_due() == 0  # not before the retry time
    services.callbacks.retry = services.callbacks.retry * 0
    assert services.callbacks.requeue_due() == 1
    for _ in range(2):
        services.callbacks.start_attempt(view["id"], "somchai")
        last = services.callbacks.finish_attempt(view["id"], "no_answer", reached=False)
    assert last["state"] == "failed" and last["attempts"] == 3
    with services.sessions() as session:
        assert session.scalar(select(CallbackRequest.last_outcome)) == "no_answer"


def _entry(call_id: str, after: Any) -> Any:
    from datetime import timedelta

    from ticketing.live_queue import QueueEntry

    return QueueEntry(call_id, "normal", after + timedelta(seconds=5), node="n1")


def test_a_partial_names_the_agent_on_the_call(services: Services) -> None:
    """``asr.partial`` carries the call-taker on the call: the one console that gets it unmasked
    (agent_ui.console.live); a partial of a call no one took names no one."""
    services.calls.start_call("cp", caller_number="0812345678", node="n1")
    draft = services.call_queue.queued("cp", priority="normal", reference=None)
    with services.sessions() as session:
        ticket_id = session.scalar(
            select(Ticket.id).where(Ticket.reference == draft["ticket_reference"])
        )
    assert ticket_id is not None

    def said(text: str) -> None:
        services.tickets.apply_transcript(
            ticket_id, transcript=text, words=None, extracted={}, confidence={},
            asr_status="streaming", channel="caller",
        )  # fmt: skip

    said("สวัสดีค่ะ")
    services.call_queue.bridged("cp", "somchai")
    said("สวัสดีค่ะ เบอร์ ศูนย์ แปด")
    assert [(e["text"], e["agent"]) for e in _events(services, "asr.partial")] == [
        ("สวัสดีค่ะ", None),
        ("สวัสดีค่ะ เบอร์ ศูนย์ แปด", "somchai"),
    ]
