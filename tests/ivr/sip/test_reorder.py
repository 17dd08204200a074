"""Caller RTP back in order: the pure Reorder buffer, and RtpStream latching to the SDP peer."""

from __future__ import annotations

import socket

import pytest

from ivr.sip import g711, ipc, rtp
from ivr.sip.media import RtpStream
from ivr.sip.reorder import Reorder


def feed(buffer: Reorder[int], sequences: list[int], now: float = 0.0) -> list[int | None]:
    out: list[int | None] = []
    for sequence in sequences:
        out += buffer.push(sequence, sequence, now)
    return out


def test_in_order_packets_pass_straight_through():
    assert feed(Reorder(), [10, 11, 12]) == [10, 11, 12]


def test_a_late_packet_within_the_window_is_put_back_in_its_place():
    buffer: Reorder[int] = Reorder(window=3)
    assert feed(buffer, [1, 3, 4]) == [1]  # 2 is missing: 3 and 4 wait
    assert feed(buffer, [2]) == [2, 3, 4]
    assert buffer.lost == 0


def test_a_lost_packet_gets_a_place_once_the_window_is_full():
    buffer: Reorder[int] = Reorder(window=2)
    assert feed(buffer, [1, 3, 4]) == [1]
    assert feed(buffer, [5]) == [None, 3, 4, 5]
    assert feed(buffer, [2]) == []  # too late: its place was given up
    assert (buffer.lost, buffer.late) == (1, 1)


def test_held_packets_are_released_after_max_hold_even_when_the_stream_stops():
    buffer: Reorder[int] = Reorder(window=3)
    assert buffer.push(1, 1, 0.0) == [1]
    assert buffer.push(4, 4, 0.0) == []
    assert buffer.flush(0.05, max_hold=0.08) == []
    assert buffer.flush(0.1, max_hold=0.08) == [None, None, 4]


def test_sequence_numbers_wrap_and_big_jumps_are_a_new_start_not_loss():
    buffer: Reorder[int] = Reorder(window=3, max_gap=50)
    assert feed(buffer, [65534, 65535, 0, 1]) == [65534, 65535, 0, 1]
    assert feed(buffer, [3, 2]) == [2, 3]  # reordered across nothing special
    assert feed(buffer, [30000, 30001]) == [30000, 30001]  # a restarted sender: no 30,000 fills
    assert feed(buffer, [29990]) == []  # just behind: late, dropped
    assert feed(buffer, [20000]) == [20000]  # far behind: a new start as well
    assert buffer.lost == 0


def test_duplicates_are_dropped():
    buffer: Reorder[int] = Reorder(window=3)
    assert feed(buffer, [1, 1, 3, 3, 2]) == [1, 2, 3]
    assert buffer.late == 2


SDP_PEER = ("127.0.0.1", 4000)  # the address in the caller's SDP


@pytest.fixture
def stream():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media = RtpStream(7, sock, 0, 0.0)
    media.start(ipc.StartStream(7, SDP_PEER, g711.PCMU, 101), 0.0)
    yield media
    media.close()


def frame(value: int) -> bytes:
    """20 ms of mu-law whose decoded samples are all equal (one level per packet)."""
    return bytes([value]) * 160


def audio(stream: RtpStream, now: float = 0.0) -> list[int]:
    """The decoded report as one level per 20 ms (0 for silence put in a lost packet's place)."""
    report = stream.take_report(now)
    pcm = report.pcm16 if report is not None else b""
    frames = [pcm[i : i + 320] for i in range(0, len(pcm), 320)]
    return [int.from_bytes(f[:2], "little", signed=True) for f in frames]


def test_rtp_from_another_address_is_dropped_and_the_first_sdp_packet_latches(stream):
    level = int.from_bytes(g711.decode(frame(0x90), 0)[:2], "little", signed=True)
    assert stream.on_datagram(rtp.build(0, 1, 0, 5, frame(0x90)), ("127.0.0.2", 4000), 0.5) is None
    assert audio(stream) == []  # not the negotiated peer: not heard
    assert stream.last_rx == 0.0  # and it does not keep the call alive
    caller = ("127.0.0.1", 4002)  # the SDP address; the source port is whatever the phone uses
    stream.on_datagram(rtp.build(0, 10, 0, 5, frame(0x90)), caller, 1.0)
    stream.on_datagram(rtp.build(0, 11, 160, 5, frame(0x90)), ("127.0.0.1", 4010), 1.0)  # spoof
    stream.on_datagram(rtp.build(0, 11, 160, 5, frame(0x90)), caller, 1.02)
    assert audio(stream) == [level, level]
    assert stream.foreign == 2 and stream.last_rx == 1.02
    stream.on_datagram(b"junk from the caller's address", ("127.0.0.1", 4020), 1.03)
    stream.on_datagram(rtp.build(0, 12, 320, 5, frame(0x90)), caller, 1.04)
    assert audio(stream) == [level]  # junk moved nothing: the caller is still heard


def test_rtp_stream_reorders_and_fills_a_lost_packet_with_silence(stream):
    caller = ("127.0.0.1", 4002)
    levels = {seq: 0x80 + seq for seq in range(1, 9)}
    for seq in [1, 2, 4, 3, 5, 7, 8]:  # 3 late, 6 lost
        stream.on_datagram(rtp.build(0, seq, 160 * seq, 5, frame(levels[seq])), caller, 0.0)
    got = audio(stream, now=1.0)  # the hold time has passed: 7 and 8 are released
    expected = [
        0
        if seq == 6
        else int.from_bytes(g711.decode(frame(levels[seq]), 0)[:2], "little", signed=True)
        for seq in range(1, 9)
    ]
    assert got == expected  # 8 frames: the recording keeps its length, in order
