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


def _sent(event: Event, actor: Actor) -> str:
    return str(json.loads(sse_message(event, actor).split("data: ", 1)[1])["data"]["text"])


def test_partials_hide_every_run_of_four_digits_but_for_the_agent_on_the_call() -> None:
    """A number being said is masked whole as soon as it has 4 digits (a partial grows word by
    word: keeping the last digits would give it away over a few partials); short numbers stay."""
    text = "เบอร์ ศูนย์ แปด หนึ่ง สอง บ้านเลขที่ 12 บัตร 1234 ๕๖๗๘"
    said = Event(
        "asr.partial", {"reference": "1", "channel": "caller", "text": text, "agent": "somchai"}
    )
    boss = _sent(said, Actor("boss", "supervisor", 3))
    assert boss == "เบอร์ •••• บ้านเลขที่ 12 บัตร ••••••••"  # spaced digits: one run
    assert _sent(said, Actor("somchai", "agent", 1)) == text  # on the call: the full text
    assert _sent(said, Actor("malee", "agent", 2)) == boss  # another agent's call: masked
    ivr_only = Event(
        "asr.partial", {"reference": "2", "channel": "mono", "text": text, "agent": None}
    )
    assert _sent(ivr_only, Actor("malee", "agent", 2)) == text  # no one on the call: by role
    assert _sent(ivr_only, Actor("root", "admin", 4)) == boss
    assert _sent(ivr_only, Actor("root", "admin", 4).for_reveal()) == text
    other = Event("ticket.updated", {"reference": "3", "description": "บ้าน 1234"})
    assert "1234" in sse_message(other, Actor("boss", "supervisor", 3))  # other events: as before


def test_a_scoped_watcher_hears_of_their_agents_only_and_fails_closed() -> None:
    scopes = {"cm": ("50",), "bkk": ("10",), "pool": ()}
    cm_boss = Actor("cm_boss", "supervisor", 5, provinces=("50",))
    boss = Actor("boss", "supervisor", 3)
    for name, heard in (("cm", True), ("pool", True), ("bkk", False), ("ghost", False)):
        state = Event("agent.state", {"username": name, "state": "available"})
        assert visible_to(state, cm_boss, scopes) is heard, name
        assert visible_to(state, boss, scopes)
    bridged = Event("call.bridged", {"call_id": "c1", "agent": "bkk"})
    assert not visible_to(bridged, cm_boss, scopes) and visible_to(bridged, boss, scopes)
    queued = Event("call.queued", {"call_id": "c2", "caller_masked": "••••5678"})
    assert visible_to(queued, cm_boss, scopes)  # the national queue: centre-wide
    state = Event("agent.state", {"username": "cm", "state": "available"})
    assert not visible_to(state, cm_boss, None)  # scopes unknown: no agent rather than all
