"""The B2BUA bridge inside the media process: RTP of one leg relayed to the other and back.

A bridged stream's inbound packets (already checked by ``RtpStream.on_datagram``: the latched
peer, real RTP) are queued on the partner stream as payloads; the partner's 20 ms pacer sends
them with its own SSRC, sequence and timestamp (``next_packet``), PCMU<->PCMA transcoded when the
legs' codecs differ, RFC 4733 events passed through with the partner's event payload type (one
output timestamp per input event). The queue is bounded (``MAX_QUEUED`` frames); a sender
whose clock runs fast, or a burst after a stall, leaves a standing backlog: when the queue has
not fallen below 3 frames for ``DRAIN_TICKS`` (500 ms) one frame is dropped, until the backlog
is gone, instead of keeping the delay for the rest of the call (jitter alone never drops: the
queue then runs down to 2 or less within the window). Inbound audio is still decoded and reported
to the node as before (recording, ASR).
Mute: this leg's audio is not relayed (the other hears silence). Hold: neither direction is
relayed and the held leg hears the node's playback again (hold music), while the SIP side sends
its re-INVITE. Sending starts
once ``PRIME`` frames are queued (and again after the queue ran dry): a packet that arrives just
after the pacer's tick is not turned into a gap of silence and a late frame.
"""

from __future__ import annotations

import collections
import logging
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivr.sip import g711, rtp
from ivr.sip.ipc import Kind

if TYPE_CHECKING:
    from ivr.sip.media import RtpStream

log = logging.getLogger(__name__)

MAX_QUEUED = 10  # frames (200 ms) waiting on the partner's pacer at most (after a stall)
PRIME = 2  # frames queued before sending starts (again, after running dry): absorbs jitter
DRAIN_TICKS = 25  # a queue that never fell below 3 frames for this long (0.5 s) loses one frame
_PAIR = struct.Struct("<II")
_FLAGS = struct.Struct("<IBB")


# ---------------------------------------------------------------------------- IPC payloads
def pack_bridge(a: int, b: int) -> bytes:
    return _PAIR.pack(a, b)


def pack_flags(stream_id: int, muted: bool, held: bool) -> bytes:
    return _FLAGS.pack(stream_id, int(muted), int(held))


@dataclass
class Relay:
    """One bridged stream's side: its partner and what the partner sends it."""

    partner: RtpStream
    muted: bool = False  # this leg's audio is not relayed to the partner
    held: bool = False  # nothing relayed either way; this leg hears the node's playback
    queue: collections.deque[tuple[int, bytes, int, bool]] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_QUEUED)
    )  # (payload type as received, payload, its RTP timestamp, marker)
    event_in: int | None = None  # input timestamp of the event being passed through
    event_out: int = 0  # our timestamp for it
    relayed: int = 0
    dropped: int = 0
    primed: bool = False
    window_ticks: int = 0
    window_min: int = MAX_QUEUED


def forward(source: RtpStream, data: bytes) -> None:
    """A packet ``source`` accepted from its peer: queue it on the partner (unless muted)."""
    relay = source.relay
    if relay is None or relay.muted or relay.held:
        return
    partner = relay.partner.relay
    if partner is None or partner.held:
        return
    if data[0] == 0x80 and len(data) > 12:
        payload_type, payload = data[1] & 0x7F, data[12:]
        timestamp = int.from_bytes(data[4:8], "big")
        marker = bool(data[1] & 0x80)
    else:
        try:
            packet = rtp.parse(data)
        except rtp.RtpError:
            return
        payload_type, payload = packet.payload_type, packet.payload
        timestamp, marker = packet.timestamp, packet.marker
    if payload_type == source.event_payload_type and payload_type not in (g711.PCMU, g711.PCMA):
        if relay.partner.event_payload_type is None:
            return  # the other leg takes no RFC 4733 events (its keys are in the node's log)
    elif payload_type not in (g711.PCMU, g711.PCMA):
        return
    if len(partner.queue) == MAX_QUEUED:
        partner.dropped += 1
    partner.queue.append((payload_type, payload, timestamp, marker))


def next_packet(stream: RtpStream) -> bytes:
    """The bridged stream's next 20 ms packet: relayed audio or event, else silence."""
    relay = stream.relay
    assert relay is not None
    queue = relay.queue
    if not queue:
        relay.primed = False
    elif len(queue) >= PRIME:
        relay.primed = True
    relay.window_min = min(relay.window_min, len(queue))
    relay.window_ticks += 1
    if relay.window_ticks >= DRAIN_TICKS:
        if relay.window_min > PRIME and queue:
            queue.popleft()  # a standing backlog: one frame less delay
            relay.dropped += 1
        relay.window_ticks, relay.window_min = 0, MAX_QUEUED
    item = queue.popleft() if relay.primed and queue else None
    sequence, timestamp, ssrc = stream._sequence, stream._timestamp, stream._ssrc
    samples = len(stream._silence)
    if item is None:
        packet = rtp.build(stream.payload_type, sequence, timestamp, ssrc, stream._silence)
    else:
        payload_type, payload, in_timestamp, marker = item
        if payload_type in (g711.PCMU, g711.PCMA):
            if payload_type != stream.payload_type:
                payload = g711.encode(g711.decode(payload, payload_type), stream.payload_type)
            samples = len(payload)
            packet = rtp.build(stream.payload_type, sequence, timestamp, ssrc, payload, marker)
        else:
            if in_timestamp != relay.event_in:  # a new event: it keeps one timestamp throughout
                relay.event_in, relay.event_out = in_timestamp, timestamp
            event_pt = stream.event_payload_type
            assert event_pt is not None
            packet = rtp.build(event_pt, sequence, relay.event_out, ssrc, payload, marker)
        relay.relayed += 1
    stream._sequence = (sequence + 1) & 0xFFFF
    stream._timestamp = (timestamp + samples) & 0xFFFFFFFF
    return packet


# ---------------------------------------------------------------------------- control
def bridge(a: RtpStream, b: RtpStream) -> None:
    unbridge(a)
    unbridge(b)
    a.stop_playback()
    b.stop_playback()
    a.relay, b.relay = Relay(b), Relay(a)


def unbridge(stream: RtpStream) -> None:
    relay = stream.relay
    if relay is None:
        return
    stream.relay = None
    if relay.partner.relay is not None and relay.partner.relay.partner is stream:
        relay.partner.relay = None


def on_message(streams: dict[int, RtpStream], kind: Kind, payload: bytes) -> bool:
    """Handle BRIDGE / UNBRIDGE / RELAY_FLAGS; False for any other kind."""
    if kind is Kind.BRIDGE:
        a_id, b_id = _PAIR.unpack_from(payload)
        a, b = streams.get(a_id), streams.get(b_id)
        if a is None or b is None or a is b:
            log.warning("media process: BRIDGE of unknown streams %d, %d", a_id, b_id)
        else:
            bridge(a, b)
    elif kind is Kind.UNBRIDGE:
        stream = streams.get(_PAIR.unpack_from(payload.ljust(8, b"\0"))[0])
        if stream is not None:
            unbridge(stream)
    elif kind is Kind.RELAY_FLAGS:
        stream_id, muted, held = _FLAGS.unpack_from(payload)
        stream = streams.get(stream_id)
        if stream is not None and stream.relay is not None:
            stream.relay.muted, stream.relay.held = bool(muted), bool(held)
            if held:
                stream.relay.queue.clear()
    else:
        return False
    return True
