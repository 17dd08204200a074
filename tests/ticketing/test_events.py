from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
import redis

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.errors import BusUnavailable
from ticketing.events import Event, EventBus
from ticketing.tickets import NewTicket

AGENT = Actor(name="somchai", role="agent")


def _types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def test_outbox_is_drained_to_the_stream_in_order(services: Services) -> None:
    services.bus.ensure_group("test", start="0")
    ref = services.tickets.create(NewTicket(description="x", category="INFO"), AGENT)["reference"]
    services.tickets.transition(ref, "confirmed", AGENT)
    assert services.relay.drain_once() == 2
    events = services.bus.read_group("test", "c1", block_ms=100)
    assert _types(events) == ["ticket.created", "ticket.transitioned"]
    assert events[0].data["reference"] == ref
    assert events[1].data["from"] == "draft"
    assert events[1].data["to"] == "confirmed"
    assert events[0].outbox_id is not None
    assert services.relay.drain_once() == 0  # nothing published twice


def test_every_group_sees_every_event_and_consumers_share_a_group(services: Services) -> None:
    for group in ("web-1", "web-2", "workers"):
        services.bus.ensure_group(group, start="0")
    for n in range(4):
        services.tickets.create(NewTicket(description=f"t{n}"), AGENT)
    services.relay.drain_once()
    assert len(services.bus.read_group("web-1", "p", block_ms=100)) == 4
    assert len(services.bus.read_group("web-2", "p", block_ms=100)) == 4
    first = services.bus.read_group("workers", "w1", count=2, block_ms=100)
    second = services.bus.read_group("workers", "w2", count=10, block_ms=100)
    assert len(first) == 2
    assert len(second) == 2
    assert {e.outbox_id for e in first}.isdisjoint({e.outbox_id for e in second})


def test_redis_down_then_back_loses_nothing(
    services: Services, redis_server: EmbeddedRedis
) -> None:
    services.bus.ensure_group("test", start="0")
    services.tickets.create(NewTicket(description="before"), AGENT)
    assert services.relay.drain_once() == 1

    redis_server.stop()
    # The database write succeeds while the bus is down; the events wait in the outbox.
    refs = [
        services.tickets.create(NewTicket(description=f"during {n}"), AGENT)["reference"]
        for n in range(3)
    ]
    assert services.relay.drain_once() == 0
    assert services.relay.redis_ok is False
    assert all(services.tickets.get(r)["status"] == "draft" for r in refs)

    redis_server.start()  # appendonly: the stream and group come back from disk
    deadline = time.monotonic() + 5
    delivered = 0
    while delivered < 3 and time.monotonic() < deadline:
        try:
            delivered += services.relay.drain_once()
        except redis.RedisError:
            time.sleep(0.1)
    assert delivered == 3
    assert services.relay.redis_ok is True
    events = services.bus.read_group("test", "c1", block_ms=200)
    assert [e.data["reference"] for e in events][-3:] == refs


def test_background_relay_publishes_after_commit(services: Services) -> None:
    bus = EventBus(services.redis)
    bus.ensure_group("live", start="$")
    services.relay.start()
    try:
        started = time.monotonic()
        services.tickets.create(NewTicket(description="live"), AGENT)
        events: list[Event] = []
        while not events and time.monotonic() - started < 3:
            events = bus.read_group("live", "c", block_ms=200)
        assert _types(events) == ["ticket.created"]
        assert time.monotonic() - started < 1.0  # kicked at commit, not on the 0.5 s timer
    finally:
        services.relay.stop()


async def test_a_follower_sees_events_from_now_on(services: Services) -> None:
    services.bus.publish(Event(type="ticket.created", data={"reference": "before"}))
    follower = services.bus.follower(block_ms=100)
    try:
        assert await follower.read() == []  # what came before following is not replayed
        for reference in ("r1", "r2"):
            services.bus.publish(Event(type="ticket.created", data={"reference": reference}))
        seen: list[Event] = []
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            seen += await follower.read()
        assert [e.data["reference"] for e in seen] == ["r1", "r2"]
        assert all(e.stream_id for e in seen)
        services.bus.publish(Event(type="ticket.updated", data={"reference": "r3"}))
        later: list[Event] = []
        while not later and time.monotonic() < deadline:
            later = await follower.read()
        assert [e.type for e in later] == ["ticket.updated"]  # read on from the last one
    finally:
        await follower.aclose()


async def test_a_follower_reports_redis_down_as_bus_unavailable(
    services: Services, redis_server: EmbeddedRedis
) -> None:
    follower = services.bus.follower(block_ms=100)
    try:
        await follower.read()
        redis_server.stop()
        with pytest.raises(BusUnavailable):
            await follower.read()
        with pytest.raises(BusUnavailable):
            services.bus.publish(Event(type="ticket.created", data={}))
        redis_server.start()
        deadline = time.monotonic() + 5
        while True:  # the client reconnects on the next read once Redis is back
            try:
                services.bus.publish(Event(type="ticket.created", data={"reference": "back"}))
                break
            except BusUnavailable:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        seen: list[Event] = []
        while not seen and time.monotonic() < deadline:
            with contextlib.suppress(BusUnavailable):
                seen = await follower.read()
        assert [e.data.get("reference") for e in seen] == ["back"]
    finally:
        await follower.aclose()
