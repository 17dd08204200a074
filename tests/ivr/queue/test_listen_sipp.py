"""Listen-in and agent-to-agent transfer end to end (issue 13): SIPp as the caller, the agents'
phones and a supervisor's phone, all registering with digest to a real Kamailio; the real IVR
node, media process and Dialler; real ticketing services (SQLite, Redis). One system for the
module (the fixtures of ``test_queue_sipp``)."""

from __future__ import annotations

import array
import math
import subprocess

import pytest

from ivr.sip import g711
from tests.ivr.sip.sipkit import RtpSink, sipp, speech_pcm16

from . import test_queue_sipp as q
from .test_queue_sipp import SCENARIOS, System, fresh, system, wait_for

pytestmark = pytest.mark.slow
__all__ = ["fresh", "system"]  # the module's fixtures


def rms(pcm16: bytes) -> float:
    samples = array.array("h", pcm16)
    return math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))


def bridged_call(fresh: System, before: set[str]) -> str:
    def found() -> list[str]:
        calls = fresh.services.call_queue.recent_calls(limit=5)
        return [c["id"] for c in calls if c["id"] not in before and c["answered_at"]]

    wait_for(lambda: bool(found()), timeout=20)
    return found()[0]


def test_a_supervisor_listens_in_on_their_own_phone_and_hears_both_sides(fresh: System) -> None:

    before = {c["id"] for c in fresh.services.call_queue.recent_calls(limit=50)}
    agent = fresh.agent_phone("somchai", "agent_answer.xml")
    sink = RtpSink()
    port = q.free_udp_port()
    supervisor = sipp("agent_answer.xml", ("127.0.0.1", 5060), sink=sink.address,
                      extra=("-p", str(port)), background=True)  # fmt: skip
    assert isinstance(supervisor, subprocess.Popen)
    fresh.phones.append(supervisor)
    registered = sipp(str(SCENARIOS / "agent_register.xml"), fresh.registrar,
                      extra=("-set", "user", "bob", "-set", "contact_port", str(port),
                             "-au", "bob", "-ap", q.AGENTS["bob"]))  # fmt: skip
    assert registered.returncode == 0  # type: ignore[union-attr]
    fresh.available("somchai")
    try:
        caller = sipp(str(SCENARIOS / "caller_officer.xml"), fresh.registrar, hold_ms=9000,
                      timeout=60, background=True)  # fmt: skip
        assert isinstance(caller, subprocess.Popen)
        call_id = bridged_call(fresh, before)
        fresh.services.call_commands.listen(call_id, by="bob", user_id=None)
        wait_for(lambda: sum(len(v) for v in sink.arrivals.values()) > 100, timeout=15)
        out, _ = caller.communicate(timeout=40)
        assert caller.returncode == 0, out[-2000:]
        for phone in (agent, supervisor):
            out, _ = phone.communicate(timeout=30)
            assert phone.returncode == 0, out[-2000:]  # the listen-in ended with the call
    finally:
        sink.close()
    packets = max(sink.arrivals.values(), key=len)
    heard = b"".join(g711.decode(p, g711.PCMA) for _, p in packets)
    speech = speech_pcm16()
    one_side = rms(speech)
    frames = [heard[i : i + 320] for i in range(0, len(heard), 320)]
    loud = sorted(rms(f) for f in frames)
    print(f"listen-in: {len(packets)} packets, mixed rms {rms(heard):.0f}, "
          f"one side rms {one_side:.0f}, p90 frame {loud[int(len(loud) * 0.9)]:.0f}")  # fmt: skip
    assert len(packets) > 150  # > 3 s of listening
    assert rms(heard) > 0.5 * one_side  # audio energy, not keep-alive silence
    assert rms(heard) > 1.15 * one_side  # louder than either side alone: both are in the mix


def test_an_officer_transfers_the_caller_to_another_agent(fresh: System) -> None:
    before = {c["id"] for c in fresh.services.call_queue.recent_calls(limit=50)}
    first = fresh.agent_phone("somchai", "agent_answer.xml")
    second = fresh.agent_phone("anna", "agent_answer.xml")
    fresh.available("somchai")
    caller = sipp(str(SCENARIOS / "caller_officer.xml"), fresh.registrar, hold_ms=12_000,
                  timeout=60, background=True)  # fmt: skip
    assert isinstance(caller, subprocess.Popen)
    call_id = bridged_call(fresh, before)
    fresh.available("anna")  # anna comes back from her break: the officer hands the caller on
    fresh.services.call_commands.transfer(call_id, "agent:anna", by="somchai")
    out, _ = first.communicate(timeout=30)  # the first officer's leg ends ...
    assert first.returncode == 0, out[-2000:]
    wait_for(lambda: fresh.state("anna")[0].value == "on_call", timeout=15)  # ... anna has it
    assert fresh.state("somchai")[0].value in ("wrap_up", "available")
    out, _ = caller.communicate(timeout=40)
    assert caller.returncode == 0, out[-2000:]
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, out[-2000:]  # anna's phone got the BYE when the caller left
    wait_for(lambda: fresh.services.calls.get_call(call_id)["ended_at"] is not None)
    [event] = [e for e in fresh.events("call.transferred") if e["call_id"] == call_id]
    assert event["target"] == "agent:anna" and event["agent"] == "somchai"
    rung = [e["agent"] for e in fresh.events("call.ringing_agent") if e["call_id"] == call_id]
    assert rung == ["somchai", "anna"]
    wait_for(lambda: fresh.state("anna")[0].value in ("wrap_up", "available"), timeout=10)
