"""Event bus on Redis Streams, fed by a transactional outbox.

Services write an ``OutboxEvent`` in the same transaction as the change. ``OutboxRelay`` publishes
unpublished rows to the stream and marks them; if Redis is down the rows wait, and the relay
delivers them when it is back — the database write never depends on Redis. Delivery is
at-least-once: consumers can drop repeats by ``Event.outbox_id``.

Two ways to read. Workers of one kind share a consumer group (``read_group``/``ack``: each event
to one of them). A web process follows the stream with plain XREAD from ``$`` (``EventFollower``):
every process sees every event from the moment it starts following, and leaves no group behind in
Redis. Redis errors leave this module as ``BusUnavailable``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ticketing.errors import BusUnavailable
from ticketing.models import OutboxEvent
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

EVENTS_STREAM = "hotline:events"
STREAM_MAXLEN = 200_000

EVENT_TYPES = (
    "call.started",
    "call.answered",
    "call.menu",
    "call.queued",
    "call.ringing_agent",
    "call.bridged",
    "call.transferred",
    "call.ended",
    "callback.requested",
    "ticket.created",
    "ticket.updated",
    "ticket.transitioned",
    "ticket.routed",
    "ticket.claimed",
    "ticket.returned",
    "ticket.sla_warning",
    "ticket.sla_breached",
    "asr.queued",
    "asr.done",
    "asr.failed",
    "asr.partial",
    "agent.state",
    "citizen.call_attempt",
    "survey.rated",
    "callback.requested",
)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    outbox_id: int | None = None
    stream_id: str | None = None

    @classmethod
    def from_fields(cls, stream_id: str, fields: dict[str, str]) -> Event:
        outbox_id = fields.get("outbox_id")
        return cls(
            type=fields["type"],
            data=json.loads(fields.get("data") or "{}"),
            outbox_id=int(outbox_id) if outbox_id else None,
            stream_id=stream_id,
        )


def record_event(session: Session, event_type: str, data: dict[str, Any]) -> None:
    """Add an event to the outbox inside the caller's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    session.add(OutboxEvent(event_type=event_type, payload=data))


@contextmanager
def bus_errors() -> Iterator[None]:
    """Translate the Redis client's errors (and a dropped socket) into ``BusUnavailable``."""
    try:
        yield
    except (redis.RedisError, OSError) as exc:
        raise BusUnavailable(f"event bus unavailable: {exc}") from exc


class EventBus:
    """Publishing and group reads on the events stream (blocking client, for threads)."""

    def __init__(self, client: redis.Redis, stream: str = EVENTS_STREAM) -> None:
        self._redis = client
        self.stream = stream

    def publish(self, event: Event) -> str:
        fields: dict[Any, Any] = {
            "type": event.type,
            "data": json.dumps(event.data, ensure_ascii=False),
        }
        if event.outbox_id is not None:
            fields["outbox_id"] = str(event.outbox_id)
        with bus_errors():
            stream_id = self._redis.xadd(
                self.stream, fields, maxlen=STREAM_MAXLEN, approximate=True
            )
        return stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)

    def ensure_group(self, group: str, start: str = "$") -> None:
        with bus_errors():
            try:
                self._redis.xgroup_create(self.stream, group, id=start, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read_group(
        self, group: str, consumer: str, *, count: int = 100, block_ms: int = 1000
    ) -> list[Event]:
        with bus_errors():
            reply: Any = self._redis.xreadgroup(
                group, consumer, {self.stream: ">"}, count, block_ms
            )
        return _events(reply)

    def ack(self, group: str, *events: Event) -> None:
        ids = [e.stream_id for e in events if e.stream_id]
        if ids:
            with bus_errors():
                self._redis.xack(self.stream, group, *ids)

    def ping(self) -> None:
        """One round trip to Redis; ``BusUnavailable`` when it does not answer."""
        with bus_errors():
            self._redis.ping()

    def script(self, source: str) -> BusScript:
        """A Lua script on the bus's Redis (e.g. the scheduler's lease); errors as
        ``BusUnavailable``. Its keys must share one hash tag (Redis Cluster)."""
        return BusScript(self._redis.register_script(source))

    def follower(self, *, count: int = 200, block_ms: int = 1000) -> EventFollower:
        """An asyncio reader of every event from now on (plain XREAD, no consumer group)."""
        return EventFollower(_async_client_like(self._redis), self.stream, count, block_ms)


class BusScript:
    """A registered Lua script: ``run(keys, args)`` (EVALSHA, loaded again after a restart)."""

    def __init__(self, script: Any) -> None:
        self._script = script

    def run(self, keys: list[str], args: list[Any]) -> Any:
        with bus_errors():
            return self._script(keys=keys, args=args)


class EventFollower:
    """Follows the stream from ``$`` on its own asyncio connection (one per web process's hub).

    The first ``read`` pins "now" (the newest id in the stream); each ``read`` blocks up to
    ``block_ms`` and returns the events after the last one it returned. On a Redis error it raises
    ``BusUnavailable`` and the next ``read`` carries on from the same place.
    """

    def __init__(self, client: aioredis.Redis, stream: str, count: int, block_ms: int) -> None:
        self._client = client
        self._stream = stream
        self._count = count
        self._block_ms = block_ms
        self._last_id = "$"

    async def read(self) -> list[Event]:
        try:
            if self._last_id == "$":
                # Pin "now" to a real id, so events written while Redis was away are not skipped.
                newest: Any = await self._client.xrevrange(self._stream, count=1)
                self._last_id = _text(newest[0][0]) if newest else "0-0"
            reply: Any = await self._client.xread(
                {self._stream: self._last_id}, count=self._count, block=self._block_ms
            )
        except (redis.RedisError, OSError) as exc:
            raise BusUnavailable(f"event stream unavailable: {exc}") from exc
        events = _events(reply)
        if events and events[-1].stream_id:
            self._last_id = events[-1].stream_id
        return events

    async def aclose(self) -> None:
        await self._client.aclose(close_connection_pool=True)


def _async_client_like(client: redis.Redis) -> aioredis.Redis:
    """An asyncio client to the same server and database as the services' blocking client."""
    kwargs = dict(client.connection_pool.connection_kwargs)
    kwargs.pop("retry", None)
    cls = client.connection_pool.connection_class
    if issubclass(cls, redis.UnixDomainSocketConnection):
        kwargs["connection_class"] = aioredis.UnixDomainSocketConnection
    pool = aioredis.ConnectionPool(**kwargs)
    return aioredis.Redis(connection_pool=pool)


class OutboxRelay:
    """Drains the outbox to the event stream; one per process that writes, safe to run many."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bus: EventBus,
        *,
        batch: int = 500,
        interval: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._batch = batch
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.redis_ok = True

    def drain_once(self) -> int:
        """Publish what is waiting; returns how many were published (0 when Redis is down)."""
        published = 0
        while True:
            with self._sessions.begin() as session:
                query = (
                    select(OutboxEvent)
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.id)
                    .limit(self._batch)
                )
                if session.get_bind().dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows = list(session.scalars(query))
                if not rows:
                    return published
                done: list[int] = []
                try:
                    for row in rows:
                        self._bus.publish(
                            Event(type=row.event_type, data=row.payload, outbox_id=row.id)
                        )
                        done.append(row.id)
                except BusUnavailable as exc:
                    if self.redis_ok:
                        log.warning("event bus unavailable, events wait in the outbox: %s", exc)
                    self.redis_ok = False
                finally:
                    if done:
                        session.execute(
                            update(OutboxEvent)
                            .where(OutboxEvent.id.in_(done))
                            .values(published_at=utcnow())
                        )
                published += len(done)
                if len(done) < len(rows):
                    return published
                if not self.redis_ok:
                    log.info("event bus is back; outbox drained")
                self.redis_ok = True

    def drain_once_quietly(self) -> None:
        """A last drain at shut-down; whatever is left waits in the outbox for the next run."""
        try:
            self.drain_once()
        except Exception as exc:
            log.warning("outbox not drained at shut-down: %s", exc)

    def kick(self) -> None:
        """Ask the background relay to drain now (called after each commit)."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._stop.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain_once()
            except Exception:  # a crashed relay would silently stop all events
                log.exception("outbox relay failed; retrying")
            self._wake.wait(self._interval)
            self._wake.clear()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode_fields(fields: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in fields.items()}


def _events(reply: Any) -> list[Event]:
    return [
        Event.from_fields(_text(stream_id), _decode_fields(fields))
        for _stream, entries in (reply or [])
        for stream_id, fields in entries
    ]


Kick = Callable[[], None]
