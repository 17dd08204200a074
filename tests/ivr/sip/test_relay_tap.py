"""The listen-in tap of the relay (issue 13) without a media loop: three ``RtpStream`` objects."""

from __future__ import annotations

import array
import itertools
import math
from collections.abc import Iterator

import pytest

from ivr.sip import g711, ipc, relay, rtp
from ivr.sip.ipc import Kind
from ivr.sip.media import RtpStream

from .test_relay import A_PEER, B_PEER, Capture, feed, frames, sent

L_PEER = ("127.0.0.1", 40004)


@pytest.fixture
def three() -> Iterator[tuple[RtpStream, RtpStream, RtpStream]]:
    a = RtpStream(1, Capture(), 10000, 0.0)  # type: ignore[arg-type]
    b = RtpStream(2, Capture(), 10002, 0.0)  # type: ignore[arg-type]
    listener = RtpStream(3, Capture(), 10004, 0.0)  # type: ignore[arg-type]
    a.start(ipc.StartStream(1, A_PEER, g711.PCMU, 101), 0.0)
    b.start(ipc.StartStream(2, B_PEER, g711.PCMA, 96), 0.0)
    listener.start(ipc.StartStream(3, L_PEER, g711.PCMU, 101), 0.0)
    yield a, b, listener


def energy(pcm16: bytes) -> float:
    samples = array.array("h", pcm16)
    return math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))


def test_mix_sums_and_clips_and_pads():
    loud = array.array("h", [30000] * 160).tobytes()
    quiet = array.array("h", [-100] * 160).tobytes()
    assert array.array("h", relay.mix(loud, loud)).tolist() == [32767] * 160
    neg = array.array("h", [-30000] * 160).tobytes()
    assert array.array("h", relay.mix(neg, neg)).tolist() == [-32768] * 160
    assert array.array("h", relay.mix(loud, quiet)).tolist() == [29900] * 160
    assert relay.mix(b"", b"") == bytes(320)  # neither leg sent: silence
    assert array.array("h", relay.mix(quiet[:20], b"")).tolist() == [-100] * 10 + [0] * 150


def test_the_listener_hears_both_legs_mixed_and_sends_nothing_on(three):
    a, b, listener = three
    streams = {1: a, 2: b, 3: listener}
    relay.on_message(streams, Kind.BRIDGE, relay.pack_bridge(1, 2))
    relay.on_message(streams, Kind.TAP, relay.pack_tap(3, 1, 2))
    assert listener.relay is not None and listener.relay.mixer is not None
    caller, officer = frames(0.1, 440), frames(0.1, 1000)
    feed(a, A_PEER, caller, g711.PCMU)
    feed(b, B_PEER, officer, g711.PCMA)
    assert len(sent(b)) == 5 and len(sent(a)) == 5  # the conversation itself still relayed
    out = [rtp.parse(listener.next_packet() or b"") for _ in range(6)]
    assert {p.payload_type for p in out} == {g711.PCMU}
    assert all(q.sequence - p.sequence == 1 for p, q in itertools.pairwise(out))
    assert all(q.timestamp - p.timestamp == 160 for p, q in itertools.pairwise(out))
    heard = [g711.decode(p.payload, g711.PCMU) for p in out]
    for n in range(5):  # each frame is the sum of what both legs sent at that time
        a_pcm = g711.decode(g711.encode(caller[n], g711.PCMU), g711.PCMU)
        b_pcm = g711.decode(g711.encode(officer[n], g711.PCMA), g711.PCMA)
        expected = g711.decode(g711.encode(relay.mix(a_pcm, b_pcm), g711.PCMU), g711.PCMU)
        assert heard[n] == expected
        assert energy(heard[n]) > energy(a_pcm) * 0.9 and energy(heard[n]) > energy(b_pcm) * 0.9
    assert energy(heard[5]) < 50  # nothing pending: silence, every tick
    # Listen only: what the supervisor's phone sends reaches neither leg.
    feed(listener, L_PEER, frames(0.1, 700), g711.PCMU)
    assert sent(a) == [] and sent(b) == []


def test_one_leg_only_a_muted_leg_and_the_backlog(three):
    a, b, listener = three
    relay.bridge(a, b)
    assert relay.tap(listener, a, b) is not None
    feed(a, A_PEER, frames(0.4, 440), g711.PCMU)  # 20 frames: only the newest 10 kept
    mixer = listener.relay.mixer if listener.relay else None
    assert mixer is not None and len(mixer.pending[0]) == relay.TAP_BACKLOG
    heard = [listener.next_packet() for _ in range(relay.TAP_BACKLOG + 1)]
    assert energy(g711.decode(rtp.parse(heard[0] or b"").payload, 0)) > 1000
    assert energy(g711.decode(rtp.parse(heard[-1] or b"").payload, 0)) < 50
    assert b.relay is not None
    b.relay.muted = True  # the officer muted: the listener hears what the caller hears
    feed(b, B_PEER, frames(0.1, 1000), g711.PCMA)
    assert len(mixer.pending[1]) == 0


def test_tap_refused_unless_bridged_and_ended_by_either_side(three):
    a, b, listener = three
    assert relay.tap(listener, a, b) is None  # no conversation to listen to
    relay.on_message({1: a, 2: b, 3: listener}, Kind.TAP, relay.pack_tap(3, 1, 2))
    assert listener.relay is None
    relay.bridge(a, b)
    relay.tap(listener, a, b)
    relay.on_message({1: a, 2: b, 3: listener}, Kind.UNBRIDGE, relay.pack_bridge(3, 0))
    assert listener.relay is None and a.relay is not None and a.relay.taps == []
    assert b.relay is not None and b.relay.partner is a  # the conversation carries on
    relay.tap(listener, a, b)
    relay.unbridge(a)  # the conversation ends: the listener's mix has no more audio
    assert a.relay is None and b.relay is None
    feed(a, A_PEER, frames(0.1, 440), g711.PCMU)
    packet = listener.next_packet()
    assert packet is not None and energy(g711.decode(rtp.parse(packet).payload, 0)) < 50
