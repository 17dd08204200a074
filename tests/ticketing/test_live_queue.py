"""The live queue on a real redis-server: order, the atomic claim, liveness, the hold time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from ticketing.embedded_redis import EmbeddedRedis
from ticketing.errors import BusUnavailable, InvalidInput
from ticketing.live_queue import (
    ALIVE_KEY,
    HOLDTIME_KEY,
    OFFERS_KEY,
    ORDER_KEY,
    Claim,
    LiveQueue,
    QueueEntry,
    entry_key,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(redis_url: str, clock: Clock) -> LiveQueue:
    return LiveQueue(redis.Redis.from_url(redis_url), alive_seconds=20, clock=clock)


def caller(call_id: str, seconds: int, priority: str = "normal", **kw: object) -> QueueEntry:
    return QueueEntry(
        call_id=call_id,
        priority=priority,
        entered_at=T0 + timedelta(seconds=seconds),
        caller_masked="••••••5678",
        node="node-a",
        **kw,  # type: ignore[arg-type]
    )


def test_keys_share_one_cluster_slot() -> None:
    from redis.crc import key_slot

    slots = {key_slot(k.encode()) for k in (ORDER_KEY, ALIVE_KEY, OFFERS_KEY, HOLDTIME_KEY)}
    assert slots == {key_slot(entry_key("call-1").encode())}


def test_urgent_then_repeat_then_first_come(queue: LiveQueue, clock: Clock) -> None:
    queue.join(caller("n1", 0))
    queue.join(caller("r1", 5, "repeat", earlier_references=("2569000001",)))
    queue.join(caller("n2", 1))
    queue.join(caller("u1", 9, "urgent"))
    clock.now = T0 + timedelta(seconds=10)
    snap = queue.snapshot()
    assert [e.call_id for e in snap.entries] == ["u1", "r1", "n1", "n2"]
    assert snap.oldest_wait_seconds == 10.0 and snap.callers_waiting == 4
    assert snap.entries[1].earlier_references == ("2569000001",)
    assert queue.position("n2") == 4 and queue.position("nope") is None
    queue.set_priority("n2", "urgent")
    assert [e.call_id for e in queue.snapshot().entries] == ["n2", "u1", "r1", "n1"]
    with pytest.raises(InvalidInput):
        queue.join(caller("x", 0, "vip"))


def test_a_callback_keeps_its_place_and_the_head_goes_first(queue: LiveQueue) -> None:
    queue.join(caller("early", 0))
    queue.join(caller("late", 30))
    queue.leave("early")
    queue.join(
        QueueEntry("early", "normal", T0, kind="callback", entry_id="callback:7")
    )  # the caller's own time
    queue.join(caller("back", 60, at_head=True))
    entries = queue.snapshot().entries
    assert [e.entry_id for e in entries] == ["back", "callback:7", "late"]
    assert entries[1].kind == "callback" and entries[1].node == ""
    assert queue.snapshot().callbacks_waiting == 1


def test_only_the_first_unoffered_entry_can_be_claimed(queue: LiveQueue, clock: Clock) -> None:
    queue.join(caller("a", 0))
    queue.join(caller("b", 1))
    assert not queue.claim_head("b", "node-b", lease_seconds=20)
    assert queue.claim_head("a", "node-a", lease_seconds=20)
    assert not queue.claim_head("a", "node-x", lease_seconds=20)  # already offered
    assert queue.get("a") is not None and queue.get("a").offered  # type: ignore[union-attr]
    assert queue.claim_head("b", "node-b", lease_seconds=20)  # the next agent for the next one
    assert not queue.release_offer("a", "node-x")  # not the holder
    assert queue.release_offer("a", "node-a")
    clock.now = T0 + timedelta(seconds=15)
    queue.keep_alive("a")
    queue.keep_alive("b")
    clock.now = T0 + timedelta(seconds=30)
    assert queue.claim_head("b", "node-c", lease_seconds=20) is False  # a waits again, first
    assert queue.claim_head("a", "node-a", lease_seconds=20)


def test_a_losing_claim_says_how_many_wait_ahead(queue: LiveQueue, clock: Clock) -> None:
    for index, name in enumerate("abcdef"):
        queue.join(caller(name, index))
    assert queue.claim("d", "n", lease_seconds=20) == Claim(False, 3)  # a, b, c ahead
    assert queue.claim("f", "n", lease_seconds=20, cap=2) == Claim(False, 2)  # counting stops
    assert queue.claim("a", "n", lease_seconds=20) == Claim(True, 0)  # the head wins
    assert queue.claim("a", "x", lease_seconds=20) == Claim(False, 1)  # already offered
    assert queue.claim("d", "n", lease_seconds=20) == Claim(False, 2)  # a offered: b, c ahead
    assert queue.claim("b", "n", lease_seconds=20).won
    assert queue.claim("c", "n", lease_seconds=20).won
    assert queue.claim("d", "n", lease_seconds=20).won  # only offered ones ahead
    assert queue.claim("nobody", "n", lease_seconds=20) == Claim(False, 10)  # not in the queue
    clock.now = T0 + timedelta(seconds=25)  # every session stopped renewing: none alive
    assert queue.claim("e", "n", lease_seconds=20) == Claim(False, 10)


def test_a_winner_learns_how_many_offers_ahead_still_choose_an_agent(
    queue: LiveQueue, clock: Clock
) -> None:
    for index, name in enumerate("abcd"):
        queue.join(caller(name, index))
    assert queue.claim("a", "n", lease_seconds=20) == Claim(True, 0)
    assert queue.claim("b", "n", lease_seconds=20) == Claim(True, 1)  # a chooses: its agent first
    queue.renew_offer("a", "n", lease_seconds=20, ringing=True)  # a's agent rings
    assert queue.claim("c", "n", lease_seconds=20) == Claim(True, 1)  # only b still chooses
    queue.renew_offer("b", "n", lease_seconds=20, ringing=True)
    queue.renew_offer("a", "n", lease_seconds=20)  # no answer: a chooses again
    assert queue.get("a").offered and queue.get("b").offered  # type: ignore[union-attr]
    assert queue.claim("d", "n", lease_seconds=20) == Claim(True, 2)  # a and c
    assert queue.position("d") == 4 and queue.head() is None  # all offered
    clock.now = T0 + timedelta(seconds=21)  # the offers ran out (ringing or not): waiting again
    for name in "abcd":
        queue.keep_alive(name)
    assert not queue.get("b").offered  # type: ignore[union-attr]
    assert queue.claim("b", "n", lease_seconds=20) == Claim(False, 1)  # a is first again


def test_position_and_head_agree_with_the_snapshot(queue: LiveQueue, clock: Clock) -> None:
    assert queue.head() is None and queue.position("a") is None
    queue.join(caller("ghost", 0))
    clock.now = T0 + timedelta(seconds=10)
    for index, name in enumerate("abc", start=10):
        queue.join(caller(name, index))
    queue.join(QueueEntry("cb", "normal", T0, kind="callback", entry_id="callback:1"))
    clock.now = T0 + timedelta(seconds=25)  # the ghost's session stopped renewing it
    for name in "abc":
        queue.keep_alive(name)

    def from_snapshot() -> tuple[dict[str, int], str | None]:
        entries = queue.snapshot().entries
        places = {e.entry_id: n for n, e in enumerate(entries, start=1)}
        return places, next((e.entry_id for e in entries if not e.offered), None)

    for step in ("start", "claim callback", "claim a", "release callback"):
        if step == "claim callback":
            assert queue.claim_head("callback:1", "w", lease_seconds=20)
        elif step == "claim a":
            assert queue.claim_head("a", "n", lease_seconds=20)
        elif step == "release callback":
            assert queue.release_offer("callback:1", "w")
        places, head = from_snapshot()
        for name in ("ghost", "a", "b", "c", "callback:1"):
            assert queue.position(name) == places.get(name), (step, name)
        found = queue.head()
        assert (found.entry_id if found else None) == head, step
        assert found is None or not found.offered
    assert queue.position("ghost") is None and queue.position("callback:1") == 1
    assert queue.head() is not None and queue.head().entry_id == "callback:1"  # type: ignore[union-attr]


def test_an_expired_offer_can_be_claimed_again(queue: LiveQueue, clock: Clock) -> None:
    queue.join(caller("a", 0))
    assert queue.claim_head("a", "node-a", lease_seconds=5)
    clock.now = T0 + timedelta(seconds=6)
    queue.keep_alive("a")
    assert queue.claim_head("a", "node-b", lease_seconds=5)


def test_entries_of_a_dead_node_drop_out_and_are_swept(queue: LiveQueue, clock: Clock) -> None:
    queue.join(caller("ghost", 0))
    queue.join(QueueEntry("cb", "normal", T0, kind="callback", entry_id="callback:1"))
    clock.now = T0 + timedelta(seconds=10)
    queue.join(caller("live", 10))
    clock.now = T0 + timedelta(seconds=25)
    assert [e.entry_id for e in queue.snapshot().entries] == ["callback:1", "live"]
    assert queue.claim_head("callback:1", "node-b", lease_seconds=5)  # the ghost is skipped
    assert queue.sweep() == ["ghost"]
    assert queue.get("ghost") is None and queue.get("callback:1") is not None


def test_hold_time_is_unknown_then_an_average(queue: LiveQueue) -> None:
    assert queue.holdtime() is None and queue.snapshot().holdtime_seconds is None

    def ewma(old: float | None, new: float) -> float:
        return new if old is None else 0.75 * old + 0.25 * new

    assert queue.record_answered_wait(40, ewma) == 40
    assert queue.record_answered_wait(80, ewma) == 50
    assert queue.snapshot().holdtime_seconds == 50


def test_redis_down_is_bus_unavailable(redis_server: EmbeddedRedis, clock: Clock) -> None:
    queue = LiveQueue(redis.Redis(port=1, socket_connect_timeout=0.2), clock=clock)
    with pytest.raises(BusUnavailable):
        queue.snapshot()
    with pytest.raises(BusUnavailable):
        queue.join(caller("a", 0))
