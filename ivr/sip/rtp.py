"""RTP packets (RFC 3550) and telephone-events (RFC 4733 / 2833) as pure functions."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")
DTMF_EVENTS = "0123456789*#"


class RtpError(ValueError):
    """Bytes that are not a usable RTP packet."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def __bytes__(self) -> bytes:
        return build(
            self.payload_type, self.sequence, self.timestamp, self.ssrc, self.payload, self.marker
        )


def build(
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    marker: bool = False,
) -> bytes:
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    return (
        _HEADER.pack(0x80, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)
        + payload
    )


def parse(data: bytes) -> RtpPacket:
    if len(data) < _HEADER.size:
        raise RtpError(f"RTP packet too short: {len(data)} bytes")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise RtpError(f"RTP version {first >> 6} not supported")
    offset = _HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise RtpError("RTP header extension truncated")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: last byte says how many bytes to drop
        end -= data[-1]
    if offset > end:
        raise RtpError("RTP header longer than the packet")
    return RtpPacket(
        second & 0x7F, sequence, timestamp, ssrc, data[offset:end], bool(second & 0x80)
    )


@dataclass(frozen=True)
class TelephoneEvent:
    key: str | None  # '0'-'9', '*', '#', or None for events that are not DTMF keys (A-D, flash)
    end: bool
    volume: int
    duration: int


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise RtpError(f"telephone-event payload too short: {len(payload)} bytes")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    key = DTMF_EVENTS[event] if event < len(DTMF_EVENTS) else None
    return TelephoneEvent(key, bool(flags & 0x80), flags & 0x3F, duration)
