"""Live updates: one Redis Streams reader per web process, fanned out to SSE clients.

The reader follows the events stream with XREAD from ``$`` (every process sees every event; no
consumer group to clean up) and puts each event on the asyncio queue of every connected client.
It runs only while clients are connected, so an idle process holds no Redis connection. Clients
load the current state over HTTP when they connect, so nothing before ``$`` is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aioredis

from ticketing.actors import Actor
from ticketing.events import EVENTS_STREAM, Event
from ticketing.masking import mask_mapping

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 500  # a client this far behind is told to reload instead
HEARTBEAT_SECONDS = 15.0
BLOCK_MS = 1000


def async_client_like(client: redis.Redis) -> aioredis.Redis:
    """An asyncio client to the same server and database as the services' blocking client."""
    kwargs = dict(client.connection_pool.connection_kwargs)
    kwargs.pop("retry", None)
    cls = client.connection_pool.connection_class
    if issubclass(cls, redis.UnixDomainSocketConnection):
        kwargs["connection_class"] = aioredis.UnixDomainSocketConnection
    pool = aioredis.ConnectionPool(**kwargs)
    return aioredis.Redis(connection_pool=pool)


@dataclass(eq=False)  # identity: each connection is its own subscriber
class Subscriber:
    actor: Actor
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE)
    )
    overflowed: bool = False


class LiveHub:
    def __init__(self, sync_client: redis.Redis, stream: str = EVENTS_STREAM) -> None:
        self._sync_client = sync_client
        self._stream = stream
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: aioredis.Redis | None = None
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
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _read_loop(self) -> None:
        client = async_client_like(self._sync_client)
        last_id = "$"
        try:
            while self._subscribers:
                try:
                    reply: Any = await client.xread(
                        {self._stream: last_id}, count=200, block=BLOCK_MS
                    )
                except (redis.RedisError, OSError) as exc:
                    if self.redis_ok:
                        log.warning("live updates paused, event stream unavailable: %s", exc)
                    self.redis_ok = False
                    await asyncio.sleep(1.0)
                    continue
                if not self.redis_ok:
                    log.info("live updates resumed")
                    self.redis_ok = True
                for _stream, entries in reply or []:
                    for stream_id, fields in entries:
                        last_id = _text(stream_id)
                        self._fan_out(Event.from_fields(last_id, _fields(fields)))
        finally:
            await client.aclose(close_connection_pool=True)

    def _fan_out(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            if not visible_to(event, subscriber.actor):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.overflowed = True


def visible_to(event: Event, actor: Actor) -> bool:
    """Agents limited to provinces hear only about tickets they may open."""
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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _fields(fields: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in fields.items()}
