"""RTP media for every call of a node: one shared receiver thread and one shared pacing thread.

pyVoIP runs two threads per RTP stream and decodes to 8-bit audio; at 150+ calls that is 300+
threads fighting for the GIL. Here all sockets share a selector (receiver) and one clock (pacer)
that sends one 20 ms frame per stream per tick, on an absolute schedule so late ticks catch up
instead of drifting.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass

import numpy as np

from ivr.channel import FRAME_BYTES, FRAME_MS, SAMPLE_RATE
from ivr.sip import g711, rtp

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000
MAX_INBOUND_SECONDS = 120  # caller audio kept when the flow does not read it (bounded memory)
MAX_INBOUND_FRAMES = MAX_INBOUND_SECONDS * 1000 // FRAME_MS
_JITTER_BINS = 2000  # send-interval histogram, 0.1 ms bins up to 200 ms


class NoPortsAvailable(RuntimeError):
    """Every RTP port of the configured range is in use."""


@dataclass
class SendStats:
    """Histogram of the interval between consecutive packets of the same stream, in 0.1 ms bins."""

    histogram: np.ndarray

    def percentile_ms(self, q: float) -> float:
        total = int(self.histogram.sum())
        if not total:
            return float("nan")
        index = int(np.searchsorted(np.cumsum(self.histogram), q / 100 * total))
        return index / 10

    @property
    def count(self) -> int:
        return int(self.histogram.sum())


class MediaStream:
    """One call's RTP socket, outbound frame queue, inbound PCM buffer and DTMF keys."""

    def __init__(self, sock: socket.socket, port: int) -> None:
        self.sock = sock
        self.port = port
        self.remote: tuple[str, int] | None = None
        self.payload_type = g711.PCMU
        self.event_payload_type: int | None = None
        self.outbound: collections.deque[bytes] = collections.deque()
        # Lock-free hand-over to the call thread: deque append/popleft are atomic, and the reader
        # polls every 20 ms (measured: a Condition per call cost 3x the CPU at 150 calls).
        self.inbound: collections.deque[bytes] = collections.deque(maxlen=MAX_INBOUND_FRAMES)
        self.dtmf: collections.deque[str] = collections.deque()
        self.closed = False
        self.last_rx = time.monotonic()
        self.packets_in = 0
        self.packets_out = 0
        self._seen_events: collections.deque[tuple[int, int]] = collections.deque(maxlen=16)
        self._sequence = random.randrange(1 << 16)
        self._timestamp = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)
        self._last_sent: float | None = None
        self._silence = b""

    def start(self, remote: tuple[str, int], payload_type: int, event_pt: int | None) -> None:
        self.remote = remote
        self.payload_type = payload_type
        self.event_payload_type = event_pt
        self._silence = g711.silence(payload_type, SAMPLES_PER_FRAME)
        self.last_rx = time.monotonic()

    def queue_pcm(self, pcm16: bytes) -> None:
        if self.closed:
            return
        for start in range(0, len(pcm16), FRAME_BYTES):
            frame = pcm16[start : start + FRAME_BYTES]
            if len(frame) < FRAME_BYTES:
                frame = frame + b"\x00" * (FRAME_BYTES - len(frame))
            self.outbound.append(frame)

    def next_packet(self) -> bytes | None:
        """The next 20 ms packet to send (queued audio, else silence to keep the stream alive)."""
        if self.remote is None or self.closed:
            return None
        outbound = self.outbound
        payload = g711.encode(outbound.popleft(), self.payload_type) if outbound else self._silence
        packet = rtp.build(self.payload_type, self._sequence, self._timestamp, self._ssrc, payload)
        self._sequence += 1
        self._timestamp += SAMPLES_PER_FRAME
        return packet

    def on_datagram(self, data: bytes) -> None:
        payload_type = data[1] & 0x7F if len(data) > 12 else -1
        if payload_type in (g711.PCMU, g711.PCMA) and data[0] == 0x80:
            # The common case (no CSRC, extension or padding) without building an RtpPacket.
            payload = data[12:]
        else:
            try:
                packet = rtp.parse(data)
            except rtp.RtpError as exc:
                log.debug("RTP port %d: dropped packet: %s", self.port, exc)
                return
            payload_type, payload = packet.payload_type, packet.payload
            if payload_type == self.event_payload_type:
                self.last_rx = time.monotonic()
                self._on_event(packet)
                return
        self.last_rx = time.monotonic()
        self.packets_in += 1
        if payload_type in (g711.PCMU, g711.PCMA):
            self.inbound.append(g711.decode(payload, payload_type))

    def _on_event(self, packet: rtp.RtpPacket) -> None:
        try:
            event = rtp.parse_telephone_event(packet.payload)
        except rtp.RtpError as exc:
            log.debug("RTP port %d: bad telephone-event: %s", self.port, exc)
            return
        key = (packet.ssrc, packet.timestamp)  # one event = one timestamp, sent several times
        if event.key is None or key in self._seen_events:
            return
        self._seen_events.append(key)
        self.dtmf.append(event.key)

    def take_inbound(self) -> bytes:
        chunks = []
        with contextlib.suppress(IndexError):
            while True:
                chunks.append(self.inbound.popleft())
        return b"".join(chunks)

    def close(self) -> None:
        self.closed = True
        self.outbound.clear()
        self.sock.close()


class MediaEngine:
    """Allocates RTP ports and runs the shared receiver and pacer threads."""

    def __init__(self, bind_ip: str, port_low: int, port_high: int, name: str = "media") -> None:
        self.name = name
        if port_low > port_high:
            raise ValueError(f"RTP port range {port_low}-{port_high} is empty")
        self.bind_ip = bind_ip
        # Even ports only: RTP convention, leaving port+1 for RTCP.
        self._free = list(range(port_low + port_low % 2, port_high + 1, 2))
        random.shuffle(self._free)
        self._lock = threading.Lock()
        self._streams: dict[int, MediaStream] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._running = threading.Event()
        self._threads: list[threading.Thread] = []
        self._histogram = [0] * (_JITTER_BINS + 1)  # a list: cheaper to bump than numpy
        self.late_ticks = 0

    @property
    def ports_in_use(self) -> int:
        with self._lock:
            return len(self._streams)

    def start(self) -> None:
        self._running.set()
        for target, role in ((self._receive_loop, "rtp-receive"), (self._pace_loop, "rtp-pacer")):
            thread = threading.Thread(target=target, name=f"{role}[{self.name}]", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._running.clear()
        self._wake()
        for thread in self._threads:
            thread.join(timeout=2)
        with self._lock:
            streams = list(self._streams.values())
        for stream in streams:
            self.release(stream)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def allocate(self) -> MediaStream:
        with self._lock:
            for _ in range(len(self._free)):
                port = self._free.pop(0)
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    sock.bind((self.bind_ip, port))
                except OSError:
                    sock.close()
                    self._free.append(port)  # taken by someone else: try it again later
                    continue
                sock.setblocking(False)
                stream = MediaStream(sock, port)
                self._streams[port] = stream
                self._selector.register(sock, selectors.EVENT_READ, stream)
                return stream
        raise NoPortsAvailable("no free RTP port in the configured range")

    def release(self, stream: MediaStream) -> None:
        with self._lock:
            if self._streams.pop(stream.port, None) is None:
                return
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(stream.sock)
            stream.close()
            self._free.append(stream.port)
        self._wake()

    def send_stats(self) -> SendStats:
        return SendStats(np.array(self._histogram, dtype=np.int64))

    def reset_send_stats(self) -> None:
        self._histogram = [0] * (_JITTER_BINS + 1)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _receive_loop(self) -> None:
        while self._running.is_set():
            try:
                events = self._selector.select(timeout=0.5)
            except (OSError, ValueError):  # a socket closed under select: take a fresh look
                time.sleep(0.001)
                continue
            for key, _ in events:
                stream = key.data
                if stream is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                self._drain(stream)

    @staticmethod
    def _drain(stream: MediaStream) -> None:
        for _ in range(64):  # bounded so one flooded port cannot starve the others
            try:
                data = stream.sock.recv(2048)
            except (BlockingIOError, OSError):
                return
            try:
                stream.on_datagram(data)
            except Exception:  # one bad packet must never stop the receiver for every call
                log.exception("RTP port %d: packet handling failed", stream.port)

    def _pace_loop(self) -> None:
        next_tick = time.monotonic()
        while self._running.is_set():
            next_tick += FRAME_SECONDS
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -5 * FRAME_SECONDS:
                # Far behind (machine stalled): skip ahead rather than burst old audio.
                self.late_ticks += 1
                next_tick = time.monotonic()
            with self._lock:
                streams = list(self._streams.values())
            now = time.monotonic()
            for stream in streams:
                self._send_one(stream, now)

    def _send_one(self, stream: MediaStream, now: float) -> None:
        try:
            packet = stream.next_packet()
            if packet is None or stream.remote is None:
                return
            stream.sock.sendto(packet, stream.remote)
        except OSError as exc:  # closed by a hang-up between listing and sending, or ICMP
            log.debug("RTP port %d: send failed: %s", stream.port, exc)
            return
        stream.packets_out += 1
        if stream._last_sent is not None:
            bin_index = min(int((now - stream._last_sent) * 10_000), _JITTER_BINS)
            self._histogram[bin_index] += 1
        stream._last_sent = now
