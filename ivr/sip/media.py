"""The media process: RTP for every call of a node, in one thread of its own process.

One loop owns every RTP socket and the clock (in the node's process the 20 ms pacer waited up to
84 ms for the GIL): one frame per stream per tick on an absolute schedule, caller audio heard
only from the SDP's peer (latched), put back in order with lost packets filled (``reorder``),
RFC 2833 keys, silent callers; one Unix socket to the node (``ivr.sip.ipc``) with prompts in
whole and every call's audio per 40 ms. It exits when the node's end closes or the node dies.
"""

from __future__ import annotations

import array
import collections
import contextlib
import logging
import os
import random
import selectors
import signal
import socket
import sys
import time
from collections.abc import Iterator

from ivr.channel import FRAME_BYTES, FRAME_MS, SAMPLE_RATE
from ivr.sip import g711, ipc, relay, rtp
from ivr.sip.ipc import Kind
from ivr.sip.loop_watch import raise_thread_priority
from ivr.sip.reorder import Reorder

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000
FLUSH_TICKS = 2  # caller audio goes to the node every 2 ticks (40 ms), all calls in one message
JITTER_BINS = 2000  # send-interval histogram, 0.1 ms bins up to 200 ms
MAX_OUTBOX = 64 << 20  # bytes waiting for a node that stopped reading: give up past this
MEDIA_NICE = -10  # the pacer before the node's threads (main, below; needs CAP_SYS_NICE)
SLICE = 50  # streams paced or reported between two looks for arrived packets (relayed at once)
_DRAIN_PER_STREAM = 64  # datagrams per stream per wake-up: one flooded port cannot starve others


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


class MediaLoop:
    """Every stream of one node, driven by a single thread: no lock and no GIL contention."""

    def __init__(self, control: socket.socket, rtp_timeout: float, parent_pid: int) -> None:
        control.setblocking(False)
        self.control = control
        self.rtp_timeout = rtp_timeout
        self.parent_pid = parent_pid
        self.streams: dict[int, RtpStream] = {}
        self.histogram = array.array("q", bytes(8 * (JITTER_BINS + 1)))
        self.late_ticks = 0
        self._selector = selectors.DefaultSelector()
        self._selector.register(control, selectors.EVENT_READ, None)
        self._reader = ipc.FrameReader()
        self._fds: collections.deque[int] = collections.deque()
        self._outbox = bytearray()
        self._running = True

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        next_tick = time.monotonic() + FRAME_SECONDS
        ticks = 0
        try:
            while self._running:
                delay = next_tick - time.monotonic()
                for key, _ in self._selector.select(max(delay, 0)):
                    if key.data is None:
                        self._read_control()
                    else:
                        self._drain(key.data)
                now = time.monotonic()
                if now < next_tick:
                    continue
                next_tick += FRAME_SECONDS
                if now - next_tick > 5 * FRAME_SECONDS:
                    # Far behind (machine stalled): skip ahead rather than burst old audio.
                    self.late_ticks += 1
                    next_tick = now + FRAME_SECONDS
                self._tick(now)
                ticks += 1
                if ticks % FLUSH_TICKS == 0:
                    self._report(now)
                if ticks % 25 == 0:
                    self._housekeeping(now)
                self._flush_outbox()
        finally:
            self._close_all()

    def _tick(self, now: float) -> None:
        histogram = self.histogram
        for stream in self._sliced():
            packet = stream.next_packet()
            if packet is None or stream.remote is None:
                continue
            try:
                stream.sock.sendto(packet, stream.remote)
            except OSError as exc:  # ICMP unreachable from a caller gone away, full buffer
                log.debug("RTP port %d: send failed: %s", stream.port, exc)
                continue
            if stream.last_sent is not None:
                histogram[min(int((now - stream.last_sent) * 10_000), JITTER_BINS)] += 1
            stream.last_sent = now

    def _drain(self, stream: RtpStream) -> None:
        now = time.monotonic()
        for _ in range(_DRAIN_PER_STREAM):
            try:
                data, source = stream.sock.recvfrom(2048)
            except OSError:  # BlockingIOError: drained; others: ICMP errors reported late
                return
            try:
                key = stream.on_datagram(data, source, now)
            except Exception:  # one bad packet must never stop the media of every call
                log.exception("RTP port %d: packet handling failed", stream.port)
                continue
            if key is not None:
                self._send(Kind.DTMF, ipc.pack_dtmf(stream.stream_id, key))

    def _sliced(self) -> Iterator[RtpStream]:
        """Every stream; every SLICE, bridged streams' arrived packets are relayed (a whole tick
        of 300 streams held them ~5 ms); the rest waits for the loop, not to delay the pacing."""
        for count, stream in enumerate(self.streams.values(), 1):
            if count % SLICE == 0:
                for key, _ in self._selector.select(0):
                    if key.data is not None and key.data.relay is not None:
                        self._drain(key.data)
            yield stream

    def _report(self, now: float) -> None:
        reports = [r for s in self._sliced() if (r := s.take_report(now)) is not None]
        if reports:
            self._send(Kind.BATCH, ipc.pack_batch(now, reports))

    def _housekeeping(self, now: float) -> None:
        if os.getppid() != self.parent_pid:
            log.error("media process: the IVR node (pid %d) is gone; exiting", self.parent_pid)
            self._running = False
            return
        for stream in self.streams.values():
            if (
                stream.remote is not None
                and not stream.timed_out
                and now - stream.last_rx > self.rtp_timeout
            ):
                stream.timed_out = True
                self._send(Kind.TIMEOUT, ipc.pack_id(stream.stream_id))

    # ------------------------------------------------------------------ the node's socket
    def _send(self, kind: Kind, payload: bytes) -> None:
        self._outbox += ipc.frame(kind, payload)
        if len(self._outbox) > MAX_OUTBOX:
            log.error("media process: the node stopped reading (%d bytes queued)", MAX_OUTBOX)
            self._running = False

    def _flush_outbox(self) -> None:
        while self._outbox:
            try:
                sent = self.control.send(self._outbox)
            except BlockingIOError:
                return  # the node reads at its pace; the rest goes on the next tick
            except OSError:
                self._running = False
                return
            del self._outbox[:sent]

    def _read_control(self) -> None:
        for _ in range(16):  # a big prompt arrives in pieces; don't hold up the next tick for it
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 18, 64)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            self._fds.extend(fds)
            if not data:
                self._running = False  # the node closed its end (or died): stop
                return
            for kind, payload in self._reader.feed(data):
                try:
                    self._on_message(kind, payload)
                except Exception:  # a bad message must not take every call's media down
                    log.exception("media process: %s message failed", kind.name)

    def _on_message(self, kind: Kind, payload: bytes) -> None:
        if kind is Kind.PLAY:
            stream_id, pcm16 = ipc.unpack_play(payload)
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.queue_pcm(pcm16)
        elif kind is Kind.STOP_PLAYBACK:
            stream = self.streams.get(ipc.unpack_id(payload))
            if stream is not None:
                stream.stop_playback()
        elif kind is Kind.OPEN:
            self._open(*ipc.unpack_open(payload))
        elif kind is Kind.START:
            start = ipc.unpack_start(payload)
            stream = self.streams.get(start.stream_id)
            if stream is not None:
                stream.start(start, time.monotonic())
        elif kind is Kind.REMOTE:
            stream_id, remote = ipc.unpack_remote(payload)
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.move(remote)
        elif kind is Kind.CLOSE:
            self._close(ipc.unpack_id(payload))
        elif kind is Kind.STATS:
            self._send(Kind.STATS_REPLY, ipc.pack_stats(self.late_ticks, self.histogram.tobytes()))
            self.histogram = array.array("q", bytes(8 * (JITTER_BINS + 1)))
        elif kind is Kind.QUIT:
            self._running = False
        elif not relay.on_message(self.streams, kind, payload):
            log.warning("media process: unexpected %s message", kind.name)

    def _open(self, stream_id: int, port: int) -> None:
        if not self._fds:
            log.error("media process: OPEN of stream %d (port %d) with no socket", stream_id, port)
            return
        sock = socket.socket(fileno=self._fds.popleft())
        sock.setblocking(False)
        stream = RtpStream(stream_id, sock, port, time.monotonic())
        self.streams[stream_id] = stream
        self._selector.register(sock, selectors.EVENT_READ, stream)

    def _close(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        relay.unbridge(stream)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(stream.sock)
        stream.close()

    def _close_all(self) -> None:
        for stream_id in list(self.streams):
            self._close(stream_id)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._flush_outbox()
        self._selector.close()
        self.control.close()


def media_main(control: socket.socket, rtp_timeout: float, parent_pid: int, log_level: int) -> None:
    """Entry point of the media process (multiprocessing 'spawn')."""
    logging.basicConfig(
        level=log_level, stream=sys.stderr, format="%(asctime)s media %(levelname)s %(message)s"
    )
    # Ctrl-C and SIGTERM reach the whole process group: the node ends its calls (BYE) and then
    # closes the socket, which ends this process; dying first would cut the callers off.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise_thread_priority(MEDIA_NICE, "media process")  # the pacer first (Asterisk's -p)
    MediaLoop(control, rtp_timeout, parent_pid).run()
