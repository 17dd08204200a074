"""Whole calls through the queue with a fake Dialler (real time, short): real ticketing services
on SQLite and the local Redis (db 11), the real live queue and presence store."""

from __future__ import annotations

import json
import threading
import wave
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select

from ivr.call_session import run_call
from ivr.flow.menu import FlowConfig
from ivr.prompts.library import PromptLibrary
from ivr.prompts.manifest import PromptManifest
from tests.ivr.fakes import Caller, FakeChannel, fake_prompts
from ticketing.audio_queue import JOBS_STREAM
from ticketing.container import Services
from ticketing.errors import InvalidInput
from ticketing.models import OutboxEvent, Recording, Ticket
from ticketing.presence import AgentState
from ticketing.timeutil import utcnow

from .fake_dialler import AgentLeg, FakeDialler

pytestmark = pytest.mark.slow  # real time: the dispatcher thread and the bridge run for seconds


@pytest.fixture
def prompts(manifest: PromptManifest) -> PromptLibrary:
    return fake_prompts(manifest, seconds=0.1)


def available(services: Services, *names: str) -> None:
    for name in names:
        services.presence.apply(name, lambda m: m.request(AgentState.AVAILABLE, utcnow()))


def run(
    services: Services,
    flow: FlowConfig,
    prompts: PromptLibrary,
    caller: Caller,
    dialler: FakeDialler | None,
    call_id: str = "call-1",
) -> FakeChannel:
    channel = FakeChannel(caller, call_id=call_id, realtime=True)
    run_call(channel, services, flow, prompts, node="test-node", clock=channel.monotonic,
             dialler=dialler)  # fmt: skip
    return channel


def events(services: Services, kind: str) -> list[dict[str, Any]]:
    with services.sessions() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == kind))
        return [dict(r.payload) for r in rows]


def steps(services: Services, call_id: str = "call-1") -> list[str]:
    return [entry["step"] for entry in services.calls.get_call(call_id)["path"]]


def test_key_0_rings_the_agent_who_answers_then_wrap_up(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "somchai")
    dialler = FakeDialler({"somchai": ["answered"]})
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=2.5), dialler)
    assert dialler.dialled == ["agent:somchai"]
    presence = ivr_services.presence.store.get("somchai")
    assert presence.state is AgentState.WRAP_UP and presence.call_id == "call-1"
    [row] = ivr_services.call_queue.recent_calls()
    assert row["outcome"] == "answered" and row["agent"] == "somchai"
    assert row["wait_seconds"] is not None and row["wait_seconds"] < 1.5
    assert 1.0 < row["talk_seconds"] < 2.5 and row["wrapup_seconds"] == 30
    assert "agent_answered" in steps(ivr_services)
    with ivr_services.sessions() as session:
        recordings = list(session.scalars(select(Recording).order_by(Recording.id)))
        ticket = session.scalars(select(Ticket).where(Ticket.call_id == "call-1")).one()
        assert ticket.recording_id == recordings[0].id  # the draft from queue entry
    assert [r.channel for r in recordings] == ["caller", "agent"]
    assert recordings[0].path == recordings[1].path and recordings[0].complete
    with wave.open(str(ivr_services.settings.data_dir / recordings[0].path), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        seconds = wav.getnframes() / 8000
        left = wav.readframes(100)
    assert 1.0 < seconds < 2.5
    assert left[:2] == (1000).to_bytes(2, "little", signed=True) and left[2:4] == b"\0\0"
    client = redis.Redis.from_url(str(ivr_services.settings.redis_url))
    jobs = [json.loads(f[b"job"]) for _id, f in client.xrange(JOBS_STREAM)]
    assert sorted(j["channel"] for j in jobs) == ["agent", "caller"]
    [ringing] = events(ivr_services, "call.ringing_agent")
    assert ringing["agent"] == "somchai" and ringing["ticket_reference"] == ticket.reference
    assert ringing["caller_masked"] == "••••••5678"
    assert events(ivr_services, "call.bridged")[0]["agent"] == "somchai"
    assert ivr_services.live_queue.snapshot().entries == []


def test_no_answer_puts_the_agent_on_break_and_rings_the_next(
    ivr_services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ivr.queue_call.MIN_TALK_SECONDS", 0.5)  # a short "real" conversation
    available(ivr_services, "anna", "bob")  # anna has waited longest
    dialler = FakeDialler({"anna": ["no_answer"], "bob": ["busy", "answered"]})
    dialler.legs["bob"] = AgentLeg("bob", talk_seconds=1.0)
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=4), dialler)
    assert dialler.dialled[:2] == ["agent:anna", "agent:bob"]
    anna = ivr_services.presence.store.get("anna")
    assert (anna.state, anna.reason) == (AgentState.BREAK, "no_answer")
    assert dialler.dialled[-1] == "agent:bob"  # busy skipped, then rung again and answered
    assert ivr_services.presence.store.get("bob").state is AgentState.WRAP_UP
    assert "agent_hung_up" in steps(ivr_services)  # then the survey, then goodbye


def test_the_agents_leg_dying_puts_the_caller_back_at_the_head(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "anna", "bob")
    dialler = FakeDialler({"anna": ["answered"], "bob": ["answered"]})
    dialler.legs["anna"] = AgentLeg("anna", talk_seconds=0.6, lost=True)
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=4), dialler)
    assert dialler.dialled == ["agent:anna", "agent:bob"]
    path = steps(ivr_services)
    assert path.count("agent_answered") == 2 and "agent_lost" in path and "queue_again" in path
    [row] = ivr_services.call_queue.recent_calls()
    assert row["outcome"] == "answered" and row["agent"] == "bob"
    queued = events(ivr_services, "call.queued")
    assert [q["again"] for q in queued] == [False, True]


def test_the_caller_hanging_up_while_the_phone_rings_cancels_it(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "anna")
    dialler = FakeDialler({"anna": ["ring"]})
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=1.5), dialler)
    [row] = ivr_services.call_queue.recent_calls()
    assert row["outcome"] == "abandoned_in_queue" and row["agent"] is None
    deadline = threading.Event()
    for _ in range(50):  # the dispatcher thread sees the cancel within a poll
        if ivr_services.presence.store.get("anna").state is AgentState.AVAILABLE:
            break
        deadline.wait(0.05)
    assert ivr_services.presence.store.get("anna").state is AgentState.AVAILABLE
    assert ivr_services.live_queue.snapshot().entries == []


def test_no_agent_logged_in_callback_with_the_caller_id(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    dialler = FakeDialler({})
    caller = Caller(keys=[(0.3, "0"), (0.8, "2"), (1.6, "1")], hangup_at=5)
    channel = run(ivr_services, flow_config, prompts, caller, dialler)
    assert channel.hung_up_by_ivr and dialler.dialled == []
    path = steps(ivr_services)
    assert "queue_no_agents" in path and "callback_requested" in path
    [row] = ivr_services.call_queue.recent_calls()
    assert row["outcome"] == "callback_requested"
    [request] = ivr_services.callbacks.requests()
    assert request["number"] == "0812345678" and request["ticket_reference"]
    [entry] = ivr_services.live_queue.snapshot().entries
    assert entry.kind == "callback" and entry.entered_at == request["queue_position_at"]


def test_danger_heard_in_the_transcript_stops_the_recording_and_queues_urgent(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "somchai")
    dialler = FakeDialler({"somchai": ["answered"]})
    channel = FakeChannel(
        Caller(keys=[(0.3, "1")], speech=[(0.8, 3.0)], hangup_at=3.0), realtime=True
    )
    heard = {"done": False}

    def urgent(call_id: str) -> bool:  # the node's follower of asr.partial events
        if channel.now() > 1.5 and not heard["done"]:
            heard["done"] = True
            return True
        return False

    run_call(channel, ivr_services, flow_config, prompts, node="test-node",
             clock=channel.monotonic, dialler=dialler, urgent=urgent)  # fmt: skip
    path = steps(ivr_services)
    assert path[:4] == ["greeting", "complaint", "complaint_recording", "urgent_heard"]
    assert "agent_answered" in path and dialler.dialled == ["agent:somchai"]
    with ivr_services.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.call_id == "call-1")).one()
        mono = session.scalars(
            select(Recording).where(Recording.channel.is_(None), Recording.call_id == "call-1")
        ).one()
    assert ticket.urgent and ticket.recording_id == mono.id and mono.complete
    assert events(ivr_services, "call.queued")[0]["priority"] == "urgent"


def _transfer_when_bridged(services: Services, target: str) -> threading.Thread:
    """The officer's console: once the call is bridged, ask for the transfer."""

    def bridged() -> bool:
        calls = services.call_queue.recent_calls()
        return bool(calls and calls[0]["answered_at"])

    def send() -> None:
        pause = threading.Event()
        for _ in range(200):
            if bridged():
                break
            pause.wait(0.05)
        pause.wait(0.5)
        services.call_commands.transfer("call-1", target, by="somchai")

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_blind_transfer_to_a_hub_through_the_trunk(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "somchai")
    dialler = FakeDialler({"somchai": ["answered"], "tel:1669": ["answered"]})
    dialler.legs["tel:1669"] = AgentLeg("hub", talk_seconds=1.0)  # the hub ends the call
    sender = _transfer_when_bridged(ivr_services, "hub:1669")
    channel = run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=9),
                  dialler)  # fmt: skip
    sender.join(5)
    assert dialler.dialled == ["agent:somchai", "tel:1669"]
    assert channel.hung_up_by_ivr and "transferred" in steps(ivr_services)
    [row] = ivr_services.call_queue.recent_calls()
    assert row["outcome"] == "transferred"
    [event] = events(ivr_services, "call.transferred")
    assert event["target"] == "hub:1669" and event["agent"] == "somchai"
    assert ivr_services.presence.store.get("somchai").state is AgentState.WRAP_UP
    with pytest.raises(InvalidInput):
        ivr_services.call_commands.transfer("call-1", "hub:999", by="somchai")


def test_transfer_back_to_the_queue_rings_the_next_agent(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    available(ivr_services, "somchai", "bob")
    dialler = FakeDialler({"somchai": ["answered"], "bob": ["answered"]})
    sender = _transfer_when_bridged(ivr_services, "queue")
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=4), dialler)
    sender.join(5)
    assert dialler.dialled == ["agent:somchai", "agent:bob"]
    assert "transfer_queue" in steps(ivr_services)
    [row] = ivr_services.call_queue.recent_calls()
    assert (row["outcome"], row["agent"]) == ("answered", "bob")


def test_hold_and_resume_from_the_console_count_as_hold_time(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    """Each step waits for the one before to have reached the bridge (polled), never for a
    fixed time: hold once answered, resume a second after the hold is applied, the caller's
    hang-up once the resume is applied."""
    available(ivr_services, "somchai")
    dialler = FakeDialler({"somchai": ["answered"]})
    caller = Caller(keys=[(0.3, "0")], hangup_at=60)  # hangs up when the console is done
    pause = threading.Event()

    def applied(call: tuple[str, str, bool]) -> bool:
        for _ in range(400):
            if dialler.bridges and call in dialler.bridges[0].calls:
                return True
            pause.wait(0.05)
        return False

    def console() -> None:
        for _ in range(400):
            calls = ivr_services.call_queue.recent_calls()
            if calls and calls[0]["answered_at"]:
                break
            pause.wait(0.05)
        ivr_services.call_commands.leg("call-1", "hold", by="somchai")
        if applied(("hold", "a", True)):
            pause.wait(1.0)  # the officer keeps the caller on hold this long
        ivr_services.call_commands.leg("call-1", "resume", by="somchai")
        applied(("hold", "a", False))
        caller.hangup_at = 0.0  # the caller hangs up now

    thread = threading.Thread(target=console, daemon=True)
    thread.start()
    channel = run(ivr_services, flow_config, prompts, caller, dialler)
    thread.join(5)
    bridge = dialler.bridges[0]
    held = bridge.calls
    assert held == [("hold", "a", True), ("hold", "a", False)]
    assert channel.now() < 50  # ended by the console's hang-up, not the 60 s bound
    [row] = ivr_services.call_queue.recent_calls()
    assert 0.95 < row["hold_seconds"] < 5.0 and row["outcome"] == "answered"
    with pytest.raises(InvalidInput):
        ivr_services.call_commands.leg("call-1", "dance", by="somchai")


def test_a_command_sent_the_moment_the_call_is_answered_is_not_lost(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The console may send a command as soon as the record says answered: the conversation's
    command reader must already be reading then (it starts at the stream's newest entry)."""
    available(ivr_services, "somchai")
    dialler = FakeDialler({"somchai": ["answered"]})
    caller = Caller(keys=[(0.3, "0")], hangup_at=60)
    bridged = ivr_services.call_queue.bridged

    def bridged_then_hold(call_id: str, agent: str) -> float:
        wait = bridged(call_id, agent)  # the record says answered: the console may act now
        ivr_services.call_commands.leg(call_id, "hold", by=agent)
        return wait

    monkeypatch.setattr(ivr_services.call_queue, "bridged", bridged_then_hold)
    pause = threading.Event()

    def hang_up_once_held() -> None:
        for _ in range(400):
            if dialler.bridges and ("hold", "a", True) in dialler.bridges[0].calls:
                break
            pause.wait(0.05)
        caller.hangup_at = 0.0

    thread = threading.Thread(target=hang_up_once_held, daemon=True)
    thread.start()
    run(ivr_services, flow_config, prompts, caller, dialler)
    thread.join(5)
    assert ("hold", "a", True) in dialler.bridges[0].calls


def test_the_call_record_keeps_the_measured_wrap_up_ended_early_or_by_its_timer(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    """The configured 30 s stand on the record while the wrap-up lasts; when the agent leaves it
    (early, from the console, or when the timer runs out) the real length replaces them, so AHT
    (talk + hold + wrap-up) counts the time really spent."""
    available(ivr_services, "somchai", "anna")
    for call_id, agent in (("call-1", "somchai"), ("call-2", "anna")):
        dialler = FakeDialler({agent: ["answered"]})
        run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=1.5),
            dialler, call_id=call_id)  # fmt: skip
    calls = {c["id"]: c for c in ivr_services.call_queue.recent_calls()}
    assert calls["call-1"]["wrapup_seconds"] == calls["call-2"]["wrapup_seconds"] == 30
    somchai = ivr_services.presence.store.get("somchai")
    assert somchai.state is AgentState.WRAP_UP and somchai.since is not None
    early = somchai.since + timedelta(seconds=7.25)  # the agent ends wrap-up after 7.25 s
    ivr_services.presence.apply("somchai", lambda m: m.request(AgentState.AVAILABLE, early))
    anna = ivr_services.presence.store.get("anna")
    assert anna.wrap_up_until is not None and anna.since is not None
    late = anna.wrap_up_until + timedelta(seconds=1)  # the first tick after the timer ran out
    ivr_services.presence.apply("anna", lambda m: m.tick(late))
    assert ivr_services.presence.store.get("anna").state is AgentState.AVAILABLE
    calls = {c["id"]: c for c in ivr_services.call_queue.recent_calls()}
    assert calls["call-1"]["wrapup_seconds"] == 7.25
    assert calls["call-2"]["wrapup_seconds"] == round((late - anna.since).total_seconds(), 3)
    assert calls["call-2"]["wrapup_seconds"] >= 30


def test_an_agent_taken_meanwhile_the_next_of_the_same_snapshot_is_rung(
    ivr_services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Anna (longest idle) is rung for another call between the read and the ring: the
    dispatcher rings bob from the presence it already read, without reading every agent again
    (300 callers' dispatchers colliding re-read 100 agents each time: 12 % of the node's GIL)."""
    available(ivr_services, "anna", "bob")
    presence, store = ivr_services.presence, ivr_services.presence.store
    seen: list[str] = []
    read_all, ring = store.all, presence.ring

    def counting_all() -> Any:
        seen.append(f"read {threading.get_ident()}")  # the dispatcher's, or another thread's
        return read_all()

    def ring_after_someone_else(agent: str, call_id: str) -> Any:
        seen.append(f"ring {agent}")
        seen.append(f"dispatcher {threading.get_ident()}")
        if agent == "anna" and store.get("anna").state is AgentState.AVAILABLE:
            store.apply("anna", lambda m: m.ring("another-call", utcnow()))  # taken meanwhile
        return ring(agent, call_id)

    monkeypatch.setattr(store, "all", counting_all)
    monkeypatch.setattr(presence, "ring", ring_after_someone_else)
    dialler = FakeDialler({"bob": ["answered"]})
    run(ivr_services, flow_config, prompts, Caller(keys=[(0.3, "0")], hangup_at=2.0), dialler)
    assert dialler.dialled == ["agent:bob"]
    assert store.get("anna").call_id == "another-call"
    dispatcher = seen[seen.index("ring anna") + 1].replace("dispatcher", "read")
    between = seen[seen.index("ring anna") + 1 : seen.index("ring bob")]
    assert dispatcher not in between, f"after anna was taken: {between}"
