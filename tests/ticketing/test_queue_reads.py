"""The wallboard's read model (issue 13): SL, SL2, abandonment, ASA, AHT, occupancy per the
definitions shown on the tiles; on SQLite (and PostgreSQL when set) with the real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.live_queue import QueueEntry
from ticketing.models import Call
from ticketing.queue_metrics import queue_metrics_text
from ticketing.queue_reads import QueuedCall, occupancy, state_time, today_figures

T = 20.0


def _call(answered: bool, wait: float, outcome: str | None = None, handle: float | None = None):  # type: ignore[no-untyped-def]
    return QueuedCall("somchai" if answered else None, answered, outcome, wait, handle)


def test_the_definitions() -> None:
    calls = [
        _call(True, 5, "answered", 100),
        _call(True, 30, "answered", 200),
        _call(True, 10, "transferred", None),  # still talking elsewhere: no handle time yet
        _call(False, 8, "abandoned_in_queue"),
        _call(False, 40, "abandoned_in_queue"),
        _call(False, 50, "callback_requested"),
    ]
    f = today_figures(calls, T)
    assert (f["entered"], f["answered"], f["abandoned"], f["callbacks_requested"]) == (6, 3, 2, 1)
    assert f["service_level"] == round(2 / 3, 4)  # answered within T / answered
    assert f["service_level_2"] == round((2 + 1) / (3 + 2), 4)
    assert f["abandonment_rate"] == round(2 / 6, 4)  # abandoned in queue / entered
    assert f["asa_seconds"] == 15.0  # (5 + 30 + 10) / 3
    assert f["aht_seconds"] == 150.0  # ended conversations only
    empty = today_figures([], T)
    assert empty["service_level"] is None and empty["asa_seconds"] is None


def test_time_in_states_and_occupancy() -> None:
    start = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # midnight Bangkok
    at = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731
    rows = [
        ("somchai", "available", "offline", at(-30)),  # before the day: clipped to its start
        ("somchai", "ringing", "available", at(10)),
        ("somchai", "on_call", "ringing", at(11)),
        ("somchai", "wrap_up", "on_call", at(20)),
        ("somchai", "break", "wrap_up", at(21)),
    ]
    spent = state_time(rows, start, at(31))["somchai"]
    assert spent == {"offline": 0.0, "available": 600.0, "ringing": 60.0, "on_call": 540.0,
                     "wrap_up": 60.0, "break": 600.0}  # fmt: skip
    assert occupancy(spent) == round(600 / (600 + 660), 4)
    assert occupancy({"break": 5.0}) is None


def test_wallboard_from_real_calls_and_presence(services: Services) -> None:
    calls, queue = services.calls, services.call_queue
    services.presence.request_state("somchai", "agent", _state("available"))
    for call_id in ("c1", "c2", "c3", "c4"):
        calls.start_call(call_id, caller_number="0812345678", node="n1")
        calls.answered(call_id)
        queue.queued(call_id, priority="normal", reference=None)
    services.presence.ring("somchai", "c1")
    queue.ringing("c1", "somchai", ticket_reference=None, earlier=[])
    queue.bridged("c1", "somchai")
    services.presence.answer("somchai")
    queue.conversation_ended("c1", talk_seconds=100, hold_seconds=10)
    queue.wrap_up("c1", 30)
    calls.end_call("c1", "bye", abandoned=False)
    services.presence.hang_up("somchai")
    calls.end_call("c2", "bye", abandoned=True)  # hung up in the queue
    with services.sessions.begin() as session:  # c2 waited 45 s: outside T
        session.execute(update(Call).where(Call.id == "c2").values(wait_seconds=45.0))
    services.live_queue.join(
        QueueEntry("c3", "normal", datetime.now(UTC) - timedelta(seconds=12), node="n1")
    )
    board = services.queue_reads.wallboard()
    assert board["callers_waiting"] == 1 and 11 <= board["oldest_wait_seconds"] < 60
    assert board["calls_in_ivr"] == 1  # c4: open, not waiting, not with an agent
    assert board["agents_by_state"]["wrap_up"] == 1
    today = board["today"]
    assert (today["entered"], today["answered"], today["abandoned"]) == (4, 1, 1)
    assert today["service_level"] == 1.0 and today["service_level_2"] == 0.5
    assert today["abandonment_rate"] == 0.25 and today["aht_seconds"] == 140.0
    [row] = board["agents"]
    assert row["username"] == "somchai" and row["answered"] == 1 and row["state"] == "wrap_up"
    assert row["aht_seconds"] == 140.0 and row["occupancy"] is not None

    text = queue_metrics_text(services.queue_reads)
    assert "hotline_queue_calls_waiting 1.0" in text
    assert "hotline_queue_answered_total 1.0" in text
    assert "hotline_queue_abandoned_total 1.0" in text
    assert 'hotline_queue_service_level{kind="sl2"} 0.5' in text
    assert 'hotline_queue_wait_seconds_bucket{le="+Inf"} 1' in text
    assert 'hotline_call_handle_seconds_bucket{le="120"} 0' in text
    assert 'hotline_call_handle_seconds_bucket{le="180"} 1' in text


def test_calls_and_callbacks_masked_per_role(services: Services) -> None:
    services.calls.start_call("c9", caller_number="0812345678", node="n1")
    services.call_queue.queued("c9", priority="normal", reference=None)
    services.callbacks.request("0899999999", call_id="c9", ticket_reference=None)
    agent = Actor("somchai", "agent", 1)
    boss = Actor("boss", "supervisor", 2)
    assert services.queue_reads.calls(boss)[0]["caller"] == "••••••5678"
    assert services.queue_reads.calls(agent) == []  # not a call they took
    services.call_queue.bridged("c9", "somchai")
    [mine] = services.queue_reads.calls(agent)
    assert mine["caller"] == "0812345678" and mine["agent"] == "somchai"
    [callback] = services.queue_reads.callbacks(boss)
    assert callback["number"] == "••••••9999" and callback["state"] == "pending"
    assert services.queue_reads.callbacks(agent)[0]["number"] == "0899999999"


def _state(name: str):  # type: ignore[no-untyped-def]
    from ticketing.presence import AgentState

    return AgentState(name)
