"""How ``build_services`` wires the Redis client."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import Settings
from ticketing.container import build_services
from ticketing.errors import BusUnavailable
from ticketing.events import Event


@pytest.fixture
def hung_redis(tmp_path: Path) -> Iterator[str]:
    """A socket that takes connections and never answers: a Redis that hangs."""
    path = tmp_path / "hung.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)
    try:
        yield f"unix://{path}"
    finally:
        listener.close()


def test_redis_timeout_bounds_each_call(settings: Settings, hung_redis: str) -> None:
    """The IVR's short timeout applies: a hung Redis costs its caller about that, not 5 s."""
    services = build_services(settings, redis_url=hung_redis, start_relay=False, redis_timeout=0.3)
    try:
        assert services.redis.connection_pool.connection_kwargs["socket_timeout"] == 0.3
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            services.redis.ping()
        assert time.monotonic() - started < 2.5  # retries included; 5 s would fail this
        # Through the bus the same hang is the project's own error.
        with pytest.raises(BusUnavailable):
            services.bus.publish(Event(type="ticket.created", data={}))
    finally:
        services.close()


def test_redis_timeout_defaults_to_five_seconds(settings: Settings) -> None:
    services = build_services(settings, start_relay=False)
    try:
        assert services.redis.connection_pool.connection_kwargs["socket_timeout"] == 5.0
    finally:
        services.close()
