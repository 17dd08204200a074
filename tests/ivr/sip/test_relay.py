"""The bridge's relay without a media loop: two ``RtpStream`` objects, packets in, packets out."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ivr.channel import FRAME_BYTES
from ivr.sip import g711, ipc, relay, rtp
from ivr.sip.ipc import Kind
from ivr.sip.media import RtpStream

from .sipkit import tone

A_PEER = ("127.0.0.1", 40000)
B_PEER = ("127.0.0.1", 40002)


@pytest.fixture
def streams() -> Iterator[tuple[RtpStream, RtpStream]]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    a = RtpStream(1, socks[0], 10000, 0.0)
    b = RtpStream(2, socks[1], 10002, 0.0)
    a.start(ipc.StartStream(1, A_PEER, g711.PCMU, 101), 0.0)
    b.start(ipc.StartStream(2, B_PEER, g711.PCMA, 96), 0.0)
    yield a, b
    for sock in socks:
        sock.close()


def frames(seconds: float, hz: float) -> list[bytes]:
    pcm = tone(seconds, hz)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def feed(stream: RtpStream, peer: tuple[str, int], pcm: list[bytes], pt: int, seq: int = 0):
    for n, frame in enumerate(pcm):
        packet = rtp.build(pt, seq + n, 1000 + 160 * (seq + n), 0xABCD, g711.encode(frame, pt))
        stream.on_datagram(packet, peer, 0.0)


def test_bridged_audio_is_transcoded_and_sent_with_the_other_legs_own_stream(streams):
    a, b = streams
    relay.on_message({1: a, 2: b}, Kind.BRIDGE, relay.pack_bridge(1, 2))
    before = rtp.parse(b.next_packet() or b"")  # nothing queued yet: b's own silence
    assert before.payload == g711.silence(g711.PCMA, 160)
    sent = frames(0.2, 440)
    feed(a, A_PEER, sent[:1], g711.PCMU)
    assert rtp.parse(b.next_packet() or b"").payload == g711.silence(g711.PCMA, 160)  # priming
    feed(a, A_PEER, sent[1:], g711.PCMU, seq=1)
    out = [rtp.parse(b.next_packet() or b"") for _ in range(len(sent))]
    assert {p.ssrc for p in out} == {before.ssrc} and {p.payload_type for p in out} == {8}
    assert [p.sequence for p in out] == [(before.sequence + 2 + i) & 0xFFFF for i in range(10)]
    assert out[1].timestamp - out[0].timestamp == 160
    assert [p.payload for p in out] == [
        g711.encode(g711.decode(g711.encode(f, 0), 0), 8) for f in sent
    ]
    # Each leg's audio is still reported to the node (recording, ASR).
    report = a.take_report()
    assert report is not None and len(report.pcm16) == len(sent) * FRAME_BYTES


def test_events_pass_through_with_one_timestamp_per_event(streams):
    a, b = streams
    relay.bridge(a, b)
    event = bytes([1, 0x0A, 0, 160])  # key '1', not yet ended
    end = bytes([1, 0x8A, 1, 64])
    for n, payload in enumerate([event, event, end, end]):
        a.on_datagram(rtp.build(101, n, 5000, 0xABCD, payload, marker=n == 0), A_PEER, 0.0)
    out = [rtp.parse(b.next_packet() or b"") for _ in range(4)]
    assert [p.payload_type for p in out] == [96] * 4
    assert len({p.timestamp for p in out}) == 1 and out[0].marker
    assert [p.payload for p in out] == [event, event, end, end]


def test_mute_hold_and_unbridge(streams):
    a, b = streams
    relay.bridge(a, b)
    relay.on_message({1: a, 2: b}, Kind.RELAY_FLAGS, relay.pack_flags(1, True, False))
    feed(a, A_PEER, frames(0.1, 440), g711.PCMU)
    assert {rtp.parse(b.next_packet() or b"").payload for _ in range(5)} == {
        g711.silence(g711.PCMA, 160)
    }
    assert a.take_report() is not None  # a muted leg is still recorded
    relay.on_message({1: a, 2: b}, Kind.RELAY_FLAGS, relay.pack_flags(1, False, False))
    # Hold b: nothing relayed either way, and b hears the node's playback (hold music).
    relay.on_message({1: a, 2: b}, Kind.RELAY_FLAGS, relay.pack_flags(2, False, True))
    music = frames(0.04, 300)
    b.queue_pcm(b"".join(music))
    feed(a, A_PEER, frames(0.1, 440), g711.PCMU, seq=10)
    assert rtp.parse(b.next_packet() or b"").payload == g711.encode(music[0], g711.PCMA)
    feed(b, B_PEER, frames(0.1, 500), g711.PCMA)
    assert rtp.parse(a.next_packet() or b"").payload == g711.silence(g711.PCMU, 160)
    relay.on_message({1: a, 2: b}, Kind.UNBRIDGE, relay.pack_bridge(2, 0))
    assert a.relay is None and b.relay is None
