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
from ticketing.masking import mask_digit_runs, mask_mapping
from ticketing.queue_scope import agent_in_scope

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 500  # a client this far behind is told to reload instead
HEARTBEAT_SECONDS = 15.0
BLOCK_MS = 1000
WATCHERS = ("supervisor", "admin")
AgentScopesOf = Callable[[], dict[str, tuple[str, ...]]]


@dataclass(eq=False)  # identity: each connection is its own subscriber
class Subscriber:
    actor: Actor
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE)
    )
    overflowed: bool = False


class LiveHub:
    def __init__(self, bus: EventBus, agent_scopes: AgentScopesOf | None = None) -> None:
        self._bus = bus
        self._agent_scopes = agent_scopes
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
                scopes = await self._scopes_for(events)
                for event in events:
                    self._fan_out(event, scopes)
        finally:
            await follower.aclose()

    async def _scopes_for(self, events: list[Event]) -> dict[str, tuple[str, ...]] | None:
        """The agents' province scopes, read (cached, in a thread) only when a scoped watcher
        listens and an event names an agent."""
        if self._agent_scopes is None or not any(
            s.actor.scoped and s.actor.role in WATCHERS for s in self._subscribers
        ):
            return None
        if not any(_agent_of(e) for e in events):
            return None
        try:
            return await asyncio.to_thread(self._agent_scopes)
        except Exception as exc:
            log.warning("live updates: agents' scopes unreadable: %s", exc)
            return {}  # scoped watchers hear of no agent rather than of every agent

    def _fan_out(self, event: Event, scopes: dict[str, tuple[str, ...]] | None = None) -> None:
        for subscriber in list(self._subscribers):
            if not visible_to(event, subscriber.actor, scopes):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.overflowed = True


def _agent_of(event: Event) -> str | None:
    """The call-taker an event is about (``agent.state``: whose state; a call event: who took
    or is rung for the call)."""
    name = event.data.get("username" if event.type == "agent.state" else "agent")
    return name if isinstance(name, str) and name else None


def visible_to(
    event: Event, actor: Actor, scopes: dict[str, tuple[str, ...]] | None = None
) -> bool:
    """Agents limited to provinces hear only about tickets they may open; a ring is told to the
    call-taker whose phone rings (and the supervisors), not to every other agent. A supervisor
    or admin scoped to provinces hears about the agents in scope only (``scopes``: the agents'
    own province scopes, ``ticketing.queue_scope``)."""
    if event.type == "call.ringing_agent" and actor.role == "agent":
        return event.data.get("agent") == actor.name
    agent = _agent_of(event)
    watcher = agent is not None and actor.scoped and actor.role in WATCHERS
    if watcher and (scopes is None or not agent_in_scope(scopes.get(str(agent)), actor.provinces)):
        return False
    province = event.data.get("province_code")
    return actor.may_see_province(province if isinstance(province, str) else None)


def sse_message(event: Event, actor: Actor | None = None) -> str:
    """One SSE frame; a viewer who sees numbers masked gets the event's data masked too.

    ``asr.partial`` (the live transcript, growing word by word) goes unmasked only to the
    call-taker on the call (``agent`` in the event; a partial with none, of an IVR-only
    recording, to any role that sees numbers): everyone else gets every run of 4 or more
    digits hidden whole — Arabic digits, Thai digits and Thai number words, the spans
    ``ticketing.masking`` finds — since a number still being said cannot be told from a
    harmless one, and its last digits, kept partial after partial, would give it away."""
    data = event.data if actor is None or actor.sees_personal_data else mask_mapping(event.data)
    if event.type == "asr.partial" and actor is not None and not _on_the_call(event, actor):
        data = {**data, "text": mask_digit_runs(str(data.get("text") or ""))}
    payload = {"type": event.type, "data": data, "id": event.stream_id}
    return f"event: hotline\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _on_the_call(event: Event, actor: Actor) -> bool:
    if not actor.sees_personal_data:
        return False
    agent = event.data.get("agent")
    return actor.role != "agent" or agent is None or agent == actor.name


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
