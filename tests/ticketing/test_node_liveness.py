"""A dead IVR node's calls are ended by the reconciler once its heartbeat runs out (issue 13).

Real Redis (heartbeats with a TTL, presence, the live queue) and the database (calls, state
history). The node that dies is a real process beating through ``NodeLiveness.run`` (what
``ivr.node`` starts) and killed with SIGKILL; a second node keeps beating in a thread and its
call is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from config.envparse import SettingsError
from config.queue_settings import QueueSettings
from ticketing.container import Services
from ticketing.live_queue import QueueEntry
from ticketing.models import AgentStateChange, Call
from ticketing.node_liveness import NodeLiveness
from ticketing.presence import AgentState
from ticketing.presence_reconcile import PresenceReconciler
from ticketing.queue_metrics import queue_metrics_text

BEAT = 0.2  # seconds between beats in these tests; the TTL is three beats

NODE_SCRIPT = """
import sys, threading, redis
from ticketing.node_liveness import NodeLiveness
client = redis.Redis.from_url(sys.argv[1])
liveness = NodeLiveness(client, interval_seconds=float(sys.argv[3]))
liveness.beat(sys.argv[2])
print("beating", flush=True)
liveness.run(sys.argv[2], threading.Event())
"""


def _poll(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _on_call(services: Services, agent: str, call_id: str, node: str) -> None:
    services.calls.start_call(call_id, caller_number="0812345678", node=node)
    services.call_queue.queued(call_id, priority="normal", reference=None)
    services.presence.request_state(agent, "agent", AgentState.AVAILABLE)
    services.presence.ring(agent, call_id)
    services.call_queue.bridged(call_id, agent)
    services.presence.answer(agent)


def _call(services: Services, call_id: str) -> Call:
    with services.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        session.expunge(call)
        return call


def _reconciler(services: Services, liveness: NodeLiveness) -> PresenceReconciler:
    return PresenceReconciler(
        services.presence,
        services.sessions,
        liveness=liveness,
        calls=services.calls,
        live_queue=services.live_queue,
    )


def test_a_killed_nodes_agents_and_calls_are_freed_a_live_nodes_are_not(
    services: Services, redis_url: str
) -> None:
    liveness = NodeLiveness(services.redis, interval_seconds=BEAT)
    dying = subprocess.Popen(
        [sys.executable, "-c", NODE_SCRIPT, redis_url, "node-a:5070", str(BEAT)],
        stdout=subprocess.PIPE,
        text=True,
    )
    live_stop = threading.Event()
    live = threading.Thread(target=liveness.run, args=("node-b:5070", live_stop), daemon=True)
    live.start()
    try:
        assert dying.stdout is not None and dying.stdout.readline().strip() == "beating"
        _poll(lambda: liveness.nodes() == {"node-a:5070": True, "node-b:5070": True})
        _on_call(services, "somchai", "ca", "node-a:5070")
        _on_call(services, "malee", "cb", "node-b:5070")
        services.calls.start_call("cq", caller_number="0899999999", node="node-a:5070")
        services.call_queue.queued("cq", priority="normal", reference=None)
        now = datetime.now(UTC)
        services.live_queue.join(QueueEntry("cq", "normal", now, node="node-a:5070"))
        services.live_queue.join(QueueEntry("cw", "normal", now, node="node-b:5070"))
        reconciler = _reconciler(services, liveness)
        assert reconciler.run() == 0  # both nodes beat: nothing is touched

        os.kill(dying.pid, signal.SIGKILL)
        dying.wait(timeout=5)
        # within the TTL (three beats) plus one reconcile pass, the node is judged stopped
        _poll(lambda: liveness.stopped() == {"node-a:5070"})
        assert reconciler.run() == 1
    finally:
        live_stop.set()
        live.join(timeout=5)
        if dying.poll() is None:
            dying.kill()
            dying.wait()
        if dying.stdout is not None:
            dying.stdout.close()

    assert services.presence.store.get("somchai").state is AgentState.WRAP_UP
    assert services.presence.store.get("malee").state is AgentState.ON_CALL
    with services.sessions() as session:
        why = session.scalars(
            select(AgentStateChange.why)
            .where(AgentStateChange.username == "somchai")
            .order_by(AgentStateChange.id.desc())
        ).first()
    assert why == "reconciled: node node-a:5070 stopped"
    for call_id in ("ca", "cq"):
        closed = _call(services, call_id)
        assert closed.ended_at is not None
        assert (closed.end_reason, closed.outcome) == ("node_stopped", "error")
    assert _call(services, "ca").agent_answered_at is not None  # still counted as answered
    assert _call(services, "cb").ended_at is None and _call(services, "cb").outcome is None
    waiting = [e.entry_id for e in services.live_queue.snapshot().entries]
    assert waiting == ["cw"]  # the dead node's caller left the queue, the live one's stays
    # node-b stopped cleanly: it took its beat out, it is neither alive nor stopped
    assert liveness.nodes() == {"node-a:5070": False}
    assert reconciler.run() == 0  # nothing more to do


def test_a_stopped_heartbeat_thread_and_the_restart_finalises_recordings(
    services: Services,
) -> None:
    liveness = NodeLiveness(services.redis, interval_seconds=BEAT)
    liveness.beat("node-c:5070")
    _on_call(services, "lek", "cc", "node-c:5070")
    recording, _draft = services.calls.start_recording("cc", "recordings/cc.wav")
    reconciler = _reconciler(services, liveness)
    assert reconciler.run() == 0
    _poll(lambda: liveness.stopped() == {"node-c:5070"})  # no more beats: the TTL runs out
    assert reconciler.run() == 1
    assert services.presence.store.get("lek").state is AgentState.WRAP_UP
    assert _call(services, "cc").outcome == "error"
    # the node starting again still finds the call's unfinished recording (only it has the file)
    orphans = services.calls.open_calls_of_node("node-c:5070")
    assert [(o["call_id"], [r["id"] for r in o["recordings"]]) for o in orphans] == [
        ("cc", [recording])
    ]
    services.calls.close_orphaned_call("cc", {recording: 1.5})
    assert services.calls.open_calls_of_node("node-c:5070") == []


def test_unknown_nodes_and_unreadable_heartbeats_are_never_judged(services: Services) -> None:
    _on_call(services, "somchai", "cu", "never-beat:5070")
    liveness = NodeLiveness(services.redis, interval_seconds=BEAT)
    assert _reconciler(services, liveness).run() == 0
    assert _call(services, "cu").ended_at is None
    broken = NodeLiveness(_dead_redis(), interval_seconds=BEAT)
    liveness.beat("n-x")
    _poll(lambda: liveness.stopped() == {"n-x"})
    assert _reconciler(services, broken).run() == 0  # Redis unreadable: no node is stopped


def test_nodes_alive_on_the_wallboard_and_metrics(services: Services) -> None:
    liveness = services.node_liveness
    liveness.beat("n1:5070")
    short = NodeLiveness(services.redis, interval_seconds=BEAT)
    short.beat("n2:5070")
    _poll(lambda: liveness.nodes() == {"n1:5070": True, "n2:5070": False})
    services.queue_reads.cache_seconds = 0
    board = services.queue_reads.wallboard()
    assert (board["nodes_alive"], board["nodes_stopped"]) == (1, ["n2:5070"])
    text = queue_metrics_text(services.queue_reads)
    assert "hotline_ivr_nodes_alive 1.0" in text
    assert 'hotline_ivr_node_up{node="n1:5070"} 1.0' in text
    assert 'hotline_ivr_node_up{node="n2:5070"} 0.0' in text


def test_heartbeat_settings() -> None:
    default = QueueSettings.from_env({})
    assert (default.node_heartbeat_seconds, default.node_heartbeat_ttl) == (2.0, 6.0)
    set_ = QueueSettings.from_env(
        {"HOTLINE_NODE_HEARTBEAT_SECONDS": "1", "HOTLINE_NODE_HEARTBEAT_TTL_SECONDS": "5"}
    )
    assert (set_.node_heartbeat_seconds, set_.node_heartbeat_ttl) == (1.0, 5.0)
    with pytest.raises(SettingsError, match="HOTLINE_NODE_HEARTBEAT_TTL_SECONDS"):
        QueueSettings.from_env(
            {"HOTLINE_NODE_HEARTBEAT_SECONDS": "3", "HOTLINE_NODE_HEARTBEAT_TTL_SECONDS": "2"}
        )
    with pytest.raises(SettingsError, match="HOTLINE_NODE_HEARTBEAT_SECONDS"):
        QueueSettings.from_env({"HOTLINE_NODE_HEARTBEAT_SECONDS": "fast"})


def _dead_redis():  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
