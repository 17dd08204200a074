"""The framed messages between an IVR node and its media process, as pure functions.

One Unix stream socket carries everything: a frame is a 5-byte header (payload length, kind)
and the payload. Bulk travels in few frames — a whole prompt's PCM in one PLAY, every call's
caller audio of the last 40 ms in one BATCH — so the per-message cost stays off the 20 ms path.
An OPEN frame travels with the stream's RTP socket as SCM_RIGHTS ancillary data: the node binds
the port (it must write it in the SDP before answering) and the media process owns it from then.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

_HEADER = struct.Struct("<IB")
HEADER_SIZE = _HEADER.size
MAX_PAYLOAD = 64 << 20  # a 30-minute prompt is 29 MB; more is a bug, not audio
NO_EVENT_PT = 255


class IpcError(ValueError):
    """Bytes that are not a well-formed media message."""


class Kind(IntEnum):
    # node -> media
    OPEN = 1  # stream id, port (+ the socket as SCM_RIGHTS)
    START = 2  # stream id, remote address, payload type, telephone-event payload type
    REMOTE = 3  # stream id, new remote address (re-INVITE)
    PLAY = 4  # stream id + 16-bit PCM to queue
    STOP_PLAYBACK = 5  # stream id
    CLOSE = 6  # stream id
    STATS = 7  # ask for the send-interval histogram (and reset it)
    QUIT = 8
    BRIDGE = 9  # two stream ids: relay RTP between them (ivr.sip.relay)
    UNBRIDGE = 10  # stream id: back to separate legs
    RELAY_FLAGS = 11  # stream id, muted, held
    TAP = 12  # listener, a, b stream ids: the listener hears a + b mixed (ivr.sip.relay)
    # media -> node
    BATCH = 20  # caller audio and playback watermarks of every active stream
    DTMF = 21  # stream id, key
    TIMEOUT = 22  # stream id: no caller RTP for the timeout
    STATS_REPLY = 23  # late ticks + histogram (int64 little-endian)


def frame(kind: Kind, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise IpcError(f"{kind.name} payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return _HEADER.pack(len(payload), kind) + payload


class FrameReader:
    """Reassembles frames from stream reads of any size."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[Kind, bytes]]:
        buffer = self._buffer
        buffer += data
        frames: list[tuple[Kind, bytes]] = []
        offset = 0
        while len(buffer) - offset >= HEADER_SIZE:
            length, kind = _HEADER.unpack_from(buffer, offset)
            if length > MAX_PAYLOAD:
                raise IpcError(f"frame of {length} bytes exceeds {MAX_PAYLOAD}")
            try:
                known = Kind(kind)
            except ValueError:
                raise IpcError(f"unknown frame kind {kind}") from None
            end = offset + HEADER_SIZE + length
            if end > len(buffer):
                break
            frames.append((known, bytes(buffer[offset + HEADER_SIZE : end])))
            offset = end
        if offset:
            del buffer[:offset]
        return frames


# ---------------------------------------------------------------------------- node -> media
_ID = struct.Struct("<I")
_OPEN = struct.Struct("<IH")
_START = struct.Struct("<IHBB")
_REMOTE = struct.Struct("<IH")


def pack_id(stream_id: int) -> bytes:
    return _ID.pack(stream_id)


def unpack_id(payload: bytes) -> int:
    _check(payload, _ID.size, "stream id")
    return int(_ID.unpack_from(payload)[0])


def pack_open(stream_id: int, port: int) -> bytes:
    return _OPEN.pack(stream_id, port)


def unpack_open(payload: bytes) -> tuple[int, int]:
    _check(payload, _OPEN.size, "OPEN")
    stream_id, port = _OPEN.unpack_from(payload)
    return int(stream_id), int(port)


@dataclass(frozen=True)
class StartStream:
    stream_id: int
    remote: tuple[str, int]
    payload_type: int
    event_payload_type: int | None


def pack_start(start: StartStream) -> bytes:
    event_pt = NO_EVENT_PT if start.event_payload_type is None else start.event_payload_type
    head = _START.pack(start.stream_id, start.remote[1], start.payload_type, event_pt)
    return head + start.remote[0].encode()


def unpack_start(payload: bytes) -> StartStream:
    _check(payload, _START.size, "START")
    stream_id, port, payload_type, event_pt = _START.unpack_from(payload)
    host = payload[_START.size :].decode()
    return StartStream(
        stream_id, (host, port), payload_type, None if event_pt == NO_EVENT_PT else event_pt
    )


def pack_remote(stream_id: int, remote: tuple[str, int]) -> bytes:
    return _REMOTE.pack(stream_id, remote[1]) + remote[0].encode()


def unpack_remote(payload: bytes) -> tuple[int, tuple[str, int]]:
    _check(payload, _REMOTE.size, "REMOTE")
    stream_id, port = _REMOTE.unpack_from(payload)
    return int(stream_id), (payload[_REMOTE.size :].decode(), int(port))


def pack_play(stream_id: int, pcm16: bytes) -> bytes:
    return _ID.pack(stream_id) + pcm16


def unpack_play(payload: bytes) -> tuple[int, bytes]:
    return unpack_id(payload), payload[_ID.size :]


# ---------------------------------------------------------------------------- media -> node
_BATCH_HEAD = struct.Struct("<dI")
_BATCH_ENTRY = struct.Struct("<IIII")
_DTMF = struct.Struct("<Ic")
_STATS_HEAD = struct.Struct("<I")


@dataclass(frozen=True)
class StreamReport:
    """One stream in a BATCH: caller audio since the last batch and the playback watermark.

    ``played`` and ``queued`` count 20 ms frames since the stream opened: every frame the
    node asked to play is queued, and is played once sent or dropped by a stop.
    """

    stream_id: int
    played: int
    queued: int
    pcm16: bytes


def pack_batch(at: float, reports: list[StreamReport]) -> bytes:
    parts = [_BATCH_HEAD.pack(at, len(reports))]
    for report in reports:
        parts.append(
            _BATCH_ENTRY.pack(report.stream_id, report.played, report.queued, len(report.pcm16))
        )
        parts.append(report.pcm16)
    return b"".join(parts)


def unpack_batch(payload: bytes) -> tuple[float, list[StreamReport]]:
    _check(payload, _BATCH_HEAD.size, "BATCH")
    at, count = _BATCH_HEAD.unpack_from(payload)
    offset = _BATCH_HEAD.size
    reports = []
    for _ in range(count):
        if len(payload) - offset < _BATCH_ENTRY.size:
            raise IpcError("BATCH truncated in an entry header")
        stream_id, played, queued, length = _BATCH_ENTRY.unpack_from(payload, offset)
        offset += _BATCH_ENTRY.size
        if len(payload) - offset < length:
            raise IpcError("BATCH truncated in audio")
        reports.append(StreamReport(stream_id, played, queued, payload[offset : offset + length]))
        offset += length
    if offset != len(payload):
        raise IpcError(f"BATCH has {len(payload) - offset} trailing bytes")
    return float(at), reports


def pack_dtmf(stream_id: int, key: str) -> bytes:
    return _DTMF.pack(stream_id, key.encode())


def unpack_dtmf(payload: bytes) -> tuple[int, str]:
    _check(payload, _DTMF.size, "DTMF")
    stream_id, key = _DTMF.unpack_from(payload)
    return int(stream_id), key.decode()


def pack_stats(late_ticks: int, histogram: bytes) -> bytes:
    return _STATS_HEAD.pack(late_ticks) + histogram


def unpack_stats(payload: bytes) -> tuple[int, bytes]:
    _check(payload, _STATS_HEAD.size, "STATS_REPLY")
    return int(_STATS_HEAD.unpack_from(payload)[0]), payload[_STATS_HEAD.size :]


def _check(payload: bytes, size: int, what: str) -> None:
    if len(payload) < size:
        raise IpcError(f"{what} payload too short: {len(payload)} bytes, expected {size}")
