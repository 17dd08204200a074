"""Server-sent events from the event bus: a new draft reaches an open console within a second."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx2 as httpx

from agent_ui.app import create_app
from agent_ui.console.live import LiveHub, Subscriber, event_stream
from config.settings import Settings
from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.errors import BusUnavailable
from ticketing.events import Event
from ticketing.tickets import NewTicket

from .conftest import LiveServer, phone_draft, sign_in


def events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            yield kind, json.loads(line.split(":", 1)[1])
            kind = "message"


def test_live_stream_needs_a_session(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url + "/console/live", timeout=5)
    assert response.status_code == 401


def test_new_draft_arrives_within_a_second(
    live_server: LiveServer, services: Services, settings: Settings
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=5) as client:
        sign_in(client, "somchai")
        with client.stream("GET", "/console/live") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            assert next(stream)[0] == "hello"
            started = time.monotonic()
            draft = phone_draft(services, settings)
            for kind, message in stream:
                if kind == "hotline" and message.get("type") == "ticket.created":
                    break
            elapsed = time.monotonic() - started
    assert message["data"]["reference"] == draft.ticket["reference"]
    assert elapsed < 1.0


def test_agents_hear_only_their_provinces(live_server: LiveServer, services: Services) -> None:
    ivr = Actor.system("ivr")
    with httpx.Client(base_url=live_server.url, timeout=5) as client:
        sign_in(client, "chiang_mai_agent")
        with client.stream("GET", "/console/live") as response:
            stream = events(response)
            assert next(stream)[0] == "hello"
            services.tickets.create(
                NewTicket(description="กรุงเทพ", province_code="10", channel="phone"), ivr
            )
            mine = services.tickets.create(
                NewTicket(description="เชียงใหม่", province_code="50", channel="phone"), ivr
            )
            _kind, message = next(stream)
    assert message["data"]["reference"] == mine["reference"]


async def test_a_stream_of_an_ended_session_stops() -> None:
    """Logout or "sign out everywhere" also ends an open live stream (issue 9, Medium 4)."""

    class Hub:
        def unsubscribe(self, subscriber: Subscriber) -> None:
            self.gone = subscriber

    hub = Hub()
    answers = iter([True, False])

    async def still_signed_in() -> bool:
        return next(answers)

    subscriber = Subscriber(Actor(name="somchai", role="agent", user_id=1))
    frames = [
        frame
        async for frame in event_stream(
            cast(LiveHub, hub), subscriber, still_signed_in, recheck_seconds=0.05
        )
    ]
    assert frames[0].startswith("retry:")
    assert frames[-1] == "event: signed_out\ndata: {}\n\n"
    assert hub.gone is subscriber


async def test_the_hub_pauses_while_redis_is_down_and_resumes(
    services: Services, redis_server: EmbeddedRedis
) -> None:
    """The hub reads through the bus: a Redis outage is BusUnavailable, not a dead reader."""
    hub = LiveHub(services.bus)
    subscriber = hub.subscribe(Actor(name="boss", role="supervisor", user_id=1))

    async def next_event() -> Event | None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(BusUnavailable):  # Redis not back yet
                services.bus.publish(Event(type="ticket.created", data={"reference": "x"}))
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(subscriber.queue.get(), 0.5)
        return None

    try:
        first = await next_event()  # the reader is following
        assert first is not None and first.type == "ticket.created"
        redis_server.stop()
        deadline = time.monotonic() + 10
        while hub.redis_ok and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert hub.redis_ok is False
        redis_server.start()
        after = await next_event()
        assert after is not None and after.data["reference"] == "x"
        assert hub.redis_ok is True
    finally:
        if not redis_server.running():
            redis_server.start()
        await hub.stop()


async def test_the_app_lifespan_owns_the_hub_and_stops_it_at_shutdown(
    settings: Settings, services: Services
) -> None:
    """No shutdown middleware: the Starlette lifespan of ``create_app`` stops the stream reader."""
    app = create_app(settings, services)
    hub = app.state.live_hub
    assert isinstance(hub, LiveHub)
    async with app.router.lifespan_context(app):
        subscriber = hub.subscribe(Actor(name="boss", role="supervisor", user_id=1))
        assert hub.subscriber_count == 1
    assert hub.subscriber_count == 0
    assert subscriber.queue.get_nowait() is None  # an open stream is told to end
    assert hub._task is None
