"""The queue end to end over real UDP: SIPp as the caller of 1567 and as the agents' phones, which
REGISTER with digest auth to a real Kamailio; the IVR node (the real SIP core, media process and
Dialler) runs the real call flow on real ticketing services (SQLite, Redis).

One system per module (Kamailio, node, services); each test starts from an empty Redis (agents
offline, empty queue) and uses its own agent names.
"""

from __future__ import annotations

import subprocess
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from config.queue_settings import QueueSettings
from config.sections import KamailioOptions
from config.settings import Settings
from ivr.call_session import run_call
from ivr.channel import CallChannel
from ivr.flow.menu import load_flow, menu_path
from ivr.kamailio import EmbeddedKamailio, IvrNode, options_ping
from ivr.prompts.manifest import load_manifest, manifest_path
from tests.ivr.fakes import fake_prompts
from tests.ivr.sip.sipkit import (
    RtpSink,
    best_correlation,
    free_udp_port,
    running_node,
    sipp,
    speech_pcm16,
)
from tests.ivr.sip.test_kamailio import with_accounts
from tests.redis_db import private_redis_db
from ticketing.container import Services, build_services, sync_agencies
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.models import OutboxEvent, Recording
from ticketing.presence import AgentState
from ticketing.timeutil import utcnow

pytestmark = pytest.mark.slow

SCENARIOS = Path(__file__).parent / "scenarios"
AGENTS = {"somchai": "somchai-pass-1", "anna": "anna-pass-1", "bob": "bob-pass-1"}
IVR_PASSWORD = "ivr-queue-pass"


def wait_for(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class System:
    def __init__(self, services: Services, registrar: tuple[str, int], trunk_port: int) -> None:
        self.services = services
        self.registrar = registrar
        self.trunk_port = trunk_port
        self.phones: list[subprocess.Popen[str]] = []

    def agent_phone(self, name: str, scenario: str) -> subprocess.Popen[str]:
        """An agent's SIPp phone answering on its own port, registered to Kamailio there."""
        port = free_udp_port()
        phone = sipp(scenario, ("127.0.0.1", 5060), extra=("-p", str(port)), background=True)
        assert isinstance(phone, subprocess.Popen)
        self.phones.append(phone)
        registered = sipp(
            str(SCENARIOS / "agent_register.xml"),
            self.registrar,
            extra=("-set", "user", name, "-set", "contact_port", str(port),
                   "-au", name, "-ap", AGENTS[name]),
        )  # fmt: skip
        assert registered.returncode == 0, registered.output + registered.errors  # type: ignore[union-attr]
        return phone

    def available(self, name: str) -> None:
        self.services.presence.apply(name, lambda m: m.request(AgentState.AVAILABLE, utcnow()))

    def state(self, name: str) -> tuple[AgentState, str | None]:
        presence = self.services.presence.store.get(name)
        return presence.state, presence.reason

    def last_call(self) -> dict[str, Any]:
        return self.services.call_queue.recent_calls(limit=1)[0]

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self.services.sessions() as session:
            rows = session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == kind))
            return [dict(r.payload) for r in rows]


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, redis_server: EmbeddedRedis
) -> Iterator[System]:
    data = tmp_path_factory.mktemp("queue-e2e")
    redis_url = private_redis_db(redis_server, 12)
    trunk_port = free_udp_port()
    settings = with_accounts(
        Settings(
            data_dir=data,
            redis_url=redis_url,
            kamailio=KamailioOptions(trunk=("127.0.0.1", trunk_port)),
            queue=QueueSettings(ring_timeout_seconds=3, wrap_up_seconds=2),
        ),
        ivr1=IVR_PASSWORD,
        **AGENTS,
    )
    services = build_services(settings, start_relay=False)
    sync_agencies(services.sessions, services.catalog)
    flow = load_flow(menu_path(None))
    prompts = fake_prompts(load_manifest(manifest_path(None)), seconds=0.2)
    node_port = free_udp_port()
    listen = ("127.0.0.1", free_udp_port())
    holder: list[Any] = []

    def on_call(channel: CallChannel) -> None:
        run_call(channel, services, flow, prompts, node="ivr1", dialler=holder[0])

    with (
        EmbeddedKamailio(
            settings, listen=listen, nodes=[IvrNode("ivr1", "127.0.0.1", node_port)],
            ping_interval=1,
        ) as kamailio,
        running_node(
            on_call, sip_port=node_port, user="ivr1", registrar=kamailio.registrar,
            password=IVR_PASSWORD,
        ) as node,
    ):  # fmt: skip
        holder.append(node.node)
        assert node.node.registered.wait(5), "the node's digest REGISTER failed"
        # the dispatcher's OPTIONS rounds mark the node active: 1567 answers through Kamailio
        wait_for(lambda: options_ping(*kamailio.registrar, user="1567") == 200, timeout=15)
        yield System(services, kamailio.registrar, trunk_port)
        node.wait_idle(15)
    services.close()


@pytest.fixture
def fresh(system: System) -> Iterator[System]:
    redis.Redis.from_url(str(system.services.settings.redis_url)).flushdb()
    yield system
    for phone in system.phones:
        if phone.poll() is None:
            phone.kill()
        phone.communicate()
    system.phones.clear()


def test_key_0_agent_rings_answers_20_s_conversation_then_wrap_up_and_available(
    fresh: System,
) -> None:
    phone = fresh.agent_phone("somchai", "agent_answer.xml")
    fresh.available("somchai")
    sink = RtpSink()
    try:
        caller = sipp(
            str(SCENARIOS / "caller_officer.xml"), fresh.registrar, hold_ms=20_000,
            sink=sink.address, timeout=60,
        )  # fmt: skip
        out, _ = phone.communicate(timeout=30)
    finally:
        sink.close()
    assert caller.returncode == 0, caller.output + caller.errors  # type: ignore[union-attr]
    assert phone.returncode == 0, out[-2000:]
    wait_for(lambda: fresh.last_call()["ended_at"] is not None)
    call = fresh.last_call()
    assert (call["outcome"], call["agent"]) == ("answered", "somchai")
    assert call["wait_seconds"] < 3
    assert 18 < call["talk_seconds"] < 24
    assert fresh.state("somchai")[0] is AgentState.WRAP_UP
    wait_for(lambda: fresh.services.presence.tick_all() > 0 or fresh.state("somchai")[0]
             is AgentState.AVAILABLE, timeout=5)  # fmt: skip
    assert fresh.state("somchai")[0] is AgentState.AVAILABLE  # wrap-up (2 s here) over
    with fresh.services.sessions() as session:
        rows = list(session.scalars(select(Recording).where(Recording.call_id == call["id"])))
    assert sorted(r.channel or "" for r in rows) == ["agent", "caller"]
    path = fresh.services.settings.data_dir / rows[0].path
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 2
        frames = wav.readframes(wav.getnframes())
    left = b"".join(frames[i : i + 2] for i in range(0, len(frames), 4))
    right = b"".join(frames[i + 2 : i + 4] for i in range(0, len(frames), 4))
    speech = speech_pcm16()
    assert best_correlation(left, speech) > 0.8  # the caller's side
    assert best_correlation(right, speech) > 0.8  # the agent's side
    [ringing] = [e for e in fresh.events("call.ringing_agent") if e["call_id"] == call["id"]]
    assert ringing["agent"] == "somchai" and ringing["caller_masked"] == "••••••5678"
    assert ringing["ticket_reference"] == call["ticket_reference"]


def test_no_agent_logged_in_the_caller_leaves_a_callback_request(fresh: System) -> None:
    caller = sipp(str(SCENARIOS / "caller_callback.xml"), fresh.registrar, timeout=40)
    assert caller.returncode == 0, caller.output + caller.errors  # type: ignore[union-attr]
    wait_for(lambda: fresh.last_call()["ended_at"] is not None)
    call = fresh.last_call()
    assert call["outcome"] == "callback_requested"
    [request] = [r for r in fresh.services.callbacks.requests() if r["call_id"] == call["id"]]
    assert request["number"] == "0812345678" and request["state"] == "pending"
    [entry] = fresh.services.live_queue.snapshot().entries
    assert entry.kind == "callback" and entry.entered_at == request["queue_position_at"]
    path = [s["step"] for s in fresh.services.calls.get_call(call["id"])["path"]]
    assert "queue_no_agents" in path and "callback_requested" in path


def test_an_agent_who_does_not_answer_goes_to_break_and_the_next_is_rung(fresh: System) -> None:
    silent = fresh.agent_phone("anna", "agent_no_answer.xml")
    answering = fresh.agent_phone("bob", "agent_answer.xml")
    fresh.available("anna")  # longest idle: rung first
    fresh.available("bob")
    caller = sipp(str(SCENARIOS / "caller_officer.xml"), fresh.registrar, hold_ms=8000, timeout=60)
    assert caller.returncode == 0, caller.output + caller.errors  # type: ignore[union-attr]
    for phone in (silent, answering):
        out, _ = phone.communicate(timeout=30)
        assert phone.returncode == 0, out[-2000:]
    wait_for(lambda: fresh.last_call()["ended_at"] is not None)
    call = fresh.last_call()
    assert (call["outcome"], call["agent"]) == ("answered", "bob")
    assert fresh.state("anna") == (AgentState.BREAK, "no_answer")
    assert [e["agent"] for e in fresh.events("call.ringing_agent")][-2:] == ["anna", "bob"]


def test_danger_while_recording_goes_to_the_head_and_is_bridged_first(fresh: System) -> None:
    rung_before = len(fresh.events("call.ringing_agent"))  # one database for the module
    phone = fresh.agent_phone("somchai", "agent_answer.xml")
    fresh.available("somchai")
    fresh.services.presence.apply(  # logged in but on a break: callers wait in the queue
        "somchai", lambda m: m.request(AgentState.BREAK, utcnow(), "meal")
    )
    waiting = sipp(str(SCENARIOS / "caller_officer.xml"), fresh.registrar, hold_ms=14_000,
                   timeout=60, background=True)  # fmt: skip
    assert isinstance(waiting, subprocess.Popen)
    wait_for(lambda: len(fresh.services.live_queue.snapshot().entries) == 1)
    [first] = fresh.services.live_queue.snapshot().entries
    urgent = sipp(str(SCENARIOS / "caller_urgent.xml"), fresh.registrar, hold_ms=5000,
                  timeout=60, background=True)  # fmt: skip
    assert isinstance(urgent, subprocess.Popen)
    wait_for(lambda: len(fresh.services.live_queue.snapshot().entries) == 2)
    entries = fresh.services.live_queue.snapshot().entries
    assert entries[0].priority == "urgent"  # the head, though it came later
    assert entries[1].call_id == first.call_id
    fresh.available("somchai")
    out, _ = urgent.communicate(timeout=40)
    assert urgent.returncode == 0, out[-2000:]
    phone.communicate(timeout=30)
    waiting.communicate(timeout=40)
    ringing = fresh.events("call.ringing_agent")[rung_before:]
    assert ringing[0]["call_id"] == entries[0].call_id and ringing[0]["priority"] == "urgent"
    urgent_call = fresh.services.calls.get_call(entries[0].call_id)
    steps = [s["step"] for s in urgent_call["path"]]
    assert steps[:4] == ["greeting", "complaint", "complaint_recording", "urgent_key"]
    assert "agent_answered" in steps
    with fresh.services.sessions() as session:
        kept = session.scalars(
            select(Recording).where(
                Recording.call_id == entries[0].call_id, Recording.channel.is_(None)
            )
        ).one()  # the IVR's recording so far stays on the draft
    assert kept.complete and kept.duration_seconds > 1


def test_blind_transfer_to_a_hub_through_the_trunk(fresh: System) -> None:
    before = {c["id"] for c in fresh.services.call_queue.recent_calls(limit=50)}
    phone = fresh.agent_phone("somchai", "agent_answer.xml")
    trunk = sipp("agent_answer.xml", ("127.0.0.1", 5060), extra=("-p", str(fresh.trunk_port)),
                 background=True)  # fmt: skip
    assert isinstance(trunk, subprocess.Popen)
    fresh.phones.append(trunk)
    fresh.available("somchai")
    caller = sipp(str(SCENARIOS / "caller_officer.xml"), fresh.registrar, hold_ms=9000,
                  timeout=60, background=True)  # fmt: skip
    assert isinstance(caller, subprocess.Popen)

    def bridged() -> list[str]:
        calls = fresh.services.call_queue.recent_calls(limit=5)
        return [c["id"] for c in calls if c["id"] not in before and c["answered_at"]]

    wait_for(lambda: bool(bridged()), timeout=20)
    time.sleep(1.0)  # the officer talks a moment, then transfers
    fresh.services.call_commands.transfer(bridged()[0], "hub:1669", by="somchai")
    out, _ = caller.communicate(timeout=40)
    assert caller.returncode == 0, out[-2000:]
    for sipp_process in (phone, trunk):
        out, _ = sipp_process.communicate(timeout=30)
        assert sipp_process.returncode == 0, out[-2000:]  # each got its BYE
    wait_for(lambda: fresh.last_call()["ended_at"] is not None)
    call = fresh.last_call()
    assert call["outcome"] == "transferred"
    [event] = [e for e in fresh.events("call.transferred") if e["call_id"] == call["id"]]
    assert event["target"] == "hub:1669" and event["agent"] == "somchai"
    assert fresh.state("somchai")[0] in (AgentState.WRAP_UP, AgentState.AVAILABLE)
