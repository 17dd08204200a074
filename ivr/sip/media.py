"""The media process: RTP for every call of a node, in one thread of its own process.

One loop owns every RTP socket and the clock (in the node's process the 20 ms pacer waited up to
84 ms for the GIL): one frame per stream per tick on an absolute schedule, each stream's caller
audio taken in by ``ivr.sip.rtp_stream``; one Unix socket to the node (``ivr.sip.ipc``) with
prompts in whole and every call's audio per 40 ms. It exits when the node's end closes or the
node dies.

Bridged streams (``relay``) have an epoll of their own, looked at first on every wake-up and
between every ``SLICE`` streams of the pacer's, the report's and the drain's work, so a relayed
packet waits for a few streams' work, not a whole tick's. The process runs at a real-time
priority (SCHED_RR, as Asterisk's ``-p``) where allowed, else at ``MEDIA_NICE``: on a loaded
machine a relayed packet then waits for no other process.
"""

from __future__ import annotations

import array
import collections
import contextlib
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from ivr.channel import FRAME_MS
from ivr.sip import ipc, relay
from ivr.sip.ipc import Kind
from ivr.sip.loop_watch import raise_thread_priority, raise_to_realtime
from ivr.sip.rtp_stream import RtpStream as RtpStream  # re-exported: the stream lived here

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
FLUSH_TICKS = 2  # caller audio goes to the node every 2 ticks (40 ms), all calls in one message
JITTER_BINS = 2000  # send-interval histogram, 0.1 ms bins up to 200 ms
MAX_OUTBOX = 64 << 20  # bytes waiting for a node that stopped reading: give up past this
MEDIA_NICE = -10  # the pacer before the node's threads (main, below; needs CAP_SYS_NICE)
# Streams paced, reported or drained between two looks at the bridged streams' epoll. At 50 (one
# look at every ready socket) the relay added p50 2 ms, p99 11-12 ms at 400 streams.
SLICE = 10
_DRAIN_PER_STREAM = 64  # datagrams per stream per wake-up: one flooded port cannot starve others
_BRIDGED = object()  # the main selector's key for the bridged streams' epoll
T = TypeVar("T")


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
        self._bridged = selectors.DefaultSelector()  # bridged streams' sockets only
        self._selector.register(self._bridged.fileno(), selectors.EVENT_READ, _BRIDGED)
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
                self._wake(next_tick - time.monotonic())
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

    def _wake(self, timeout: float) -> None:
        """Wait up to ``timeout`` for packets or the node; bridged streams' packets first."""
        ready = self._selector.select(max(timeout, 0))
        self._drain_bridged()  # relayed packets wait for no other stream
        for key in self._sliced(key for key, _ in ready):
            if key.data is None:
                self._read_control()
            elif key.data is not _BRIDGED:
                self._drain(key.data)

    def _tick(self, now: float) -> None:
        histogram = self.histogram
        for stream in self._sliced(self.streams.values()):
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

    def _sliced(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, with the bridged streams' arrived packets relayed every SLICE of them."""
        for count, item in enumerate(items, 1):
            if count % SLICE == 0:
                self._drain_bridged()
            yield item

    def _drain_bridged(self) -> None:
        for key, _ in self._bridged.select(0):
            self._drain(key.data)

    def _place(self, streams: Iterable[RtpStream]) -> None:
        """Each stream's socket in the epoll of its kind: bridged (``relay``) or not."""
        for stream in streams:
            want, other = (
                (self._bridged, self._selector)
                if stream.relay is not None
                else (self._selector, self._bridged)
            )
            if stream.sock.fileno() in want.get_map():
                continue
            with contextlib.suppress(KeyError, ValueError):
                other.unregister(stream.sock)
            want.register(stream.sock, selectors.EVENT_READ, stream)

    def _report(self, now: float) -> None:
        streams = self._sliced(self.streams.values())
        reports = [r for s in streams if (r := s.take_report(now)) is not None]
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
        elif relay.on_message(self.streams, kind, payload):
            self._place(self.streams.values())  # a bridge made or undone: its sockets move
        else:
            log.warning("media process: unexpected %s message", kind.name)

    def _open(self, stream_id: int, port: int) -> None:
        if not self._fds:
            log.error("media process: OPEN of stream %d (port %d) with no socket", stream_id, port)
            return
        sock = socket.socket(fileno=self._fds.popleft())
        sock.setblocking(False)
        stream = RtpStream(stream_id, sock, port, time.monotonic())
        self.streams[stream_id] = stream
        self._place([stream])

    def _close(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        partner = stream.relay.partner if stream.relay is not None else None
        relay.unbridge(stream)
        for selector in (self._selector, self._bridged):
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(stream.sock)
        if partner is not None and partner is not stream:
            self._place([partner])  # unbridged now: back to the main epoll
        stream.close()

    def _close_all(self) -> None:
        for stream_id in list(self.streams):
            self._close(stream_id)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._flush_outbox()
        self._selector.close()
        self._bridged.close()
        self.control.close()


def media_main(
    control: socket.socket,
    rtp_timeout: float,
    parent_pid: int,
    log_level: int,
    realtime: int = 0,
    formatter: logging.Formatter | None = None,
) -> None:
    """Entry point of the media process (multiprocessing 'spawn'). ``formatter``: the node's
    (its JSON lines when HOTLINE_LOG_FORMAT=json), so the role's log stays one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        formatter or logging.Formatter("%(asctime)s media %(levelname)s %(message)s")
    )
    logging.basicConfig(level=log_level, handlers=[handler])
    # Ctrl-C and SIGTERM reach the whole process group: the node ends its calls (BYE) and then
    # closes the socket, which ends this process; dying first would cut the callers off.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # the pacer first: a real-time priority (Asterisk's -p), else the nice
    if not (realtime and raise_to_realtime(realtime, "media process")):
        raise_thread_priority(MEDIA_NICE, "media process")
    MediaLoop(control, rtp_timeout, parent_pid).run()
