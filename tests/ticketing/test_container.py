"""How ``build_services`` wires the Redis client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
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


def test_the_redis_pool_serves_more_threads_at_once_than_redis_py_default(
    settings: Settings,
) -> None:
    """redis-py's pool stops at 100 connections; an IVR node's call and dispatcher threads are
    more (HOTLINE_IVR_MAX_CALLS=300: 300 calls, 100 of them waiting in the queue)."""
    settings = replace(settings, sip_options=replace(settings.sip_options, max_calls=300))
    services = build_services(settings, start_relay=False)
    errors: list[Exception] = []
    barrier = threading.Barrier(150)

    def call() -> None:
        barrier.wait()
        try:  # 150 blocking calls in flight together: 150 connections
            services.redis.blpop(["bench-never-filled"], timeout=1)
        except Exception as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=call) for _ in range(150)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    finally:
        services.close()
