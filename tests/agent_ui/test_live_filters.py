"""Who hears which live event (unit tests at the hub's filter): a ring goes to the agent rung
and to the supervisors, never to the other call-takers; masked roles get masked data."""

from __future__ import annotations

import json

from agent_ui.console.live import sse_message, visible_to
from ticketing.actors import Actor
from ticketing.events import Event

RING = Event(
    "call.ringing_agent",
    {"call_id": "c1", "agent": "somchai", "caller_masked": "••••••5678", "ticket_reference": "1"},
)


def test_a_ring_reaches_the_agent_rung_and_supervisors_only() -> None:
    assert visible_to(RING, Actor("somchai", "agent", 1))
    assert not visible_to(RING, Actor("malee", "agent", 2))
    assert visible_to(RING, Actor("boss", "supervisor", 3))
    other = Event("call.bridged", {"call_id": "c1", "agent": "somchai"})
    assert visible_to(other, Actor("malee", "agent", 2))


def test_live_transcript_text_is_masked_for_masked_roles() -> None:
    said = Event("asr.partial", {"reference": "1", "channel": "caller", "text": "เบอร์ 0812345678"})
    boss = json.loads(sse_message(said, Actor("boss", "supervisor", 3)).split("data: ", 1)[1])
    assert "0812345678" not in boss["data"]["text"]
    agent = json.loads(sse_message(said, Actor("somchai", "agent", 1)).split("data: ", 1)[1])
    assert "0812345678" in agent["data"]["text"]
