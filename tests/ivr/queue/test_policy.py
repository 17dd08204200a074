"""Queue policy and service-level figures: table tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.queue.policy import (
    AgentCandidate,
    Handle,
    PhoneStatus,
    Priority,
    QueueEntry,
    abandonment_rate,
    average_handle_time,
    average_speed_of_answer,
    choose_agent,
    estimated_wait,
    next_entry,
    position,
    queue_order,
    ring_timed_out,
    service_level,
    service_level_2,
    update_holdtime,
)
from ivr.queue.presence import AgentState

S = AgentState
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(call_id: str, entered: float, **flags: bool) -> QueueEntry:
    return QueueEntry(call_id, at(entered), **flags)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], []),
        ([entry("b", 2), entry("a", 1)], ["a", "b"]),  # FIFO
        ([entry("a", 1), entry("u", 9, urgent=True)], ["u", "a"]),
        ([entry("a", 1), entry("r", 5, repeat_caller=True)], ["r", "a"]),
        (
            [entry("r", 1, repeat_caller=True), entry("u", 9, urgent=True), entry("n", 0)],
            ["u", "r", "n"],
        ),
        (
            [entry("u", 1, urgent=True, repeat_caller=True), entry("u2", 0, urgent=True)],
            ["u2", "u"],
        ),
        # a callback request keeps its place: offered when the caller would have been
        (
            [entry("stayed", 5), entry("cb", 1, callback=True), entry("late", 9)],
            ["cb", "stayed", "late"],
        ),
        ([entry("b", 1), entry("a", 1)], ["a", "b"]),  # same instant: a stable order
    ],
)
def test_queue_order(entries: list[QueueEntry], expected: list[str]) -> None:
    assert [e.call_id for e in queue_order(entries)] == expected
    assert (next_entry(entries) or QueueEntry("", T0)).call_id == (expected or [""])[0]


def test_priority_and_position() -> None:
    entries = [entry("a", 1), entry("b", 2), entry("u", 3, urgent=True)]
    assert entry("u", 0, urgent=True, repeat_caller=True).priority is Priority.URGENT
    assert [position(entries, c) for c in ("u", "a", "b", "x")] == [1, 2, 3, None]


def cand(
    name: str,
    state: AgentState = S.AVAILABLE,
    ended: float | None = None,
    since: float | None = 0,
    phone: PhoneStatus = PhoneStatus.REACHABLE,
) -> AgentCandidate:
    return AgentCandidate(
        name,
        state,
        None if since is None else at(since),
        None if ended is None else at(ended),
        phone,
    )


@pytest.mark.parametrize(
    ("candidates", "tried", "expected"),
    [
        ([], (), None),
        ([cand("a", ended=50), cand("b", ended=10)], (), "b"),  # longest idle
        ([cand("a", ended=50), cand("b")], (), "b"),  # never called: first
        ([cand("a", since=20), cand("b", since=5)], (), "b"),
        ([cand("a"), cand("b")], (), "a"),  # tie: by name, stable
        ([cand("a", S.BREAK, ended=1), cand("b", ended=90)], (), "b"),
        ([cand("a", S.WRAP_UP), cand("b", S.RINGING), cand("c", S.ON_CALL)], (), None),
        ([cand("a", S.OFFLINE)], (), None),
        ([cand("a", ended=1, phone=PhoneStatus.BUSY), cand("b", ended=9)], (), "b"),
        ([cand("a", ended=1, phone=PhoneStatus.UNREACHABLE), cand("b", ended=9)], (), "b"),
        ([cand("a", ended=1), cand("b", ended=9)], ("a",), "b"),  # no answer: the next one
        ([cand("a", ended=1)], ("a",), None),
    ],
)
def test_choose_agent(
    candidates: list[AgentCandidate], tried: tuple[str, ...], expected: str | None
) -> None:
    chosen = choose_agent(candidates, tried)
    assert (chosen.username if chosen else None) == expected


@pytest.mark.parametrize(
    ("leave", "expected"), [(0, "a"), (1, "c"), (2, "b"), (3, None), (5, None)]
)
def test_choose_agent_leaves_the_longest_idle_to_the_callers_ahead(
    leave: int, expected: str | None
) -> None:
    listed = [cand("b", ended=50), cand("a", ended=10), cand("c", ended=20), cand("d", S.BREAK)]
    chosen = choose_agent(listed, ("x",), leave=leave)
    assert (chosen.username if chosen else None) == expected
    assert choose_agent(listed, ("a",), leave=1).username == "b"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("rang", "now", "limit", "expected"),
    [(0, 14.9, 15, False), (0, 15, 15, True), (0, 30, 15, True), (0, 4, 5, False)],
)
def test_ring_timed_out(rang: float, now: float, limit: int, expected: bool) -> None:
    assert ring_timed_out(at(rang), at(now), limit) is expected


def test_ring_timeout_default_is_15_seconds() -> None:
    assert not ring_timed_out(at(0), at(14))
    assert ring_timed_out(at(0), at(15))


@pytest.mark.parametrize(
    ("previous", "wait", "expected"),
    [(None, 40, 40.0), (40, 40, 40.0), (40, 0, 30.0), (40, 80, 50.0), (None, 0, 0.0)],
)
def test_holdtime_is_an_exponential_average(
    previous: float | None, wait: float, expected: float
) -> None:
    assert update_holdtime(previous, wait) == pytest.approx(expected)


def test_holdtime_refuses_a_negative_wait() -> None:
    with pytest.raises(ValueError, match="negative"):
        update_holdtime(10, -1)


@pytest.mark.parametrize(
    ("holdtime", "waited", "expected"),
    [(None, 0, None), (None, 100, None), (60, 0, 60.0), (60, 45, 15.0), (60, 90, 0.0)],
)
def test_estimated_wait(holdtime: float | None, waited: float, expected: float | None) -> None:
    assert estimated_wait(holdtime, waited) == expected


ANSWERED = [5, 20, 21, 60]
ABANDONED = [3, 30]


@pytest.mark.parametrize(
    ("answered", "threshold", "expected"),
    [([], 20, None), (ANSWERED, 20, 0.5), (ANSWERED, 60, 1.0), (ANSWERED, 4, 0.0), ([20], 20, 1.0)],
)
def test_service_level(answered: list[float], threshold: float, expected: float | None) -> None:
    assert service_level(answered, threshold) == expected


@pytest.mark.parametrize(
    ("answered", "abandoned", "threshold", "expected"),
    [
        ([], [], 20, None),
        (ANSWERED, ABANDONED, 20, 0.5),  # (2 + 1) / (4 + 2)
        ([], [3, 30], 20, 0.5),
        (ANSWERED, [], 20, 0.5),
        ([5], [30], 60, 1.0),
    ],
)
def test_service_level_2(
    answered: list[float], abandoned: list[float], threshold: float, expected: float | None
) -> None:
    assert service_level_2(answered, abandoned, threshold) == expected


@pytest.mark.parametrize(
    ("abandoned", "entered", "expected"), [(0, 0, None), (0, 10, 0.0), (3, 12, 0.25), (5, 5, 1.0)]
)
def test_abandonment_rate(abandoned: int, entered: int, expected: float | None) -> None:
    assert abandonment_rate(abandoned, entered) == expected


def test_abandonment_cannot_exceed_the_queue() -> None:
    with pytest.raises(ValueError, match="more calls abandoned"):
        abandonment_rate(3, 2)


@pytest.mark.parametrize(("answered", "expected"), [([], None), (ANSWERED, 26.5), ([0], 0.0)])
def test_asa(answered: list[float], expected: float | None) -> None:
    assert average_speed_of_answer(answered) == expected


@pytest.mark.parametrize(
    ("handles", "expected"),
    [
        ([], None),
        ([Handle(100)], 100.0),
        ([Handle(100, 20, 30), Handle(200, 0, 50)], 200.0),  # (150 + 250) / 2
    ],
)
def test_aht_is_talk_plus_hold_plus_wrap_up(handles: list[Handle], expected: float | None) -> None:
    assert average_handle_time(handles) == expected


def test_candidates_from_the_store_and_the_registrar() -> None:
    from ivr.queue.policy import candidates
    from ivr.queue.presence import Presence

    presences = [
        Presence("a", S.AVAILABLE, at(0), last_call_ended_at=at(5)),
        Presence("b", S.AVAILABLE, at(0)),
    ]
    listed = candidates(presences, {"a": PhoneStatus.REACHABLE})
    assert [(c.username, c.phone) for c in listed] == [
        ("a", PhoneStatus.REACHABLE),
        ("b", PhoneStatus.UNREACHABLE),  # no registration known: not rung
    ]
    assert listed[0].last_call_ended_at == at(5)
    chosen = choose_agent(listed)
    assert chosen is not None and chosen.username == "a"
