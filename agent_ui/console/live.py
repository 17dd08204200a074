"""Live updates: one event-bus follower per web process, fanned out to SSE clients.

The reader follows the events stream through ticketing's bus (``EventBus.follower``: plain XREAD
from ``$``, so every process sees every event and leaves no consumer group to clean up) and puts
each event on the asyncio queue of every connected client. It runs only while clients are
connected, so an idle process holds no Redis connection. Clients load the current state over HTTP
when they connect, so nothing before ``$`` is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from ticketing.actors import Actor
from ticketing.errors import BusUnavailable
from ticketing.events import Event, EventBus
from ticketing.masking import mask_mapping

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 500  # a client this far behind is told to reload instead
HEARTBEAT_SECONDS = 15.0
BLOCK_MS = 1000


@dataclass(eq=False)  # identity: each connection is its own subscriber
class Subscriber:
    actor: Actor
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE)
    )
    overflowed: bool = False


class LiveHub:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self.redis_ok = True

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self, actor: Actor) -> Subscriber:
        subscriber = Subscriber(actor)
        self._subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._read_loop())
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def stop(self) -> None:
        task, self._task = self._task, None
        for subscriber in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)
        # The loop also ends on its own once no one listens: a cancel the Redis client swallows
        # (seen after a reconnect) must not leave stop() waiting forever.
        self._subscribers.clear()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _read_loop(self) -> None:
        follower = self._bus.follower(count=200, block_ms=BLOCK_MS)
        try:
            while self._subscribers:
                try:
                    events = await follower.read()
                except BusUnavailable as exc:
                    if self.redis_ok:
                        log.warning("live updates paused: %s", exc)
                    self.redis_ok = False
                    await asyncio.sleep(1.0)
                    continue
                if not self.redis_ok:
                    log.info("live updates resumed")
                    self.redis_ok = True
                for event in events:
                    self._fan_out(event)
        finally:
            await follower.aclose()

    def _fan_out(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            if not visible_to(event, subscriber.actor):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.overflowed = True


def visible_to(event: Event, actor: Actor) -> bool:
    """Agents limited to provinces hear only about tickets they may open; a ring is told to the
    call-taker whose phone rings (and the supervisors), not to every other agent."""
    if event.type == "call.ringing_agent" and actor.role == "agent":
        return event.data.get("agent") == actor.name
    province = event.data.get("province_code")
    return actor.may_see_province(province if isinstance(province, str) else None)


def sse_message(event: Event, actor: Actor | None = None) -> str:
    """One SSE frame; a viewer who sees numbers masked gets the event's data masked too."""
    data = event.data if actor is None or actor.sees_personal_data else mask_mapping(event.data)
    payload = {"type": event.type, "data": data, "id": event.stream_id}
    return f"event: hotline\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def event_stream(
    hub: LiveHub,
    subscriber: Subscriber,
    still_signed_in: Callable[[], Awaitable[bool]] | None = None,
    recheck_seconds: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[str]:
    """The SSE body for one client: a hello, then events, with heartbeats to keep proxies open.
    The session is checked again every ``recheck_seconds``: a stream of a session that was ended
    (logout, sign out everywhere, password change) stops, it does not live on."""
    checked = time.monotonic()
    try:
        yield "retry: 2000\nevent: hello\ndata: {}\n\n"
        while True:
            if still_signed_in is not None and time.monotonic() - checked >= recheck_seconds:
                if not await still_signed_in():
                    yield "event: signed_out\ndata: {}\n\n"
                    return
                checked = time.monotonic()
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), recheck_seconds)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if event is None:
                return
            if subscriber.overflowed:
                yield "event: reload\ndata: {}\n\n"
                return
            yield sse_message(event, subscriber.actor)
    finally:
        hub.unsubscribe(subscriber)
