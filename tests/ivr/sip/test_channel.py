"""SipChannel over a MediaStream, without sockets' traffic: queueing, reading, ending."""

import socket
import threading
import time

import pytest

from ivr.channel import FRAME_BYTES, CallEnded
from ivr.sip import g711, rtp
from ivr.sip.channel import SipChannel
from ivr.sip.media import MediaStream


@pytest.fixture
def stream():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media = MediaStream(sock, 0)
    media.start(("127.0.0.1", 9), g711.PCMU, 101)
    yield media
    media.close()


def test_play_splits_into_padded_20ms_frames_and_stop_drops_them(stream):
    hung_up = []
    channel = SipChannel("sip-1", "0812345678", stream, hung_up.append)
    channel.play(b"\x01\x00" * 170)  # 340 bytes -> 2 frames, the second padded
    assert channel.playback_pending() == pytest.approx(0.04)
    assert [len(f) for f in stream.outbound] == [FRAME_BYTES, FRAME_BYTES]
    first = rtp.parse(stream.next_packet())
    assert (first.payload_type, len(first.payload)) == (0, 160)
    channel.stop_playback()
    assert channel.playback_pending() == 0
    silence = rtp.parse(stream.next_packet())
    assert silence.sequence == first.sequence + 1
    assert silence.timestamp == first.timestamp + 160
    assert silence.payload == b"\xff" * 160
    channel.hangup()
    assert hung_up == [channel]


def test_audio_and_keys_arrive_decoded_then_end_raises_after_draining(stream):
    channel = SipChannel("sip-1", None, stream, lambda c: None)
    stream.on_datagram(rtp.build(0, 1, 160, 5, b"\x80" * 160))
    for _ in range(3):  # an RFC 2833 event is repeated; one key
        stream.on_datagram(rtp.build(101, 2, 320, 5, bytes([11, 0x80, 0, 160])))
    stream.on_datagram(b"\x00garbage")  # ignored
    stream.on_datagram(b"")
    assert channel.next_dtmf(0.1) == "#"
    assert channel.next_dtmf(0.05) is None
    assert channel.read_audio(0.1) == g711.decode(b"\x80" * 160, 0)
    assert channel.read_audio(0.05) == b""
    stream.on_datagram(rtp.build(8, 3, 480, 5, b"\xd5" * 160))  # PCMA mid-call is decoded too
    assert channel.mark_ended("bye") and not channel.mark_ended("hangup")
    assert channel.read_audio(0.1) == b"\x08\x00" * 160  # what came before the end
    with pytest.raises(CallEnded):
        channel.read_audio(0.1)
    with pytest.raises(CallEnded):
        channel.next_dtmf(0.1)
    assert channel.end_reason == "bye"


def test_a_waiting_reader_wakes_when_the_call_ends(stream):
    channel = SipChannel("sip-1", None, stream, lambda c: None)
    errors = []

    def reader():
        try:
            channel.read_audio(10)
        except CallEnded as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    started = time.monotonic()
    thread.start()
    time.sleep(0.1)
    channel.mark_ended("rtp_timeout")
    thread.join(2)
    assert len(errors) == 1 and time.monotonic() - started < 1
