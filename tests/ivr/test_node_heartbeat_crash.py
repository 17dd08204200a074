"""Fault test (issue 13): ``kill -9`` of a real IVR node (``hotline1567 ivr``) behind a real
Kamailio, mid-call, with an agent on that call. Its heartbeat runs out and the scheduler's
presence reconciler frees the agent ("reconciled: node <id> stopped") and closes the call
(outcome error) while the node stays dead; when the node starts again it still finalises the
call's recording and Kamailio BYEs the caller. A node that keeps beating is never judged."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import Settings
from ivr.kamailio import EmbeddedKamailio, IvrNode, options_ping
from ivr.prompts.manifest import PromptManifest
from tests.ivr.sip.sipkit import sipp
from tests.ivr.test_node_crash import (
    CRASH_SCENARIO,
    ivr_process,
    node_under_test,
    open_calls,
    recording_row,
    wait_for,
)
from ticketing.container import build_services
from ticketing.models import AgentStateChange, Call
from ticketing.presence import AgentState
from ticketing.presence_reconcile import PresenceReconciler

pytestmark = pytest.mark.slow

BEAT = 0.5  # HOTLINE_NODE_HEARTBEAT_SECONDS of the node under test; TTL: three beats


def test_a_killed_nodes_agent_and_call_are_freed_before_it_comes_back(
    tmp_path: Path, ivr_redis_url: str, manifest: PromptManifest
) -> None:
    data, database, node_port, listen, env = node_under_test(
        tmp_path, ivr_redis_url, manifest, "beat"
    )
    env["HOTLINE_NODE_HEARTBEAT_SECONDS"] = str(BEAT)
    log = tmp_path / "ivr.log"
    settings = Settings(data_dir=data, database_url=database, redis_url=ivr_redis_url)
    kamailio = EmbeddedKamailio(
        settings, listen=listen, nodes=[IvrNode("ivr1", "127.0.0.1", node_port)], ping_interval=1
    )
    services = build_services(settings, start_relay=False)
    caller: subprocess.Popen[str] | None = None
    liveness = services.node_liveness
    reconciler = PresenceReconciler(
        services.presence,
        services.sessions,
        liveness=liveness,
        calls=services.calls,
        live_queue=services.live_queue,
    )
    try:
        with kamailio:
            with ivr_process(env, log) as first:
                wait_for(lambda: "registered as ivr1" in log.read_text(), 60, "registration")
                wait_for(lambda: options_ping(*listen, user="1567") == 200, 15, "dispatcher")
                wait_for(lambda: any(liveness.nodes().values()), 10, "the node's heartbeat")
                (node,) = liveness.nodes()
                started = sipp(str(CRASH_SCENARIO), listen, timeout=90, background=True)
                assert isinstance(started, subprocess.Popen)
                caller = started
                wait_for(lambda: len(open_calls(services)) == 1, 30, "the call")
                (call,) = open_calls(services)
                recordings = data / "recordings"

                def recorded_seconds() -> float:
                    files = list(recordings.rglob("*.wav")) if recordings.exists() else []
                    return max(((f.stat().st_size - 44) / 16000 for f in files), default=0.0)

                wait_for(lambda: recorded_seconds() >= 1.0, 40, "1 s of recording")
                # the call-taker on this call (as the queue would have put them)
                services.presence.request_state("somchai", "agent", AgentState.AVAILABLE)
                services.presence.ring("somchai", call)
                services.call_queue.bridged(call, "somchai")
                services.presence.answer("somchai")
                for _ in range(3):  # a beating node's call and agent are left alone
                    assert reconciler.run() == 0
                assert services.presence.store.get("somchai").state is AgentState.ON_CALL

                os.kill(first.pid, signal.SIGKILL)
                first.wait(timeout=10)
                killed = time.monotonic()

            def freed() -> bool:
                reconciler.run()  # the scheduler's pass, every 5 s there
                return services.presence.store.get("somchai").state is AgentState.WRAP_UP

            wait_for(freed, 30, "the agent to be freed")
            print(f"agent freed {time.monotonic() - killed:.2f} s after kill -9 (beat {BEAT} s)")
            with services.sessions() as session:
                row = session.get(Call, call)
                assert row is not None
                assert (row.end_reason, row.outcome) == ("node_stopped", "error")
                assert row.ended_at is not None
                why = session.scalars(
                    select(AgentStateChange.why)
                    .where(AgentStateChange.username == "somchai")
                    .order_by(AgentStateChange.id.desc())
                ).first()
            assert why == f"reconciled: node {node} stopped"
            assert liveness.nodes() == {node: False}

            with ivr_process(env, log):  # back: it finalises the recording, Kamailio BYEs
                wait_for(lambda: bool(recording_row(services, call)["complete"]), 60, "recording")
                assert recording_row(services, call)["partial"]
                wait_for(lambda: liveness.nodes() == {node: True}, 10, "the heartbeat again")
                output, _ = caller.communicate(timeout=60)
                assert caller.returncode == 0, output[-3000:]  # the caller got its BYE
            assert liveness.nodes() == {}  # a clean stop takes the heartbeat out
    finally:
        if caller is not None and caller.poll() is None:
            caller.kill()
            caller.communicate()
        services.close()
