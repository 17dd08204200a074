"""The supervisor of `hotline1567 run`: every child restarted with backoff, each restart logged."""

from __future__ import annotations

import logging

import pytest

from hotline1567.supervisor import MAX_BACKOFF, STABLE_AFTER, Supervisor


class FakeService:
    def __init__(self, fail_starts: int = 0) -> None:
        self.alive = False
        self.starts = 0
        self.stops = 0
        self.fail_starts = fail_starts

    def start(self) -> None:
        self.starts += 1
        if self.fail_starts:
            self.fail_starts -= 1
            raise RuntimeError("port in use")
        self.alive = True

    def exited(self) -> bool:
        return not self.alive

    def stop(self) -> None:
        self.stops += 1
        self.alive = False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_dead_child_comes_back_with_doubling_backoff(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    redis = FakeService()
    redis.alive = True
    supervisor = Supervisor([], clock=clock)
    supervisor.adopt("redis", redis)
    supervisor.tick()
    assert redis.starts == 0  # adopted: already running

    delays = []
    for _ in range(7):
        redis.alive = False  # killed
        supervisor.tick()
        (child,) = supervisor.children
        delays.append(child.next_start - clock.now)
        clock.now = child.next_start - 0.01
        supervisor.tick()
        assert not redis.alive  # not before its backoff
        clock.now = child.next_start
        supervisor.tick()
        assert redis.alive
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert delays[-1] == MAX_BACKOFF
    assert redis.starts == 7 and redis.stops == 7  # each dead one reaped before the restart
    assert caplog.text.count("redis exited; restarting in") == 7
    assert "redis restarted (restart 7)" in caplog.text

    clock.now += STABLE_AFTER + 1  # up for a minute: the next crash restarts quickly again
    supervisor.tick()
    redis.alive = False
    supervisor.tick()
    assert supervisor.children[0].next_start - clock.now == 1


def test_a_failing_start_is_retried_and_other_children_keep_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    kamailio, web = FakeService(fail_starts=2), FakeService()
    supervisor = Supervisor([("kamailio", kamailio), ("web", web)], clock=clock)
    supervisor.tick()
    assert web.alive and not kamailio.alive
    assert "kamailio failed to start: port in use; restarting in 1 s" in caplog.text
    for _ in range(10):
        clock.now += 1
        supervisor.tick()
    assert kamailio.alive and kamailio.starts == 3
    assert web.starts == 1
