"""The node <-> media process messages: every codec round-trips, framing survives any split."""

import pytest

from ivr.sip import ipc
from ivr.sip.ipc import FrameReader, IpcError, Kind, StreamReport


def test_frames_reassemble_from_any_split_of_the_stream():
    prompt = bytes(range(256)) * 1000  # a 256 kB prompt in one frame
    stream = (
        ipc.frame(Kind.OPEN, ipc.pack_open(1, 10002))
        + ipc.frame(Kind.PLAY, ipc.pack_play(1, prompt))
        + ipc.frame(Kind.QUIT)
    )
    for size in (1, 3, 5, 4096, len(stream)):
        reader = FrameReader()
        frames = []
        for start in range(0, len(stream), size):
            frames += reader.feed(stream[start : start + size])
        assert [kind for kind, _ in frames] == [Kind.OPEN, Kind.PLAY, Kind.QUIT], size
        assert ipc.unpack_open(frames[0][1]) == (1, 10002)
        assert ipc.unpack_play(frames[1][1]) == (1, prompt)
        assert frames[2][1] == b""
        assert reader.buffered == 0


def test_header_is_length_then_kind_little_endian():
    assert ipc.frame(Kind.CLOSE, ipc.pack_id(258)) == b"\x04\x00\x00\x00\x06\x02\x01\x00\x00"


def test_control_messages_round_trip():
    start = ipc.StartStream(9, ("10.0.0.5", 40000), 8, 101)
    assert ipc.unpack_start(ipc.pack_start(start)) == start
    no_events = ipc.StartStream(9, ("::1", 4000), 0, None)
    assert ipc.unpack_start(ipc.pack_start(no_events)) == no_events
    assert ipc.unpack_remote(ipc.pack_remote(3, ("192.0.2.1", 5004))) == (3, ("192.0.2.1", 5004))
    assert ipc.unpack_dtmf(ipc.pack_dtmf(4, "#")) == (4, "#")
    assert ipc.unpack_stats(ipc.pack_stats(2, b"\x01" * 16)) == (2, b"\x01" * 16)


def test_batch_round_trips_every_stream_and_empty_audio():
    reports = [
        StreamReport(1, 10, 50, b"\x01\x02" * 320),
        StreamReport(2, 0, 0, b""),
        StreamReport(0xFFFFFFFF, 7, 7, b"\x00" * 640),
    ]
    at, back = ipc.unpack_batch(ipc.pack_batch(1234.5, reports))
    assert (at, back) == (1234.5, reports)
    assert ipc.unpack_batch(ipc.pack_batch(1.0, [])) == (1.0, [])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x00\x00\x63", "unknown frame kind 99"),
        (b"\xff\xff\xff\xff\x04", "frame of 4294967295 bytes exceeds"),
    ],
)
def test_broken_frames_are_refused(data, message):
    with pytest.raises(IpcError, match=message):
        FrameReader().feed(data)


def test_broken_payloads_are_refused_with_what_is_wrong():
    batch = ipc.pack_batch(1.0, [StreamReport(1, 0, 0, b"\x00" * 100)])
    with pytest.raises(IpcError, match="BATCH truncated in audio"):
        ipc.unpack_batch(batch[:-1])
    with pytest.raises(IpcError, match="BATCH has 1 trailing bytes"):
        ipc.unpack_batch(batch + b"\x00")
    with pytest.raises(IpcError, match="START payload too short: 3 bytes, expected 8"):
        ipc.unpack_start(b"abc")
    with pytest.raises(IpcError, match="PLAY payload of"):
        ipc.frame(Kind.PLAY, bytes(ipc.MAX_PAYLOAD + 1))
