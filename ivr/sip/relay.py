"""The B2BUA bridge inside the media process: RTP of one leg relayed to the other and back.

Cut-through, as rtpengine and every B2BUA media relay do it: a bridged stream's inbound packet
(already checked by ``RtpStream.on_datagram``: the latched peer, real RTP) is re-stamped at once
with the partner's own SSRC, sequence and timestamp (the source's timestamp plus an offset, so
its spacing and gaps pass through) and sent on the partner's socket in the same loop turn: the
relay adds no pacing and no buffer, only the time to rewrite a header (and to transcode
PCMU<->PCMA when the legs' codecs differ). RFC 4733 events pass through with the partner's event
payload type (one output timestamp per input event). The source's jitter reaches the other
phone unchanged, to be absorbed by that phone's own jitter buffer, as with any SIP proxy path.
When nothing has been relayed for ``KEEPALIVE`` seconds (a muted leg, a phone that sends no
RTP during silence) the partner's pacer sends silence so its phone's RTP timer never fires.
Inbound audio is still decoded and reported to the node as before (recording, ASR).
Mute: this leg's audio is not relayed (the other hears silence). Hold: neither direction is
relayed and the held leg hears the node's playback again (hold music), while the SIP side sends
its re-INVITE.

Tap (a supervisor's listen-in, issue 13): a third stream, the listener, gets the sum of both
legs' relayed audio, clipped to 16 bits, one mixed frame per pacer tick (a leg with nothing
pending adds silence; a backlog beyond ``TAP_BACKLOG`` frames drops its oldest). Listen only:
nothing the listener's phone sends is relayed or mixed. A muted leg is not heard by the listener
either (the listener hears the conversation as the parties hear it).
"""

from __future__ import annotations

import array
import logging
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivr.sip import g711, rtp
from ivr.sip.ipc import Kind

if TYPE_CHECKING:
    from ivr.sip.media import RtpStream

log = logging.getLogger(__name__)

KEEPALIVE = 0.06  # s without a relayed packet before the pacer sends silence to the partner
MASK = 0xFFFFFFFF
_PAIR = struct.Struct("<II")
_FLAGS = struct.Struct("<IBB")
_TRIPLE = struct.Struct("<III")
TAP_BACKLOG = 10  # frames (200 ms) a tap buffers per leg before dropping the oldest
FRAME_SAMPLES = 160


# ---------------------------------------------------------------------------- IPC payloads
def pack_bridge(a: int, b: int) -> bytes:
    return _PAIR.pack(a, b)


def pack_flags(stream_id: int, muted: bool, held: bool) -> bytes:
    return _FLAGS.pack(stream_id, int(muted), int(held))


def pack_tap(listener: int, a: int, b: int) -> bytes:
    return _TRIPLE.pack(listener, a, b)


@dataclass
class Mixer:
    """A listener's mix of two legs: each leg's pending frames, summed one per pacer tick."""

    sources: tuple[RtpStream, RtpStream]
    pending: tuple[deque[bytes], deque[bytes]] = field(
        default_factory=lambda: (deque(maxlen=TAP_BACKLOG), deque(maxlen=TAP_BACKLOG))
    )
    mixed: int = 0

    def push(self, source: RtpStream, pcm16: bytes) -> None:
        for stream, queue in zip(self.sources, self.pending, strict=True):
            if stream is source:
                queue.append(pcm16)

    def pop(self) -> bytes:
        """The next 20 ms of the mix (16-bit PCM); silence when neither leg sent."""
        frames = [q.popleft() if q else b"" for q in self.pending]
        self.mixed += 1
        return mix(frames[0], frames[1])


def mix(left: bytes, right: bytes) -> bytes:
    """Two 16-bit PCM frames summed and clipped; a short (or empty) one is padded with silence."""
    size = max(len(left), len(right), FRAME_SAMPLES * 2)
    a = array.array("h", left.ljust(size, b"\0"))
    b = array.array("h", right.ljust(size, b"\0"))
    out = array.array("h", (max(-32768, min(32767, x + y)) for x, y in zip(a, b, strict=True)))
    return out.tobytes()


@dataclass
class Relay:
    """One bridged stream's side: its partner and how its outbound packets are stamped."""

    partner: RtpStream
    muted: bool = False  # this leg's audio is not relayed to the partner
    held: bool = False  # nothing relayed either way; this leg hears the node's playback
    event_in: int | None = None  # input timestamp of the event being passed through
    event_out: int = 0  # our timestamp for it
    ts_offset: int | None = None  # our timestamp - the source's, for relayed audio
    last_out: float = 0.0  # when this stream last sent (relayed or keep-alive)
    relayed: int = 0
    dropped: int = 0  # packets not sent (the socket refused them)
    taps: list[Mixer] = field(default_factory=list)  # listeners of this leg's relayed audio
    mixer: Mixer | None = None  # set on a listener's stream: what its pacer sends


def forward(source: RtpStream, data: bytes) -> None:
    """A packet ``source`` accepted from its peer: re-stamped and sent on to the partner now."""
    relay = source.relay
    if relay is None or relay.muted or relay.held:
        return
    target = relay.partner
    out = target.relay
    if out is None or out.held or target.remote is None:
        return
    if relay.taps:
        _feed_taps(source, relay, data)
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
    sequence, ssrc = target._sequence, target._ssrc
    if payload_type in (g711.PCMU, g711.PCMA):
        if payload_type != target.payload_type:
            payload = g711.encode(g711.decode(payload, payload_type), target.payload_type)
        stamp = _audio_timestamp(target, out, timestamp, len(payload))
        built = rtp.build(target.payload_type, sequence, stamp, ssrc, payload, marker)
    elif payload_type == source.event_payload_type and target.event_payload_type is not None:
        if timestamp != out.event_in:  # a new event: it keeps one timestamp throughout
            out.event_in, out.event_out = timestamp, target._timestamp
        built = rtp.build(target.event_payload_type, sequence, out.event_out, ssrc, payload, marker)
    else:
        return  # not audio, or an event the other leg takes no RFC 4733 for (the node logs keys)
    target._sequence = (sequence + 1) & 0xFFFF
    try:
        target.sock.sendto(built, target.remote)
    except OSError as exc:  # ICMP unreachable from a phone gone away, a full buffer
        out.dropped += 1
        log.debug("RTP port %d: relayed send failed: %s", target.port, exc)
        return
    out.relayed += 1
    out.last_out = time.monotonic()


def _feed_taps(source: RtpStream, relay: Relay, data: bytes) -> None:
    try:
        packet = rtp.parse(data)
    except rtp.RtpError:
        return
    if packet.payload_type not in (g711.PCMU, g711.PCMA):
        return
    pcm = g711.decode(packet.payload, packet.payload_type)
    for mixer in relay.taps:
        mixer.push(source, pcm)


def _audio_timestamp(target: RtpStream, out: Relay, source_ts: int, samples: int) -> int:
    """The source's timestamp moved into the target's timeline; never behind what was sent."""
    if out.ts_offset is None:
        out.ts_offset = (target._timestamp - source_ts) & MASK
    stamp = (source_ts + out.ts_offset) & MASK
    if (stamp - target._timestamp) & MASK > 0x7FFFFFFF:  # behind: a keep-alive, a new source
        out.ts_offset = (target._timestamp - source_ts) & MASK
        stamp = target._timestamp
    target._timestamp = (stamp + samples) & MASK
    return stamp


def next_packet(stream: RtpStream) -> bytes | None:
    """The pacer's turn for a bridged stream: nothing while the relay sends, else keep-alive
    silence (a muted or quiet partner) so the phone's RTP timer never fires."""
    relay = stream.relay
    assert relay is not None
    now = time.monotonic()
    payload = stream._silence
    if relay.mixer is not None:  # a listener: the mix, every tick
        payload = g711.encode(relay.mixer.pop(), stream.payload_type)
    elif now - relay.last_out < KEEPALIVE:
        return None
    relay.last_out = now
    sequence, timestamp = stream._sequence, stream._timestamp
    packet = rtp.build(stream.payload_type, sequence, timestamp, stream._ssrc, payload)
    stream._sequence = (sequence + 1) & 0xFFFF
    stream._timestamp = (timestamp + len(payload)) & MASK
    return packet


# ---------------------------------------------------------------------------- control
def bridge(a: RtpStream, b: RtpStream) -> None:
    unbridge(a)
    unbridge(b)
    a.stop_playback()
    b.stop_playback()
    a.relay, b.relay = Relay(b), Relay(a)


def tap(listener: RtpStream, a: RtpStream, b: RtpStream) -> Mixer | None:
    """``listener`` hears a's and b's relayed audio mixed; None unless a and b are bridged."""
    if a.relay is None or a.relay.partner is not b or listener in (a, b):
        return None
    unbridge(listener)
    listener.stop_playback()
    mixer = Mixer((a, b))
    # the listener's own relay: muted (nothing it sends is relayed), paced by its mixer
    listener.relay = Relay(listener, muted=True, mixer=mixer)
    for source in (a, b):
        assert source.relay is not None
        source.relay.taps.append(mixer)
    return mixer


def unbridge(stream: RtpStream) -> None:
    relay = stream.relay
    if relay is None:
        return
    stream.relay = None
    if relay.mixer is not None:  # a listener leaves: its legs stop feeding it
        for source in relay.mixer.sources:
            if source.relay is not None and relay.mixer in source.relay.taps:
                source.relay.taps.remove(relay.mixer)
        return
    if relay.partner.relay is not None and relay.partner.relay.partner is stream:
        relay.partner.relay = None


def on_message(streams: dict[int, RtpStream], kind: Kind, payload: bytes) -> bool:
    """Handle BRIDGE / UNBRIDGE / RELAY_FLAGS / TAP; False for any other kind."""
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
    elif kind is Kind.TAP:
        ids = _TRIPLE.unpack_from(payload)
        found = [streams.get(i) for i in ids]
        if None in found or tap(*found) is None:  # type: ignore[arg-type]
            log.warning("media process: TAP of streams %d, %d, %d refused", *ids)
    elif kind is Kind.RELAY_FLAGS:
        stream_id, muted, held = _FLAGS.unpack_from(payload)
        stream = streams.get(stream_id)
        if stream is not None and stream.relay is not None:
            stream.relay.muted, stream.relay.held = bool(muted), bool(held)
    else:
        return False
    return True
