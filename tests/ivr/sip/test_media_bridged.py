"""The media loop's bridged streams: their own epoll, looked at first and every SLICE streams.

A real ``MediaLoop`` over real loopback sockets (no process): 103 streams, two of them bridged,
the others' peers sending too, as in the queue benchmark where a relayed packet waited for the
pacer's and the drain's work on every other stream (p99 11-12 ms at 400 streams).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from ivr.sip import g711, ipc, media, relay, rtp
from ivr.sip.ipc import Kind

STREAMS = 103  # more than ten slices


class Loop:
    def __init__(self) -> None:
        self.control, self.other = socket.socketpair()
        self.loop = media.MediaLoop(self.control, 30.0, os.getpid())
        self.peers: dict[int, socket.socket] = {}
        for stream_id in range(1, STREAMS + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            peer.bind(("127.0.0.1", 0))
            peer.settimeout(0.5)
            self.peers[stream_id] = peer
            stream = media.RtpStream(stream_id, sock, sock.getsockname()[1], 0.0)
            stream.start(ipc.StartStream(stream_id, peer.getsockname(), g711.PCMU, 101), 0.0)
            self.loop.streams[stream_id] = stream
            self.loop._place([stream])

    def send(self, stream_id: int, sequence: int = 7) -> None:
        audio = g711.encode(b"\x10\x00" * 160, g711.PCMU)
        port = self.loop.streams[stream_id].port
        packet = rtp.build(0, sequence, 160 * sequence, 0xABC0 + stream_id, audio)
        self.peers[stream_id].sendto(packet, ("127.0.0.1", port))

    def close(self) -> None:
        for stream in self.loop.streams.values():
            stream.sock.close()
        for peer in self.peers.values():
            peer.close()
        self.control.close()
        self.other.close()


@pytest.fixture
def bridged() -> Iterator[Loop]:
    loop = Loop()
    try:
        # streams 52 and 53: in the middle of the dict, where a whole pass reached them late
        loop.loop._on_message(Kind.BRIDGE, relay.pack_bridge(52, 53))
        yield loop
    finally:
        loop.close()


def _record_handling(loop: media.MediaLoop, order: list[int]) -> None:
    """Each stream notes, in ``order``, when the loop takes in one of its packets."""
    for stream in loop.streams.values():
        original = stream.on_datagram

        def noted(data, source, now, _id=stream.stream_id, _original=original):  # type: ignore[no-untyped-def]
            order.append(_id)
            return _original(data, source, now)

        stream.on_datagram = noted  # type: ignore[method-assign]


def test_a_bridge_moves_both_sockets_to_the_bridged_epoll_and_an_unbridge_back(
    bridged: Loop,
) -> None:
    loop = bridged.loop
    a, b = loop.streams[52], loop.streams[53]
    assert set(loop._bridged.get_map()) == {a.sock.fileno(), b.sock.fileno()}
    assert a.sock.fileno() not in loop._selector.get_map()
    loop._on_message(Kind.UNBRIDGE, relay.pack_bridge(52, 0))
    assert not loop._bridged.get_map()
    assert {a.sock.fileno(), b.sock.fileno()} <= set(loop._selector.get_map())
    loop._on_message(Kind.BRIDGE, relay.pack_bridge(52, 53))
    loop._close(53)  # a leg hangs up: its partner's socket goes back to the main epoll
    assert not loop._bridged.get_map() and a.sock.fileno() in loop._selector.get_map()


def test_on_a_wake_up_the_bridged_packet_is_relayed_before_the_others_are_taken_in(
    bridged: Loop,
) -> None:
    order: list[int] = []
    _record_handling(bridged.loop, order)
    for stream_id in bridged.peers:
        if stream_id not in (52, 53):
            bridged.send(stream_id)
    bridged.send(52)
    time.sleep(0.05)  # every packet in its socket
    bridged.loop.streams[53].relay.last_out = time.monotonic()  # type: ignore[union-attr]
    bridged.loop._wake(0.5)
    assert order[0] == 52 and len(order) == STREAMS - 1
    relayed = rtp.parse(bridged.peers[53].recv(2048))
    assert relayed.payload == g711.encode(b"\x10\x00" * 160, g711.PCMU)


def test_a_bridged_packet_arriving_during_a_tick_waits_for_at_most_a_slice_of_streams(
    bridged: Loop,
) -> None:
    """The pacer's pass over the streams looks at the bridged epoll every SLICE streams: the
    packet, in its socket as the tick starts, is relayed before SLICE streams have been paced."""
    loop = bridged.loop
    paced: list[int] = []
    for stream in loop.streams.values():
        original = stream.next_packet

        def noted(_id=stream.stream_id, _original=original):  # type: ignore[no-untyped-def]
            paced.append(_id)
            return _original()

        stream.next_packet = noted  # type: ignore[method-assign]
    relayed_after: list[int] = []
    a = loop.streams[52]
    original_forward = relay.forward

    def forward(source, data):  # type: ignore[no-untyped-def]
        relayed_after.append(len(paced))
        original_forward(source, data)

    bridged.send(52)
    time.sleep(0.05)
    loop.streams[53].relay.last_out = time.monotonic()  # type: ignore[union-attr]
    try:
        relay.forward = forward  # type: ignore[assignment]
        loop._tick(time.monotonic())
    finally:
        relay.forward = original_forward  # type: ignore[assignment]
    assert a.relay is not None and relayed_after and relayed_after[0] <= media.SLICE <= 10
    assert len(paced) == STREAMS
    assert rtp.parse(bridged.peers[53].recv(2048)).payload_type == g711.PCMU
