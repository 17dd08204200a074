"""SipChannel over a MediaHandle with a recording fake client, and the media process's RtpStream,
without sockets' traffic: queueing, watermarks, reading, ending."""

import socket
import threading
import time

import pytest

from ivr.channel import CallEnded
from ivr.sip import g711, ipc, rtp
from ivr.sip.call_leg import SipChannel
from ivr.sip.ipc import Kind
from ivr.sip.media import RtpStream
from ivr.sip.media_client import MediaHandle


class RecordingClient:
    """Stands in for MediaClient: keeps what the handle would send to the media process."""

    def __init__(self) -> None:
        self.sent: list[tuple[Kind, bytes]] = []

    def send(self, kind, payload=b"", *, fd=None, under_lock=None):
        if under_lock is not None:
            under_lock()
        self.sent.append((kind, payload))


PEER = ("127.0.0.1", 9)  # the SDP address of the stream fixture


@pytest.fixture
def handle():
    return MediaHandle(RecordingClient(), 7, 10000)  # type: ignore[arg-type]


@pytest.fixture
def stream():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media = RtpStream(7, sock, 0, time.monotonic())
    media.start(ipc.StartStream(7, ("127.0.0.1", 9), g711.PCMU, 101), time.monotonic())
    yield media
    media.close()


def test_play_sends_the_whole_prompt_once_and_stop_drops_it(handle):
    hung_up = []
    channel = SipChannel("sip-1", "0812345678", handle, hung_up.append)
    channel.play(b"\x01\x00" * 170)  # 340 bytes -> 2 frames, the second padded
    assert channel.playback_pending() == pytest.approx(0.04)
    assert handle.client.sent == [(Kind.PLAY, ipc.pack_play(7, b"\x01\x00" * 170))]
    channel.stop_playback()
    assert channel.playback_pending() == 0
    assert handle.client.sent[-1] == (Kind.STOP_PLAYBACK, ipc.pack_id(7))
    channel.play(b"\x00" * 3200)  # a new prompt after the stop counts from zero
    assert channel.playback_pending() == pytest.approx(0.2)
    channel.hangup()
    assert hung_up == [channel]


def test_pending_follows_the_media_watermark_between_reports(handle):
    handle.queue_pcm(b"\x00" * 320 * 50)  # 1 s
    now = time.monotonic()
    handle.on_report(now, ipc.StreamReport(7, played=10, queued=50, pcm16=b""))
    assert handle.playback_pending() == pytest.approx(0.8, abs=0.021)
    handle.on_report(now - 0.1, ipc.StreamReport(7, played=10, queued=50, pcm16=b""))
    assert handle.playback_pending() == pytest.approx(0.7, abs=0.021)  # 5 ticks since
    handle.on_report(now - 5, ipc.StreamReport(7, played=10, queued=50, pcm16=b""))
    assert handle.playback_pending() == 0  # never past what the media had queued
    handle.queue_pcm(b"\x00" * 320)  # in flight: the media has not seen it yet
    assert handle.playback_pending() == pytest.approx(0.02)


def test_rtp_stream_sends_padded_frames_then_silence_in_sequence(stream):
    stream.queue_pcm(b"\x01\x00" * 170)
    assert (stream.queued, stream.played) == (2, 0)
    first = rtp.parse(stream.next_packet())
    assert (first.payload_type, len(first.payload)) == (0, 160)
    assert first.payload == g711.encode(b"\x01\x00" * 160, 0)
    second = rtp.parse(stream.next_packet())
    assert second.payload[:10] == g711.encode(b"\x01\x00" * 10, 0)
    assert second.payload[10:] == b"\xff" * 150  # zero padding is mu-law 0xff
    stream.queue_pcm(b"\x01\x00" * 800)
    stream.stop_playback()
    assert stream.played == stream.queued == 7
    silence = rtp.parse(stream.next_packet())
    assert silence.sequence == (first.sequence + 2) & 0xFFFF
    assert silence.timestamp == (first.timestamp + 320) & 0xFFFFFFFF
    assert silence.payload == b"\xff" * 160
    report = stream.take_report()
    assert (report.played, report.queued, report.pcm16) == (7, 7, b"")
    assert stream.take_report() is None  # nothing new: nothing to send to the node


def test_play_before_start_is_encoded_with_the_answered_codec():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        stream = RtpStream(1, sock, 0, 0.0)
        stream.queue_pcm(b"\x00\x10" * 160)
        assert stream.next_packet() is None  # no remote yet: nothing to send
        stream.start(ipc.StartStream(1, ("127.0.0.1", 9), g711.PCMA, None), 0.0)
        packet = rtp.parse(stream.next_packet())
        assert (packet.payload_type, packet.payload) == (8, g711.encode(b"\x00\x10" * 160, 8))


def test_rtp_stream_decodes_audio_per_batch_and_reports_each_key_once(stream):
    now = time.monotonic()
    assert stream.on_datagram(rtp.build(0, 1, 160, 5, b"\x80" * 160), PEER, now) is None
    keys = [stream.on_datagram(rtp.build(101, 2, 320, 5, bytes([11, 0x80, 0, 160])), PEER, now)]
    keys += [stream.on_datagram(rtp.build(101, 3, 320, 5, bytes([11, 0x80, 0, 160])), PEER, now)]
    assert keys == ["#", None]  # an RFC 2833 event is repeated; one key
    assert stream.on_datagram(b"\x00garbage", PEER, now) is None
    assert stream.on_datagram(b"", PEER, now) is None
    stream.on_datagram(
        rtp.build(8, 4, 480, 5, b"\xd5" * 160), PEER, now
    )  # PCMA mid-call: decoded too
    report = stream.take_report()
    assert report.pcm16 == g711.decode(b"\x80" * 160, 0) + b"\x08\x00" * 160


def test_audio_and_keys_arrive_then_end_raises_after_draining(handle):
    channel = SipChannel("sip-1", None, handle, lambda c: None)
    handle.on_report(time.monotonic(), ipc.StreamReport(7, 0, 0, b"\x01\x00" * 320))
    handle.dtmf.append("#")
    assert channel.next_dtmf(0.1) == "#"
    assert channel.next_dtmf(0.05) is None
    assert channel.read_audio(0.1) == b"\x01\x00" * 320
    assert channel.read_audio(0.05) == b""
    handle.on_report(time.monotonic(), ipc.StreamReport(7, 0, 0, b"\x08\x00" * 160))
    assert channel.mark_ended("bye") and not channel.mark_ended("hangup")
    assert channel.read_audio(0.1) == b"\x08\x00" * 160  # what came before the end
    with pytest.raises(CallEnded):
        channel.read_audio(0.1)
    with pytest.raises(CallEnded):
        channel.next_dtmf(0.1)
    assert channel.end_reason == "bye"


def test_a_waiting_reader_wakes_when_the_call_ends(handle):
    channel = SipChannel("sip-1", None, handle, lambda c: None)
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
