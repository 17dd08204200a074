"""The bridge's relay without a media loop: two ``RtpStream`` objects, packets in, packets out."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from ivr.channel import FRAME_BYTES
from ivr.sip import g711, ipc, relay, rtp
from ivr.sip.ipc import Kind
from ivr.sip.media import RtpStream

from .sipkit import tone

A_PEER = ("127.0.0.1", 40000)
B_PEER = ("127.0.0.1", 40002)


class Capture:
    """A stream's socket as the relay sees it: what was sent, and where to."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sent.append((data, address))
        return len(data)

    def packets(self) -> list[rtp.RtpPacket]:
        out = [rtp.parse(data) for data, _ in self.sent]
        self.sent.clear()
        return out


@pytest.fixture
def streams() -> Iterator[tuple[RtpStream, RtpStream]]:
    a = RtpStream(1, Capture(), 10000, 0.0)  # type: ignore[arg-type]
    b = RtpStream(2, Capture(), 10002, 0.0)  # type: ignore[arg-type]
    a.start(ipc.StartStream(1, A_PEER, g711.PCMU, 101), 0.0)
    b.start(ipc.StartStream(2, B_PEER, g711.PCMA, 96), 0.0)
    yield a, b


def sent(stream: RtpStream) -> list[rtp.RtpPacket]:
    capture = stream.sock
    assert isinstance(capture, Capture)
    return capture.packets()


def frames(seconds: float, hz: float) -> list[bytes]:
    pcm = tone(seconds, hz)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def feed(stream: RtpStream, peer: tuple[str, int], pcm: list[bytes], pt: int, seq: int = 0):
    for n, frame in enumerate(pcm):
        packet = rtp.build(pt, seq + n, 1000 + 160 * (seq + n), 0xABCD, g711.encode(frame, pt))
        stream.on_datagram(packet, peer, 0.0)


def test_bridged_audio_is_sent_on_at_once_transcoded_with_the_other_legs_own_stream(streams):
    a, b = streams
    relay.on_message({1: a, 2: b}, Kind.BRIDGE, relay.pack_bridge(1, 2))
    keepalive = rtp.parse(b.next_packet() or b"")  # nothing relayed yet: b's own silence
    assert keepalive.payload == g711.silence(g711.PCMA, 160)
    audio = frames(0.2, 440)
    feed(a, A_PEER, audio[:1], g711.PCMU)
    (first,) = sent(b)  # cut-through: sent in the same turn, no pacer, no buffer
    assert b.next_packet() is None  # ... and the pacer stays quiet while the relay sends
    feed(a, A_PEER, audio[1:], g711.PCMU, seq=1)
    out = [first, *sent(b)]
    assert {p.ssrc for p in out} == {keepalive.ssrc} and {p.payload_type for p in out} == {8}
    assert [p.sequence for p in out] == [(keepalive.sequence + 1 + i) & 0xFFFF for i in range(10)]
    assert all(q.timestamp - p.timestamp == 160 for p, q in itertools.pairwise(out))
    assert out[0].timestamp - keepalive.timestamp >= 160  # never behind what b already sent
    assert [p.payload for p in out] == [
        g711.encode(g711.decode(g711.encode(f, 0), 0), 8) for f in audio
    ]
    # A lost packet's gap passes through in the timestamps (the phone's jitter buffer fills it).
    feed(a, A_PEER, audio[:1], g711.PCMU, seq=12)
    (after_gap,) = sent(b)
    assert after_gap.timestamp - out[-1].timestamp == 3 * 160
    # Each leg's audio is still reported to the node (recording, ASR).
    report = a.take_report()
    assert report is not None and len(report.pcm16) >= len(audio) * FRAME_BYTES


def test_events_pass_through_with_one_timestamp_per_event(streams):
    a, b = streams
    relay.bridge(a, b)
    event = bytes([1, 0x0A, 0, 160])  # key '1', not yet ended
    end = bytes([1, 0x8A, 1, 64])
    for n, payload in enumerate([event, event, end, end]):
        a.on_datagram(rtp.build(101, n, 5000, 0xABCD, payload, marker=n == 0), A_PEER, 0.0)
    out = sent(b)
    assert [p.payload_type for p in out] == [96] * 4
    assert len({p.timestamp for p in out}) == 1 and out[0].marker
    assert [p.payload for p in out] == [event, event, end, end]


def test_mute_hold_and_unbridge(streams):
    a, b = streams
    relay.bridge(a, b)
    relay.on_message({1: a, 2: b}, Kind.RELAY_FLAGS, relay.pack_flags(1, True, False))
    feed(a, A_PEER, frames(0.1, 440), g711.PCMU)
    assert sent(b) == []  # muted: nothing relayed ...
    assert rtp.parse(b.next_packet() or b"").payload == g711.silence(g711.PCMA, 160)  # keep-alive
    assert a.take_report() is not None  # a muted leg is still recorded
    relay.on_message({1: a, 2: b}, Kind.RELAY_FLAGS, relay.pack_flags(1, False, False))
    # Hold b: nothing relayed either way, and b hears the node's playback (hold music).
    relay.on_message({1: a, 2: b}, Kind.RELAY_FLAGS, relay.pack_flags(2, False, True))
    music = frames(0.04, 300)
    b.queue_pcm(b"".join(music))
    feed(a, A_PEER, frames(0.1, 440), g711.PCMU, seq=10)
    assert sent(b) == []
    assert rtp.parse(b.next_packet() or b"").payload == g711.encode(music[0], g711.PCMA)
    feed(b, B_PEER, frames(0.1, 500), g711.PCMA)
    assert sent(a) == []
    relay.on_message({1: a, 2: b}, Kind.UNBRIDGE, relay.pack_bridge(2, 0))
    assert a.relay is None and b.relay is None
