"""The SIP loop's watchdog, its priority, and call threads started off the loop."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import pytest

from ivr.channel import CallChannel, CallEnded
from ivr.sip import message as m
from ivr.sip.adapter import SipNode
from ivr.sip.loop_watch import LOOP_NICE, LoopWatch

from .test_adapter import memory_node, status, wait_for
from .test_uas import SDP, request


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stuck_here(watch: LoopWatch, ready: threading.Event, release: threading.Event) -> None:
    watch._thread_id = threading.get_ident()  # as start() does, in the watched thread
    ready.set()
    release.wait(5)


def test_a_stall_is_logged_once_with_where_the_loop_was_and_counted(caplog):
    clock = FakeClock()
    watch = LoopWatch("node t", threshold=0.5, clock=clock)
    ready, release = threading.Event(), threading.Event()
    loop = threading.Thread(target=_stuck_here, args=(watch, ready, release))
    loop.start()
    try:
        assert ready.wait(5)
        watch.beat()
        clock.now += 0.4
        assert not watch.check()
        clock.now += 0.3  # 0.7 s without a turn
        with caplog.at_level(logging.WARNING, logger="ivr.sip.loop_watch"):
            assert watch.check()
            clock.now += 1.0
            assert watch.check()  # the same stall: not logged again
        stuck = [r.getMessage() for r in caplog.records if "stuck" in r.getMessage()]
        assert len(stuck) == 1 and watch.stalls_total == 1
        assert "stuck for 0.70 s" in stuck[0] and "_stuck_here" in stuck[0]
        with caplog.at_level(logging.WARNING, logger="ivr.sip.loop_watch"):
            watch.beat()
        assert any("turned again after 1.70 s" in r.getMessage() for r in caplog.records)
        assert watch.take_max() == pytest.approx(1.7)
        assert watch.take_max() == 0.0  # a scrape's window starts afresh
        clock.now += 0.7
        assert watch.check() and watch.stalls_total == 2  # a new stall is a new count
    finally:
        release.set()
        loop.join(5)


def test_the_watchdog_thread_reports_a_real_stall(caplog):
    watch = LoopWatch("node t", threshold=0.2, interval=0.02)
    done = threading.Event()

    def loop() -> None:
        watch.start()
        watch.beat()
        time.sleep(0.5)  # a turn that lasts 0.5 s
        watch.beat()
        done.set()

    with caplog.at_level(logging.WARNING, logger="ivr.sip.loop_watch"):
        thread = threading.Thread(target=loop)
        thread.start()
        assert done.wait(5)
        watch.stop()
        thread.join(5)
    assert watch.stalls_total == 1 and watch.max_stall_seconds >= 0.5
    assert any("in loop" not in r.getMessage() and "loop" in r.getMessage() for r in caplog.records)


def test_a_call_thread_slow_to_start_does_not_hold_up_the_sip_loop(monkeypatch):
    """Thread.start waits until the new thread runs: on a busy CPU that took the loop up to a
    second. Call threads now start from their own thread, so the next INVITE is answered."""
    original = SipNode._start_call

    def slow_start(self: SipNode, call_id: str, leg: object) -> None:
        time.sleep(1.5)
        original(self, call_id, leg)  # type: ignore[arg-type]

    monkeypatch.setattr(SipNode, "_start_call", slow_start)
    flows: list[str] = []

    def on_call(channel: CallChannel) -> None:
        flows.append(channel.call_id)
        try:
            while True:
                channel.read_audio(0.05)
        except CallEnded:
            pass

    with memory_node(on_call) as (_node, phone, _media, _clock):
        phone.send(request("INVITE", call_id="first", body=SDP))
        phone.expect(status(100))
        time.sleep(0.1)  # the first call's thread is being started now (1.5 s)
        sent = time.monotonic()
        phone.send(request("INVITE", call_id="second", body=SDP))
        trying = phone.expect(
            lambda msg: (
                isinstance(msg, m.SipResponse)
                and msg.status == 100
                and msg.get("call-id") == "second"
            )
        )
        assert trying is not None and time.monotonic() - sent < 0.5
        assert wait_for(lambda: len(flows) == 2, timeout=6)


def test_the_loop_runs_above_the_call_threads(monkeypatch):
    niceness: dict[str, int] = {}

    def on_call(channel: CallChannel) -> None:
        niceness["call"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        channel.hangup()

    real_loop = SipNode._loop

    def loop(self: SipNode, stop: threading.Event, transport: object) -> None:
        niceness["loop"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        real_loop(self, stop, transport)  # type: ignore[arg-type]

    monkeypatch.setattr(SipNode, "_loop", loop)
    base = os.getpriority(os.PRIO_PROCESS, 0)
    with memory_node(on_call) as (_node, phone, _media, _clock):
        phone.send(request("INVITE", body=SDP))
        phone.expect(status(200))
        assert wait_for(lambda: "call" in niceness)
    assert niceness["call"] == base  # not the loop's raised priority
    if os.geteuid() == 0:  # CAP_SYS_NICE: the loop is raised
        assert niceness["loop"] == LOOP_NICE
    else:
        assert niceness["loop"] == base


def _holds_the_lock(lock: threading.RLock, held: threading.Event, release: threading.Event):
    with lock:
        held.set()
        release.wait(5)


def test_a_stall_on_the_nodes_lock_names_the_thread_holding_it_and_where(caplog):
    """The loop waited 3.8 s for the node's lock in the queue benchmark (SQLite): the warning
    then says which call thread held it and at which line, not only that the loop waited."""
    clock, lock = FakeClock(), threading.RLock()
    watch = LoopWatch("node t", threshold=0.5, clock=clock, lock=lock)
    held, release, ready = threading.Event(), threading.Event(), threading.Event()
    holder = threading.Thread(target=_holds_the_lock, args=(lock, held, release), name="call-ab12")
    loop = threading.Thread(target=_stuck_here, args=(watch, ready, release))
    holder.start()
    loop.start()
    try:
        assert held.wait(5) and ready.wait(5)
        watch.beat()
        clock.now += 0.8
        with caplog.at_level(logging.WARNING, logger="ivr.sip.loop_watch"):
            assert watch.check()
        (stuck,) = [r.getMessage() for r in caplog.records if "stuck" in r.getMessage()]
        assert "the node's lock is held by call-ab12, at:" in stuck
        assert "_holds_the_lock" in stuck.split("held by")[1]
    finally:
        release.set()
        holder.join(5)
        loop.join(5)
    assert watch.holder() == ""  # released: nobody named


def test_a_refused_real_time_priority_is_logged_and_the_media_falls_back_to_its_nice(
    monkeypatch, caplog
):
    """Without CAP_SYS_NICE (or under RestrictRealtime=yes) sched_setscheduler fails with EPERM:
    ``raise_to_realtime`` says so and returns False, and the media process takes its nice."""
    from ivr.sip import loop_watch, media

    def refuse(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    niced: list[int] = []
    monkeypatch.setattr(loop_watch.os, "sched_setscheduler", refuse)
    monkeypatch.setattr(media, "raise_thread_priority", lambda nice, what: niced.append(nice))
    with caplog.at_level(logging.INFO, logger="ivr.sip.loop_watch"):
        assert not loop_watch.raise_to_realtime(10, "media process")
    assert "no real-time priority (SCHED_RR 10 refused" in caplog.text
    monkeypatch.setattr(media, "raise_to_realtime", loop_watch.raise_to_realtime)
    monkeypatch.setattr(media.logging, "basicConfig", lambda **_kw: None)
    monkeypatch.setattr(media.signal, "signal", lambda *_a: None)
    ran: list[bool] = []
    monkeypatch.setattr(media.MediaLoop, "run", lambda self: ran.append(True))
    control, other = socket.socketpair()
    try:
        media.media_main(control, 30.0, os.getpid(), logging.INFO, realtime=10)
    finally:
        control.close()
        other.close()
    assert niced == [media.MEDIA_NICE] and ran == [True]
