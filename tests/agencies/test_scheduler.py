"""Several schedulers, one acts: the Redis lease, the database fence, the loop, the CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import redis
from sqlalchemy import select

from config.holidays import load_calendar
from config.settings import Settings
from tests.hotline1567.test_cli import cli, env
from tests.ops.probes import free_tcp_port
from ticketing.container import Services, build_services
from ticketing.escalation import SlaPass
from ticketing.events import EventBus
from ticketing.models import SlaMark
from ticketing.scheduler import Scheduler
from ticketing.scheduler_lock import LOCK_KEY, LostLock, SchedulerLock, check_fence

from .test_sla import TUESDAY_9, at, ticket_created_at

__all__ = ["env"]


def test_one_lease_holder_at_a_time(services: Services) -> None:
    first = SchedulerLock(services.bus, ttl_seconds=30)
    second = SchedulerLock(services.bus, ttl_seconds=30)
    token = first.acquire()
    assert token is not None
    assert second.acquire() is None
    assert first.acquire() == token  # renewal keeps the token
    first.release()
    assert second.acquire() == token + 1


def test_a_stale_holder_is_fenced_off(services: Services) -> None:
    old = SchedulerLock(services.bus, ttl_seconds=30)
    new = SchedulerLock(services.bus, ttl_seconds=30)
    stale = old.acquire()
    assert stale is not None
    with services.sessions.begin() as session:
        old.fence(session)
    services.redis.delete(LOCK_KEY)  # the lease expired while the old holder was paused
    assert new.acquire() is not None
    with services.sessions.begin() as session:
        new.fence(session)
    with pytest.raises(LostLock), services.sessions.begin() as session:
        old.fence(session)  # it cannot renew: the new one holds the lease
    with pytest.raises(LostLock), services.sessions.begin() as session:
        check_fence(session, "sla", stale)  # and the database refuses its old token


def test_two_scheduler_loops_mark_once(services: Services) -> None:
    ref = ticket_created_at(services, TUESDAY_9)
    moment = at(TUESDAY_9, minutes=25)
    passes = [0, 0]

    def loop(index: int, stop: threading.Event) -> None:
        sla = SlaPass(services.sessions, services.catalog, load_calendar())

        def job(fence: object) -> None:
            sla.run(moment, fence=fence)  # type: ignore[arg-type]
            passes[index] += 1

        Scheduler(
            SchedulerLock(
                EventBus(redis.Redis.from_url(services.settings.redis_url or "")), ttl_seconds=5
            ),
            jobs=[("sla", job)],
            interval=0.05,
            quick_interval=0.05,
        ).run_forever(stop)

    stop = threading.Event()
    threads = [threading.Thread(target=loop, args=(i, stop)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while sum(passes) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert sum(passes) >= 6
    assert 0 in passes  # only one instance ever acted while the other held on
    with services.sessions() as session:
        assert [(m.clock, m.level) for m in session.scalars(select(SlaMark))] == [("confirm", 1)]
    assert ref


def test_sla_check_runs_one_pass_as_if_at_a_time(env: dict[str, str]) -> None:
    assert cli(env, "db", "upgrade").returncode == 0
    bad = cli(env, "sla", "check", "--at", "yesterday")
    assert bad.returncode == 2 and "expected an ISO time" in bad.stderr
    empty = cli(env, "sla", "check", "--at", "2026-12-01T09:25:00+07:00")
    assert empty.returncode == 0, empty.stderr
    assert "0 new mark(s)" in empty.stderr
    settings = Settings.from_env(env, env_file=None)
    services = build_services(settings, start_relay=False)
    try:
        ref = ticket_created_at(services, TUESDAY_9)
    finally:
        services.close()
    early = cli(env, "sla", "check", "--at", "2026-12-01T09:20:00+07:00")
    assert early.stdout == ""
    marked = cli(env, "sla", "check", "--at", "2026-12-01T09:50:00+07:00")
    assert marked.stdout.splitlines() == [f"{ref}\tconfirm\t3"]
    again = cli(env, "sla", "check", "--at", "2026-12-01T09:55:00+07:00")
    assert again.stdout == "" and "0 new mark(s)" in again.stderr


def test_the_scheduler_role_marks_due_tickets_and_stops_on_sigterm(env: dict[str, str]) -> None:
    assert cli(env, "db", "upgrade").returncode == 0
    settings = Settings.from_env(env, env_file=None)
    services = build_services(settings, start_relay=False)
    try:
        ref = ticket_created_at(services, TUESDAY_9)  # long past due by the real clock
        port = str(free_tcp_port())
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline1567", "scheduler"],
            env={**env, "HOTLINE_SCHEDULER_INTERVAL": "1", "HOTLINE_SCHEDULER_METRICS_PORT": port},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        levels: list[int] = []
        while time.monotonic() < deadline and levels != [1, 2, 3]:
            with services.sessions() as session:
                levels = sorted(m.level for m in session.scalars(select(SlaMark)))
            time.sleep(0.2)
        # The role's own probes and metrics, like every other role's (ticketing.observability).
        livez = urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=10).read()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert levels == [1, 2, 3], stderr
        assert b"alive" in livez and b"hotline_sla_breached_tickets" in metrics
        assert process.returncode == 0, stderr
        assert services.tickets.get(ref)["escalation_level"] == 3
    finally:
        services.close()
