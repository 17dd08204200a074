"""Lua scripts through the event bus (the owner of Redis access): the scheduler's lease and the
Open311 rate limit; with Redis down both degrade as documented instead of raising Redis errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ticketing.container import Services
from ticketing.errors import BusUnavailable
from ticketing.events import EventBus
from ticketing.open311_keys import Client, Open311Keys
from ticketing.scheduler_lock import SchedulerLock


@pytest.fixture
def dead_bus(tmp_path: Path) -> EventBus:
    """A bus whose Redis is a socket nobody serves."""
    client = redis.Redis(
        unix_socket_path=str(tmp_path / "nobody.sock"), retry=Retry(NoBackoff(), 0)
    )
    return EventBus(client)


def test_a_script_error_is_bus_unavailable(dead_bus: EventBus) -> None:
    with pytest.raises(BusUnavailable):
        dead_bus.script("return 1").run([], [])


def test_scripts_run_on_the_bus(services: Services) -> None:
    script = services.bus.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    key = "hotline:{test}:counter"
    assert script.run([key], [2]) == 2
    assert script.run([key], [3]) == 5


def test_redis_down_no_scheduler_acts(dead_bus: EventBus) -> None:
    lock = SchedulerLock(dead_bus, ttl_seconds=5)
    assert lock.acquire() is None
    lock.release()  # quietly: nothing to release


def test_redis_down_the_open311_rate_limit_lets_writes_through(
    services: Services, dead_bus: EventBus
) -> None:
    keys = Open311Keys(services.sessions, dead_bus)
    client = Client(key_id=1, name="city app")
    assert all(keys.allow(client, per_minute=1) for _ in range(3))


def test_the_open311_rate_limit_counts_per_key_and_minute(services: Services) -> None:
    keys = Open311Keys(services.sessions, services.bus)
    first, second = Client(key_id=1, name="a"), Client(key_id=2, name="b")
    assert [keys.allow(first, per_minute=2) for _ in range(3)] == [True, True, False]
    assert keys.allow(second, per_minute=2)  # another key has its own counter
