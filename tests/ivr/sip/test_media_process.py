"""The media process for real: paced audio out, caller audio and keys in, silent callers, and what
the node does when the process dies (calls end 'error', a new process, nothing left behind)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import numpy as np
import pytest

from ivr.channel import CallChannel, CallEnded
from ivr.sip import g711, rtp
from ivr.sip.media_client import MediaClient, MediaUnavailable

from .sipkit import RtpSink, free_even_block, running_node, sipp, tone

pytestmark = pytest.mark.slow


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def ports_free(low: int, high: int) -> bool:
    socks = []
    try:
        for port in range(low, high + 1, 2):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()


def test_media_process_paces_prompts_and_hands_over_audio_keys_and_timeouts():
    base = free_even_block()
    client = MediaClient("127.0.0.1", base, base + 39, name="t-media", rtp_timeout=1.0)
    client.start()
    sink = RtpSink()
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        handle = client.allocate()
        assert base <= handle.port <= base + 39 and client.ports_in_use == 1
        handle.start(sink.address, g711.PCMU, 101)
        handle.queue_pcm(tone(1.0))
        assert handle.playback_pending() == pytest.approx(1.0)
        for seq in range(10):  # 200 ms of caller audio, then the key 5 (sent three times)
            caller.sendto(
                rtp.build(0, seq, seq * 160, 9, b"\x80" * 160), ("127.0.0.1", handle.port)
            )
        for _ in range(3):
            event = rtp.build(101, 10, 1600, 9, bytes([5, 0x80, 0, 160]))
            caller.sendto(event, ("127.0.0.1", handle.port))
        assert wait_for(lambda: sum(map(len, handle.inbound)) >= 3200, 2)
        assert handle.take_inbound() == g711.decode(b"\x80" * 160, 0) * 10
        assert wait_for(lambda: list(handle.dtmf) == ["5"], 2)
        assert wait_for(lambda: handle.playback_pending() == 0, 3)
        assert wait_for(lambda: handle.timed_out, 3)  # 1 s without caller RTP
        stats = client.send_stats()
        assert stats.count > 40 and 19.0 <= stats.percentile_ms(50) <= 21.0
        (ssrc,) = sink.arrivals
        intervals = sink.intervals_ms()
        assert 19.0 < float(np.median(intervals)) < 21.0
        received = np.frombuffer(sink.audio(ssrc)[: 8000 * 2], "<i2")
        assert np.abs(received.astype(int) - np.frombuffer(tone(1.0), "<i2")).max() < 400
        client.release(handle)
        assert client.ports_in_use == 0
    finally:
        pid = client.pid
        client.stop()
        sink.close()
        caller.close()
    assert pid is not None and process_gone(pid)
    assert wait_for(lambda: ports_free(base, base + 39), 2)
    with pytest.raises(MediaUnavailable):
        client.allocate()


def test_caller_rtp_is_heard_only_from_the_sdp_address_in_order_with_a_lost_packet_filled():
    base = free_even_block()
    client = MediaClient("127.0.0.1", base, base + 39, name="t-latch", rtp_timeout=30.0)
    client.start()
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))  # the whole 127/8 is local: another host's address

    def send(sock: socket.socket, seq: int) -> None:
        packet = rtp.build(0, seq, seq * 160, 9, bytes([0x80 + seq]) * 160)
        sock.sendto(packet, ("127.0.0.1", handle.port))

    try:
        handle = client.allocate()
        handle.start(("127.0.0.1", 4000), g711.PCMU, 101)  # the caller's SDP: 127.0.0.1
        send(stranger, 1)  # before the caller, from elsewhere: never heard
        for seq in [1, 2, 4, 3, 5, 7, 8, 9, 10, 11]:  # 3 comes late, 6 is lost
            send(caller, seq)
        send(stranger, 12)
        expected = b"".join(
            b"\x00\x00" * 160 if seq == 6 else g711.decode(bytes([0x80 + seq]) * 160, 0)
            for seq in range(1, 12)
        )
        assert wait_for(lambda: sum(map(len, handle.inbound)) >= len(expected), 3)
        assert handle.take_inbound() == expected  # in order, 20 ms of silence for the lost one
        assert not wait_for(lambda: bool(handle.inbound), 0.3)  # nothing from the stranger
    finally:
        client.stop()
        caller.close()
        stranger.close()


def test_media_process_death_ends_calls_with_error_and_the_node_carries_on():
    reasons: list[str | None] = []
    in_call = threading.Event()

    def on_call(channel: CallChannel) -> None:
        in_call.set()
        try:
            while True:
                channel.read_audio(0.1)
        except CallEnded:
            reasons.append(channel.end_reason)

    with running_node(on_call) as node:
        port = node.node.settings.sip_port
        first_pid = node.node.media.pid
        assert first_pid is not None
        caller = sipp("uac_wait_bye.xml", ("127.0.0.1", port), background=True, timeout=30)
        assert in_call.wait(10)
        os.kill(first_pid, signal.SIGKILL)
        caller.communicate(timeout=30)  # type: ignore[union-attr]
        assert caller.returncode == 0  # type: ignore[union-attr]  (it got our BYE)
        node.wait_idle()
        assert reasons == ["error"]
        assert process_gone(first_pid)
        assert wait_for(lambda: node.node.media.pid not in (None, first_pid), 5)
        assert node.node.media.restarts == 1
        again = sipp("uac.xml", ("127.0.0.1", port), hold_ms=300)
        assert again.returncode == 0, again.output + again.errors
        node.wait_idle()
        assert reasons == ["error", "bye"]
        second_pid = node.node.media.pid
        rtp_range = node.node.options.rtp_low, node.node.options.rtp_high
    assert second_pid is not None and process_gone(second_pid)
    assert ports_free(*rtp_range)


def test_media_process_exits_when_the_node_socket_closes():
    base = free_even_block()
    client = MediaClient("127.0.0.1", base, base + 39, name="t-eof")
    client.start()
    process = client._process
    assert process is not None
    try:
        client.allocate()
        client._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]  (as if the node died)
        # The client's reader notices first and reaps the child (Process.join from two threads
        # races on waitpid: the loser sees no exit code), so wait for it, then join.
        assert wait_for(lambda: client.lost.is_set(), 5)
        process.join(5)
        assert process.exitcode == 0
    finally:
        client.stop()
    assert ports_free(base, base + 39)
