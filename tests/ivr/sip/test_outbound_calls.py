"""Outbound legs and the bridge over real UDP: SIPp as the caller and as the agent's phone.

The node's outbound proxy is the SIPp agent phone itself here (no Kamailio in between; the
routes through Kamailio are in test_kamailio_routes.py). The call flow dials ``agent:alice``,
bridges the caller to the answered leg, and hangs up the other leg when one side hangs up.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from ivr.channel import CallChannel
from ivr.outbound import DialOutcome, DialResult
from ivr.sip import g711
from ivr.sip import message as m

from .sipkit import RtpSink, free_udp_port, relayed_fidelity, running_node, sipp, speech_pcm16

pytestmark = pytest.mark.slow


def bridging_flow(
    node_ref: list[object], results: list[dict[str, object]], target: str = "agent:alice"
) -> Callable[[CallChannel], None]:
    def on_call(channel: CallChannel) -> None:
        record: dict[str, object] = {"audio": {"a": bytearray(), "b": bytearray()}}
        results.append(record)
        node = node_ref[0]
        rang = threading.Event()
        result: DialResult = node.dial(  # type: ignore[attr-defined]
            target, caller_id="1567", ring_timeout=3.0, on_ringing=rang.set
        )
        record["result"], record["rang"] = result, rang.is_set()
        if result.channel is None:
            channel.hangup()
            return
        audio = record["audio"]

        def on_audio(leg: str, pcm: bytes) -> None:
            audio[leg] += pcm  # type: ignore[index]

        bridge = node.bridge(channel, result.channel, on_audio)  # type: ignore[attr-defined]
        ended = bridge.wait(30)
        record["ended"] = ended
        (result.channel if ended == "a" else channel).hangup()
        record["reasons"] = (channel.end_reason, result.channel.end_reason)

    return on_call


def agent_phone(scenario: str, sink: RtpSink, port: int, hold_ms: int = 1000) -> subprocess.Popen:
    return sipp(  # type: ignore[return-value]
        scenario,
        ("127.0.0.1", 5060),
        sink=sink.address,
        hold_ms=hold_ms,
        extra=("-p", str(port)),
        background=True,
    )


def wait_bound(port: int, timeout: float = 10) -> None:
    """Until SIPp has bound its UDP port (it gives no other readiness signal)."""

    def taken() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True
            return False

    wait_for(taken, timeout)


def wait_for(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("scenario,ends", [("agent_answer.xml", "a"), ("agent_hangs_up.xml", "b")])
def test_caller_bridged_to_agent_audio_both_ways_and_either_bye_ends_both(scenario, ends):
    results: list[dict[str, object]] = []
    node_ref: list[object] = []
    agent_port = free_udp_port()
    caller_sink, agent_sink = RtpSink(), RtpSink()
    extra = {"HOTLINE_SIP_OUTBOUND_PROXY": f"127.0.0.1:{agent_port}"}
    try:
        with running_node(bridging_flow(node_ref, results), extra=extra) as node:
            node_ref.append(node.node)
            phone = agent_phone(scenario, agent_sink, agent_port, hold_ms=5000)
            wait_bound(agent_port)
            caller = sipp(
                "uac.xml" if ends == "a" else "uac_talk_wait_bye.xml",
                ("127.0.0.1", node.node.settings.sip_port),
                hold_ms=4000,
                sink=caller_sink.address,
            )
            out, _ = phone.communicate(timeout=30)
            assert phone.returncode == 0, out[-2000:]
            wait_for(lambda: len(results) == 1 and "reasons" in results[0])
            node.wait_idle()
    finally:
        caller_sink.close()
        agent_sink.close()
    assert caller.returncode == 0, caller.output + caller.errors  # type: ignore[union-attr]
    (record,) = results
    result = record["result"]
    assert isinstance(result, DialResult)
    assert result.outcome is DialOutcome.ANSWERED and result.status == 200
    assert record["rang"] is True
    assert record["ended"] == ends
    assert record["reasons"] == (("bye", "hangup") if ends == "a" else ("hangup", "bye"))
    # Each side's speech reached the other, re-packetised: relayed_fidelity is the share of 200 ms
    # blocks that are bit-exact copies of the speech (noise or a tone score 0; on a loaded machine
    # the relay's jitter queue drops or pads a frame now and then, which spoils that block only).
    speech = speech_pcm16()
    # The caller's speech reached the agent's phone (PCMU -> PCMA transcoded) and back.
    to_agent = agent_sink.voice(g711.PCMA)
    assert relayed_fidelity(to_agent, speech) > 0.5
    (caller_ssrc,) = caller_sink.arrivals
    caller_pt = g711.PCMU if ends == "a" else g711.PCMA  # what each caller scenario offers
    to_caller = g711.decode(
        b"".join(p for _, p in caller_sink.arrivals[caller_ssrc] if len(p) == 160), caller_pt
    )
    assert relayed_fidelity(to_caller, speech) > 0.5
    # Both legs' inbound audio reached on_audio in 20 ms frames (recording, ASR).
    audio = record["audio"]
    assert isinstance(audio, dict)
    assert relayed_fidelity(bytes(audio["a"]), speech) > 0.7
    assert relayed_fidelity(bytes(audio["b"]), speech) > 0.7


@pytest.mark.parametrize(
    "scenario,outcome,status",
    [
        ("agent_busy.xml", DialOutcome.BUSY, 486),
        ("agent_no_answer.xml", DialOutcome.NO_ANSWER, 487),
    ],
)
def test_busy_and_no_answer(scenario, outcome, status):
    results: list[dict[str, object]] = []
    node_ref: list[object] = []
    agent_port = free_udp_port()
    sink = RtpSink()
    extra = {"HOTLINE_SIP_OUTBOUND_PROXY": f"127.0.0.1:{agent_port}"}
    try:
        with running_node(bridging_flow(node_ref, results), extra=extra) as node:
            node_ref.append(node.node)
            phone = agent_phone(scenario, sink, agent_port)
            wait_bound(agent_port)
            sipp("uac_wait_bye.xml", ("127.0.0.1", node.node.settings.sip_port), sink=sink.address)
            out, _ = phone.communicate(timeout=30)
            assert phone.returncode == 0, out[-2000:]
            wait_for(lambda: len(results) == 1 and "result" in results[0])
            node.wait_idle()
    finally:
        sink.close()
    result = results[0]["result"]
    assert isinstance(result, DialResult)
    assert (result.outcome, result.status, result.channel) == (outcome, status, None)


class SilentProxy:
    """A UDP socket standing in for Kamailio: answers each INVITE 100 Trying and nothing more,
    and a CANCEL with 200 and the INVITE's 487 (so a cancelled dial ends at once)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = ("127.0.0.1", int(self.sock.getsockname()[1]))
        self.methods: list[str] = []
        self._running = True
        self._invites: dict[str, m.SipRequest] = {}
        self._thread = threading.Thread(target=self._run, name="silent-proxy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                data, source = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            message = m.parse(data)
            if not isinstance(message, m.SipRequest):
                continue
            self.methods.append(message.method)
            if message.method == "INVITE":
                self._invites[message.call_id] = message
                self.sock.sendto(bytes(m.build_response(message, 100, "Trying")), source)
            elif message.method == "CANCEL":
                self.sock.sendto(bytes(m.build_response(message, 200, "OK", to_tag="p")), source)
                invite = self._invites[message.call_id]
                terminated = m.build_response(invite, 487, "Request Terminated", to_tag="p")
                self.sock.sendto(bytes(terminated), source)

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self.sock.close()


def test_outbound_limit_fails_at_once_and_cancel_ends_a_ringing_dial():
    proxy = SilentProxy()
    extra = {
        "HOTLINE_SIP_OUTBOUND_PROXY": f"127.0.0.1:{proxy.address[1]}",
        "HOTLINE_IVR_MAX_OUTBOUND": "1",
    }
    results: list[DialResult] = []
    cancel = threading.Event()
    try:
        with running_node(lambda channel: None, extra=extra) as node:
            first = threading.Thread(
                target=lambda: results.append(
                    node.node.dial(
                        "tel:0812345678", caller_id="1567", ring_timeout=30, cancel=cancel
                    )
                )
            )
            first.start()
            wait_for(lambda: proxy.methods == ["INVITE"])
            over = node.node.dial("agent:alice", caller_id="1567", ring_timeout=30)
            assert (over.outcome, over.status, over.channel) == (DialOutcome.FAILED, None, None)
            assert node.node.dialler.refused_over_limit == 1
            bad = node.node.dial("0812345678", caller_id="1567", ring_timeout=30)
            assert bad.outcome is DialOutcome.FAILED  # neither agent: nor tel:
            cancel.set()
            first.join(timeout=10)
            node.wait_idle()
    finally:
        proxy.close()
    assert proxy.methods == ["INVITE", "CANCEL", "ACK"]  # nothing sent over the limit
    (result,) = results
    assert (result.outcome, result.status, result.channel) == (DialOutcome.CANCELLED, 487, None)
