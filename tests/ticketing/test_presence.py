"""The agent presence machine: allowed transitions, wrap-up, no-answer, reconciliation."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.agent_states import AgentStatesConfig, BreakReason, load_agent_states
from config.catalog import CatalogError
from ticketing.errors import InvalidInput
from ticketing.presence import (
    ALLOWED_TRANSITIONS,
    AgentPresence,
    AgentState,
    Presence,
    PresenceError,
)

S = AgentState
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CONFIG = AgentStatesConfig(
    wrap_up_seconds=30,
    break_reasons=(BreakReason("meal", "พัก", "Meal"), BreakReason("no_answer", "ไม่รับ", "NA")),
)


def agent(state: AgentState = S.OFFLINE, **fields: object) -> AgentPresence:
    return AgentPresence(Presence("somchai", state, T0, **fields), CONFIG)  # type: ignore[arg-type]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_every_state_has_a_row_in_the_table() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(AgentState)
    assert S.ON_CALL not in ALLOWED_TRANSITIONS[S.OFFLINE]
    assert ALLOWED_TRANSITIONS[S.ON_CALL] == {S.WRAP_UP, S.OFFLINE}


def test_a_full_call_cycle_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    a = agent()
    caplog.set_level(logging.INFO, "ticketing.presence")
    a.request(S.AVAILABLE, at(0))
    a.ring("call-1", at(10))
    assert (a.state, a.presence.call_id) == (S.RINGING, "call-1")
    a.answer(at(12))
    assert (a.state, a.presence.call_id, a.presence.since) == (S.ON_CALL, "call-1", at(12))
    a.hang_up(at(100))
    assert a.state is S.WRAP_UP
    assert a.presence.last_call_ended_at == at(100)
    assert a.presence.wrap_up_until == at(130)
    assert a.tick(at(129)).state is S.WRAP_UP
    assert a.tick(at(130)).state is S.AVAILABLE
    assert a.presence.last_call_ended_at == at(100)  # kept for longest-idle
    assert "agent somchai: on_call -> wrap_up: call call-1 ended" in caplog.text
    assert caplog.text.count("agent somchai:") == 5


def test_the_agent_ends_wrap_up_early() -> None:
    a = agent(S.WRAP_UP, call_id="c", wrap_up_until=at(30))
    assert a.request(S.AVAILABLE, at(5)).state is S.AVAILABLE
    assert a.presence.wrap_up_until is None and a.presence.call_id is None


def test_no_answer_sets_break_no_answer() -> None:
    a = agent(S.RINGING, call_id="c")
    p = a.no_answer(at(15))
    assert (p.state, p.reason, p.call_id) == (S.BREAK, "no_answer", None)


def test_break_needs_a_known_reason() -> None:
    a = agent(S.AVAILABLE)
    with pytest.raises(InvalidInput, match="break needs a reason, one of: meal, no_answer"):
        a.request(S.BREAK, at(1))
    with pytest.raises(InvalidInput, match="one of"):
        a.request(S.BREAK, at(1), "coffee")
    with pytest.raises(InvalidInput, match="a reason goes only with break"):
        a.request(S.AVAILABLE, at(1), "meal")
    assert a.request(S.BREAK, at(1), "meal").reason == "meal"
    assert a.request(S.AVAILABLE, at(2)).reason is None


@pytest.mark.parametrize(
    ("start", "wanted", "message"),
    [
        (S.AVAILABLE, S.RINGING, "only available, break, offline"),
        (S.AVAILABLE, S.ON_CALL, "only available, break, offline"),
        (S.ON_CALL, S.AVAILABLE, "is on_call; change state after the call"),
        (S.ON_CALL, S.BREAK, "is on_call"),
        (S.RINGING, S.AVAILABLE, "is ringing"),
    ],
)
def test_requests_that_are_refused(start: AgentState, wanted: AgentState, message: str) -> None:
    a = agent(start, call_id="c")
    with pytest.raises((PresenceError, InvalidInput), match=message):
        a.request(wanted, at(1), "meal" if wanted is S.BREAK else None)
    assert a.state is start


@pytest.mark.parametrize(
    ("start", "event"),
    [
        (S.OFFLINE, "ring"),
        (S.BREAK, "ring"),
        (S.WRAP_UP, "ring"),
        (S.AVAILABLE, "answer"),
        (S.AVAILABLE, "hang_up"),
        (S.OFFLINE, "no_answer"),
    ],
)
def test_call_events_from_the_wrong_state(start: AgentState, event: str) -> None:
    a = agent(start)
    with pytest.raises(PresenceError, match=f"somchai: {start} cannot become"):
        if event == "ring":
            a.ring("c", at(1))
        else:
            getattr(a, event)(at(1))
    assert a.state is start


def test_a_repeated_request_changes_nothing() -> None:
    a = agent(S.AVAILABLE)
    assert a.request(S.AVAILABLE, at(50)).since == T0


def test_signing_out_works_from_any_state() -> None:
    for state in AgentState:
        if state is not S.OFFLINE:
            assert agent(state, call_id="c").request(S.OFFLINE, at(1)).state is S.OFFLINE


@pytest.mark.parametrize(
    ("start", "registered", "in_call", "expected"),
    [
        (S.RINGING, True, False, S.AVAILABLE),  # the offer vanished (node crash)
        (S.ON_CALL, True, False, S.WRAP_UP),  # lost BYE: the agent expects wrap-up
        (S.ON_CALL, True, True, S.ON_CALL),
        (S.ON_CALL, False, True, S.ON_CALL),  # a call still up finishes first
        (S.ON_CALL, False, False, S.OFFLINE),
        (S.RINGING, False, False, S.OFFLINE),
        (S.AVAILABLE, False, False, S.OFFLINE),
        (S.BREAK, False, False, S.OFFLINE),
        (S.AVAILABLE, True, False, S.AVAILABLE),
        (S.BREAK, True, False, S.BREAK),
        (S.OFFLINE, False, False, S.OFFLINE),
    ],
)
def test_reconciliation_never_leaves_a_stuck_state(
    start: AgentState, registered: bool, in_call: bool, expected: AgentState
) -> None:
    a = agent(start, call_id="c", reason="meal" if start is S.BREAK else None)
    assert a.reconcile(at(5), registered=registered, call_in_progress=in_call).state is expected


def test_reconciliation_ends_an_overdue_wrap_up() -> None:
    a = agent(S.WRAP_UP, call_id="c", wrap_up_until=at(30))
    assert a.reconcile(at(10), registered=True, call_in_progress=False).state is S.WRAP_UP
    assert a.reconcile(at(31), registered=True, call_in_progress=False).state is S.AVAILABLE


def test_the_packaged_file_loads() -> None:
    config = load_agent_states()
    assert config.wrap_up_seconds == 30 and config.no_answer_seconds == 15
    assert {"no_answer", "meal"} <= config.reason_codes()


def test_a_deployer_file_without_no_answer_gets_it(tmp_path: Path) -> None:
    (tmp_path / "agent_states.toml").write_text(
        'wrap_up_seconds = 10\n[[break_reason]]\ncode = "prayer"\nname_th = "ละหมาด"\n',
        encoding="utf-8",
    )
    config = load_agent_states(tmp_path)
    assert config.wrap_up_seconds == 10
    assert config.reason_codes() == {"prayer", "no_answer"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wrap_up_seconds = -1\n", "wrap_up_seconds must be a whole number of seconds 0-3600"),
        ('no_answer_seconds = "15"\n', "no_answer_seconds must be a whole number"),
        ("no_answer_seconds = 0\n", "no_answer_seconds must be a whole number of seconds 1-3600"),
        ('[[break_reason]]\ncode = "Meal Time"\nname_th = "x"\n', "break_reason #1: 'code'"),
        ('[[break_reason]]\ncode = "meal"\n', "break_reason 'meal': 'name_th' is required"),
        (
            '[[break_reason]]\ncode = "a"\nname_th = "x"\n[[break_reason]]\ncode = "a"\n'
            'name_th = "y"\n',
            "break_reason #2: code 'a' listed twice",
        ),
        ("break_reason = 3\n", "break_reason must be an array of tables"),
        ("wrap_up_seconds = \n", "not valid TOML"),
    ],
)
def test_broken_files_are_named_clearly(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "agent_states.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="agent_states.toml: " + message.replace("(", r"\(")):
        load_agent_states(tmp_path)


def test_ringing_again_for_the_same_call_is_the_same_ring_not_a_conflict() -> None:
    machine = agent(S.AVAILABLE)
    machine.ring("call-1", at(1))
    machine.ring("call-1", at(2))  # a retried write whose first reply was lost
    assert machine.presence.state is S.RINGING and machine.presence.since == at(1)
    assert len(machine.changes) == 1  # nothing new to store or announce
    with pytest.raises(PresenceError):
        machine.ring("call-2", at(3))  # another call still cannot take a ringing agent
