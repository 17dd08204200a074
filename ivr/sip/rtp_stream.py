"""One call's RTP socket in the media process: its paced output and the caller's audio heard.

The pacer (``ivr.sip.media.MediaLoop``) asks each stream for its next 20 ms packet; what arrives
is latched to the SDP's peer, put back in order with lost packets filled (``reorder``), RFC 2833
keys found, and decoded for the node per report; a bridged stream relays at once (``relay``).
"""

from __future__ import annotations

import collections
import logging
import random
import socket

from ivr.channel import FRAME_BYTES, FRAME_MS, SAMPLE_RATE
from ivr.sip import g711, ipc, relay, rtp
from ivr.sip.reorder import Reorder

log = logging.getLogger(__name__)

SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000


class RtpStream:
    """One call's RTP socket, queued encoded audio and caller audio not yet handed over."""

    def __init__(self, stream_id: int, sock: socket.socket, port: int, now: float) -> None:
        self.stream_id = stream_id
        self.sock = sock
        self.port = port
        self.remote: tuple[str, int] | None = None
        self.payload_type = g711.PCMU
        self.event_payload_type: int | None = None
        self.last_rx = now
        self.timed_out = False
        self.last_sent: float | None = None
        self.queued = 0  # frames the node asked to play (cumulative)
        self.played = 0  # frames sent or dropped by a stop (cumulative)
        self._reported = (0, 0)
        self._out: collections.deque[bytes] = collections.deque()  # encoded, 160-byte multiples
        self._out_offset = 0
        self._unencoded: list[bytes] = []  # PLAY before START: encoded once the codec is known
        self._raw: list[bytes] = []  # G.711 payloads of one payload type, decoded per batch
        self._raw_pt = g711.PCMU
        self._pcm: list[bytes] = []
        self._seen_events: collections.deque[tuple[int, int]] = collections.deque(maxlen=16)
        self._sequence = random.randrange(1 << 16)
        self._timestamp = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)
        self._silence = g711.silence(g711.PCMU, SAMPLES_PER_FRAME)
        self._peer: tuple[str, int] | None = None  # the caller's RTP source, once latched
        self._in_ssrc: int | None = None
        self._in_ssrc_bytes = b""
        self._reorder: Reorder[tuple[int, bytes]] = Reorder()
        self._frame = SAMPLES_PER_FRAME  # bytes per caller packet (for filling a lost one)
        self.foreign = 0  # packets dropped: not from the caller's address
        self.relay: relay.Relay | None = None  # bridged to another stream (ivr.sip.relay)

    def start(self, start: ipc.StartStream, now: float) -> None:
        self.move(start.remote)
        self.payload_type = start.payload_type
        self.event_payload_type = start.event_payload_type
        self._silence = g711.silence(start.payload_type, SAMPLES_PER_FRAME)
        self.last_rx = now
        for pcm16 in self._unencoded:
            self._out.append(g711.encode(pcm16, self.payload_type))
        self._unencoded.clear()

    def queue_pcm(self, pcm16: bytes) -> None:
        """A whole prompt at once: padded to whole frames and encoded in one numpy call."""
        if not pcm16:
            return
        frames = -(-len(pcm16) // FRAME_BYTES)
        padded = pcm16 + b"\x00" * (frames * FRAME_BYTES - len(pcm16))
        if self.remote is None:
            self._unencoded.append(padded)
        else:
            self._out.append(g711.encode(padded, self.payload_type))
        self.queued += frames

    def stop_playback(self) -> None:
        self._out.clear()
        self._unencoded.clear()
        self._out_offset = 0
        self.played = self.queued

    def next_packet(self) -> bytes | None:
        """The next 20 ms packet (queued audio, else silence to keep the stream alive)."""
        if self.remote is None:
            return None
        if self.relay is not None and not self.relay.held:
            return relay.next_packet(self)
        out = self._out
        if out:
            chunk = out[0]
            offset = self._out_offset
            payload = chunk[offset : offset + SAMPLES_PER_FRAME]
            offset += SAMPLES_PER_FRAME
            if offset >= len(chunk):
                out.popleft()
                offset = 0
            self._out_offset = offset
            self.played += 1
        else:
            payload = self._silence
        packet = rtp.build(self.payload_type, self._sequence, self._timestamp, self._ssrc, payload)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + SAMPLES_PER_FRAME) & 0xFFFFFFFF
        return packet

    def on_datagram(self, data: bytes, source: tuple[str, int], now: float) -> str | None:
        """Take one datagram; returns a DTMF key when it starts a new RFC 2833 event.

        Only the negotiated peer is heard (``_may_latch``); audio goes through ``Reorder``.
        """
        latch = source != self._peer
        if latch and not self._may_latch(source, data):
            return None
        key = None
        payload_type = data[1] & 0x7F if len(data) > 12 else -1
        if payload_type in (g711.PCMU, g711.PCMA) and data[0] == 0x80:
            # The common case (no CSRC, extension or padding) without building an RtpPacket.
            sequence = (data[2] << 8) | data[3]
            ssrc = int.from_bytes(data[8:12], "big")
            payload = data[12:]
        else:
            try:
                packet = rtp.parse(data)
            except rtp.RtpError as exc:
                log.debug("RTP port %d: dropped packet: %s", self.port, exc)
                return None
            payload_type, payload = packet.payload_type, packet.payload
            sequence, ssrc = packet.sequence, packet.ssrc
            if payload_type == self.event_payload_type:
                key = self._on_event(packet)
                payload = b""  # keeps its place in the sequence, adds no audio
            elif payload_type not in (g711.PCMU, g711.PCMA):
                return None
        self.last_rx = now
        if self.relay is not None:
            relay.forward(self, data)
        if latch:
            self._peer = source  # only once the packet is real RTP
        if ssrc != self._in_ssrc:
            if self._in_ssrc is not None:
                self._take(self._reorder.reset())
            self._in_ssrc = ssrc
            self._in_ssrc_bytes = ssrc.to_bytes(4, "big")
        self._take(self._reorder.push(sequence, (payload_type, payload), now))
        return key

    def move(self, remote: tuple[str, int]) -> None:
        self.remote, self._peer = remote, None  # (re-)INVITE: latch again to the new address

    def _may_latch(self, source: tuple[str, int], data: bytes) -> bool:
        """Only the SDP's address is heard; its first packet latches the source port, and
        another port of that address takes over only with a new SSRC (a new stream)."""
        ours = self.remote is not None and source[0] == self.remote[0]
        if ours and (self._peer is None or data[8:12] != self._in_ssrc_bytes):
            return True
        if not self.foreign:  # once per call: a caller behind NAT shows up here, not silently
            log.warning("RTP port %d: not heard: %s (SDP %s)", self.port, source, self.remote)
        self.foreign += 1
        return False

    def _take(self, items: list[tuple[int, bytes] | None]) -> None:
        for item in items:
            if item is None:  # a lost packet: silence of the same length keeps the timing
                self._decode_raw()
                self._pcm.append(bytes(2 * self._frame))
                continue
            payload_type, payload = item
            if not payload:
                continue
            if payload_type != self._raw_pt:
                self._decode_raw()
                self._raw_pt = payload_type
            self._raw.append(payload)
            self._frame = len(payload)

    def _on_event(self, packet: rtp.RtpPacket) -> str | None:
        try:
            event = rtp.parse_telephone_event(packet.payload)
        except rtp.RtpError as exc:
            log.debug("RTP port %d: bad telephone-event: %s", self.port, exc)
            return None
        key = (packet.ssrc, packet.timestamp)  # one event = one timestamp, sent several times
        if event.key is None or key in self._seen_events:
            return None
        self._seen_events.append(key)
        return event.key

    def _decode_raw(self) -> None:
        if self._raw:
            self._pcm.append(g711.decode(b"".join(self._raw), self._raw_pt))
            self._raw.clear()

    def take_report(self, now: float | None = None) -> ipc.StreamReport | None:
        """Caller audio since the last report and the playback watermark, if anything changed."""
        if now is not None and self._reorder.holding:
            self._take(self._reorder.flush(now))
        self._decode_raw()
        watermark = (self.played, self.queued)
        if not self._pcm and watermark == self._reported:
            return None
        pcm = b"".join(self._pcm)
        self._pcm.clear()
        self._reported = watermark
        return ipc.StreamReport(self.stream_id, self.played, self.queued, pcm)

    def close(self) -> None:
        self.sock.close()
